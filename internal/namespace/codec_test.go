package namespace

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"reflect"
	"testing"
	"time"

	"github.com/unifiedfs/unifiedfs/internal/inode"
	"github.com/unifiedfs/unifiedfs/ufs"
)

var modTime = time.Date(2024, 2, 29, 23, 59, 58, 123456789, time.UTC)

// sampleEntries has an entry of every op, with every kind of field set somewhere.
func sampleEntries() []*Entry {
	return []*Entry{
		{Op: OpMount, Path: "data/oss", Mount: &MountRecord{ID: 7, URI: "oss://bucket/prefix", Options: map[string]string{"fs.oss.endpoint": "http://127.0.0.1:9000", "fs.oss.accessKeySecret": "s3cr3t", "empty": ""}, ReadOnly: true, Shared: true, MTime: 1700000000123456789}},
		{Op: OpUnmount, Path: "data/oss"},
		{Op: OpCreate, Path: "a/b", Node: &NodeRecord{Dir: true, MTime: -5, Owner: "alice", Group: "staff", Mode: fs.ModeDir | 0o755, Persist: inode.NotPersisted}, Overwrite: true, ReqID: "req-1"},
		{Op: OpComplete, Path: "a/b/part-00000-c000.snappy.parquet", Node: &NodeRecord{ID: 1 << 40, Size: 1<<31 + 5, MTime: 1700000000123456789, Hash: "d41d8cd98f00b204e9800998ecf8427e", Owner: "alice", Group: "staff", Mode: 0o644, Persist: inode.ToBePersisted, Pinned: true, Shadow: true}},
		{Op: OpUpdate, Path: "a/b/c", Node: &NodeRecord{ID: 9, NewID: 10, Size: 3, Persist: inode.Persisted, Open: true}},
		{Op: OpRename, Path: "a/b", Dst: "a/ü/日本"},
		{Op: OpDelete, Path: "data", Unmount: true},
		{Op: OpLoad, Path: "a", Loaded: []ufs.Status{
			{Name: "f", Size: 12, ModTime: modTime, Owner: "o", Group: "g", Mode: 0o600, ContentHash: "etag"},
			{Name: "d", IsDir: true},
			{Name: "epoch", ModTime: time.Unix(0, 0).UTC()},
			{Name: "old", ModTime: time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC)},
		}, Complete: true, SyncedAt: 1700000000},
		{Op: OpAddSyncPoint, Path: "a"},
		{Op: OpRemoveSyncPoint, Path: "a"},
		{Op: OpAllocIDs, Path: "/", IDHigh: 1<<64 - 1, MountHigh: 1<<32 - 1},
		{Op: Op(200)}, // an op this version does not know still round-trips
	}
}

func roundTrip(t testing.TB, e *Entry) *Entry {
	t.Helper()
	b, err := Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if b[0] != binaryV1 {
		t.Fatalf("encoding starts with %#x, want the version byte %#x", b[0], binaryV1)
	}
	back, err := Unmarshal(b)
	if err != nil {
		t.Fatalf("Unmarshal(Marshal(%+v)): %v", e, err)
	}
	return back
}

func TestCodecRoundTrip(t *testing.T) {
	for _, e := range sampleEntries() {
		if back := roundTrip(t, e); !reflect.DeepEqual(back, e) {
			t.Errorf("round trip of %s:\n got %s\nwant %s", e.Op, dump(back), dump(e))
		}
	}
}

func dump(e *Entry) string {
	b, _ := json.Marshal(e)
	return string(b)
}

// fillAll sets every field of the struct v points to that the journal stores (all
// but json:"-") to a value that is not zero, and to values unlike each other's, so
// that a field the codec forgets, or stores under another's number, shows. only >= 0
// sets only the only-th such field (counting across nested structs).
func fillAll(v reflect.Value, seq *int, only int) {
	for i := 0; i < v.NumField(); i++ {
		sf := v.Type().Field(i)
		if sf.Tag.Get("json") == "-" {
			continue
		}
		f := v.Field(i)
		switch f.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Struct:
			if f.Type() != reflect.TypeOf(time.Time{}) {
				fillComposite(f, seq, only)
				continue
			}
		}
		*seq++
		if only >= 0 && *seq-1 != only {
			continue
		}
		n := uint64(*seq)
		switch f.Kind() {
		case reflect.String:
			f.SetString(fmt.Sprintf("%s-%d", sf.Name, n))
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Uint8:
			f.SetUint(n + 100)
		case reflect.Uint32:
			f.SetUint(n<<20 + 1)
		case reflect.Uint64:
			f.SetUint(n<<50 + 1)
		case reflect.Int64:
			f.SetInt(-int64(n<<40 + 3))
		case reflect.Struct: // time.Time
			f.Set(reflect.ValueOf(modTime.Add(time.Duration(n) * time.Hour)))
		default:
			panic(fmt.Sprintf("fillAll: field %s of kind %s: teach the codec and this test about it", sf.Name, f.Kind()))
		}
	}
}

func fillComposite(f reflect.Value, seq *int, only int) {
	switch f.Kind() {
	case reflect.Pointer:
		p := reflect.New(f.Type().Elem())
		before := *seq
		fillAll(p.Elem(), seq, only)
		if only < 0 || only >= before && only < *seq {
			f.Set(p)
		}
	case reflect.Slice:
		if f.Type().Elem().Kind() == reflect.String { // []string
			*seq++
			if only < 0 || *seq-1 == only {
				f.Set(reflect.ValueOf([]string{fmt.Sprint("s-", *seq), "", "third"}))
			}
			return
		}
		s := reflect.MakeSlice(f.Type(), 2, 2)
		before := *seq
		fillAll(s.Index(0), seq, only)
		*seq = before
		fillAll(s.Index(1), seq, only)
		if only < 0 || only >= before && only < *seq {
			f.Set(s)
		}
	case reflect.Map: // map[string]string
		*seq++
		if only < 0 || *seq-1 == only {
			f.Set(reflect.ValueOf(map[string]string{"a": fmt.Sprint(*seq), "": "empty key", "empty value": ""}))
		}
	default:
		panic(fmt.Sprintf("fillAll: %s: teach the codec and this test about it", f.Type()))
	}
}

// Every field of Entry, NodeRecord, MountRecord and ufs.Status that the journal stores
// survives the codec, alone and all together: a field added to one of them without a
// field number in the codec fails here.
func TestCodecEncodesEveryField(t *testing.T) {
	var all Entry
	var n int
	fillAll(reflect.ValueOf(&all).Elem(), &n, -1)
	if back := roundTrip(t, &all); !reflect.DeepEqual(back, &all) {
		t.Fatalf("every field set:\n got %s\nwant %s", dump(back), dump(&all))
	}
	if n < 48 {
		t.Fatalf("filled %d fields, expected the 48 or more that Entry and its records have", n)
	}
	for i := 0; i < n; i++ {
		var one Entry
		var seq int
		fillAll(reflect.ValueOf(&one).Elem(), &seq, i)
		if reflect.DeepEqual(one, Entry{}) {
			t.Fatalf("field %d: nothing set", i)
		}
		if back := roundTrip(t, &one); !reflect.DeepEqual(back, &one) {
			t.Errorf("field %d alone:\n got %s\nwant %s", i, dump(back), dump(&one))
		}
	}
}

// Journals written before the binary encoding hold JSON entries, and checkpoints JSON
// snapshots: both still decode, to the same entries.
func TestCodecReadsJSON(t *testing.T) {
	// As encoding/json wrote them (the previous Marshal).
	literal := map[string]*Entry{
		`{"Op":4,"Path":"a/b","Node":{"ID":7,"Size":3,"MTime":100,"Hash":"h","Owner":"u","Group":"g","Mode":420,"Persist":2,"Pinned":true}}`: {
			Op: OpComplete, Path: "a/b", Node: &NodeRecord{ID: 7, Size: 3, MTime: 100, Hash: "h", Owner: "u", Group: "g", Mode: 0o644, Persist: inode.Persisted, Pinned: true}},
		`{"Op":1,"Path":"m","Mount":{"ID":3,"URI":"kodo://b/p","Options":{"k":"v"},"Shared":true,"MTime":5}}`: {
			Op: OpMount, Path: "m", Mount: &MountRecord{ID: 3, URI: "kodo://b/p", Options: map[string]string{"k": "v"}, Shared: true, MTime: 5}},
		`{"Op":8,"Path":"d","Loaded":[{"Name":"x","IsDir":false,"Size":1,"ModTime":"2024-02-29T23:59:58.123456789Z","Owner":"","Group":"","Mode":0,"ContentHash":"e"}],"Complete":true,"SyncedAt":9}`: {
			Op: OpLoad, Path: "d", Loaded: []ufs.Status{{Name: "x", Size: 1, ModTime: modTime, ContentHash: "e"}}, Complete: true, SyncedAt: 9},
		` {"Op":11,"Path":"/","IDHigh":12,"MountHigh":2}`: {Op: OpAllocIDs, Path: "/", IDHigh: 12, MountHigh: 2},
	}
	for js, want := range literal {
		got, err := Unmarshal([]byte(js))
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("Unmarshal(%s) = %s, %v; want %s", js, dump(got), err, dump(want))
		}
	}
	var msgs []json.RawMessage
	for _, e := range sampleEntries() {
		js, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, js)
		got, err := Unmarshal(js)
		if err != nil || !reflect.DeepEqual(got, e) {
			t.Errorf("Unmarshal(%s) = %s, %v", js, dump(got), err)
		}
	}
	oldSnap, err := json.Marshal(msgs) // as the previous Snapshot wrote it
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeSnapshot(oldSnap)
	if err != nil || !reflect.DeepEqual(got, sampleEntries()) {
		t.Fatalf("JSON snapshot: %v, %d entries", err, len(got))
	}
}

func TestSnapshotEncoding(t *testing.T) {
	var raw [][]byte
	for _, e := range sampleEntries() {
		b, _ := Marshal(e)
		raw = append(raw, b)
	}
	snap := encodeSnapshot(raw)
	if snap[0] != snapshotV1 {
		t.Fatalf("snapshot starts with %#x", snap[0])
	}
	got, err := DecodeSnapshot(snap)
	if err != nil || !reflect.DeepEqual(got, sampleEntries()) {
		t.Fatalf("DecodeSnapshot: %v, %d entries", err, len(got))
	}
	if got, err := DecodeSnapshot([]byte{snapshotV1}); err != nil || len(got) != 0 {
		t.Fatalf("empty snapshot: %v, %v", got, err)
	}
	for _, bad := range [][]byte{nil, {0x7f}, snap[:len(snap)-1], append([]byte{snapshotV1, 5}, raw[0][:4]...), []byte("[{]")} {
		if _, err := DecodeSnapshot(bad); !errors.Is(err, ErrBadEntry) {
			t.Errorf("DecodeSnapshot(%q): %v, want ErrBadEntry", bad, err)
		}
	}
	// A state's snapshot decodes and rebuilds the state.
	s := newState(t)
	mustApply(t, s, &Entry{Op: OpCreate, Path: "d", Node: dir(inode.NotPersisted)})
	mustApply(t, s, &Entry{Op: OpComplete, Path: "d/f", Node: file(5, inode.NotPersisted)})
	want := snapshot(t, s)
	entries, err := DecodeSnapshot(want)
	if err != nil {
		t.Fatal(err)
	}
	restored := newState(t)
	for _, e := range entries {
		if _, err := restored.Apply(e); err != nil {
			t.Fatalf("restore %s %s: %v", e.Op, e.Path, err)
		}
	}
	if got := snapshot(t, restored); !bytes.Equal(got, want) {
		t.Fatal("restored state's snapshot differs")
	}
}

// Fields a decoder does not know (written by a later version) are skipped.
func TestCodecSkipsUnknownFields(t *testing.T) {
	e := sampleEntries()[3] // OpComplete with a node
	b, _ := Marshal(e)
	b = appendUint(b, 99, 12345)
	b = appendString(b, 100, "a later field")
	// And one inside the node: rebuild it with an extra field.
	node := appendNode(nil, e.Node)
	node = appendString(node, 50, "later node field")
	node = appendUint(node, 51, 1)
	c := appendEntry([]byte{binaryV1}, &Entry{Op: e.Op, Path: e.Path})
	c = binary.AppendUvarint(appendKey(c, 4, wireBytes), uint64(len(node)))
	c = append(c, node...)
	for _, data := range [][]byte{b, c} {
		got, err := Unmarshal(data)
		if err != nil || !reflect.DeepEqual(got, e) {
			t.Errorf("with unknown fields: %s, %v; want %s", dump(got), err, dump(e))
		}
	}
}

func TestCodecRejectsBadInput(t *testing.T) {
	good, _ := Marshal(sampleEntries()[3])
	v := func(parts ...[]byte) []byte { return append([]byte{binaryV1}, bytes.Join(parts, nil)...) }
	key := func(field, wire int) []byte { return appendKey(nil, field, wire) }
	for name, data := range map[string][]byte{
		"empty":               {},
		"unknown version":     {0x02, 0x08, 0x01},
		"not json":            []byte("{not json"),
		"truncated":           good[:len(good)-3],
		"truncated varint":    v(key(11, wireVarint), []byte{0xff}),
		"field number 0":      v([]byte{0x00, 0x01}),
		"wire type 1":         v(key(1, 1), make([]byte, 8)),
		"length past the end": v(key(2, wireBytes), []byte{0x10, 'a'}),
		"path as a varint":    v(key(2, wireVarint), []byte{0x01}),
		"op as bytes":         v(key(1, wireBytes), []byte{0x01, 0x04}),
		"op 256":              v(key(1, wireVarint), binary.AppendUvarint(nil, 256)),
		"bool 2":              v(key(6, wireVarint), []byte{0x02}),
		"mount high 2^32":     v(key(12, wireVarint), binary.AppendUvarint(nil, 1<<32)),
		"node not a message":  v(key(4, wireBytes), []byte{0x02, 0x08, 0x05}), // bool Dir = 5
		"nanos 1e9":           v(key(8, wireBytes), []byte{0x05}, appendUint(nil, 5, 1e9)),
		"option without value": v(key(5, wireBytes), []byte{0x05}, key(3, wireBytes), []byte{0x02},
			appendKey(nil, 1, wireBytes), []byte{0x00}),
	} {
		if _, err := Unmarshal(data); !errors.Is(err, ErrBadEntry) {
			t.Errorf("%s (% x): %v, want ErrBadEntry", name, data, err)
		}
	}
}

// Equal entries encode to equal bytes (snapshots are compared byte by byte).
func TestCodecDeterministic(t *testing.T) {
	opts := map[string]string{}
	for i := range 50 {
		opts[fmt.Sprintf("key-%d", i*7%50)] = fmt.Sprint(i)
	}
	e := &Entry{Op: OpMount, Path: "m", Mount: &MountRecord{ID: 2, URI: "s3://b/", Options: opts}}
	first, _ := Marshal(e)
	for range 20 {
		if b, _ := Marshal(e); !bytes.Equal(b, first) {
			t.Fatal("two encodings of one entry differ")
		}
	}
	// A long nested message (its length takes two bytes) round-trips.
	if back := roundTrip(t, e); !reflect.DeepEqual(back, e) {
		t.Fatal("mount with 50 options did not round-trip")
	}
}

// Unmarshal never panics, and what it decodes re-encodes to an entry that decodes the
// same (the canonical form is stable).
func FuzzUnmarshal(f *testing.F) {
	for _, e := range sampleEntries() {
		b, _ := Marshal(e)
		f.Add(b)
		js, _ := json.Marshal(e)
		f.Add(js)
	}
	f.Add([]byte{binaryV1})
	f.Add([]byte{binaryV1, 0x22, 0x80, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := Unmarshal(data)
		if err != nil {
			if !errors.Is(err, ErrBadEntry) {
				t.Fatalf("error %v does not wrap ErrBadEntry", err)
			}
			return
		}
		if data[0] == binaryV1 {
			// JSON may hold what the binary form normalises (time zones, an empty
			// list): compare binary decodes only.
			if back := roundTrip(t, e); !reflect.DeepEqual(back, e) {
				t.Fatalf("decoded %s, re-decoded %s", dump(e), dump(back))
			}
		}
		if _, err := DecodeSnapshot(data); err != nil && !errors.Is(err, ErrBadEntry) {
			t.Fatalf("DecodeSnapshot error %v does not wrap ErrBadEntry", err)
		}
	})
}

// Marshal then Unmarshal gives the entry back, for entries built from fuzzed values.
func FuzzRoundTrip(f *testing.F) {
	f.Add(uint8(4), "a/b", "", "hash", "k", "v", int64(1), int64(-1), uint64(7), uint32(3), uint32(0o644), uint8(0x55), int64(1700000000), int32(5))
	f.Add(uint8(8), "", "x", "", "", "", int64(0), int64(0), uint64(0), uint32(0), uint32(0), uint8(0), int64(0), int32(0))
	f.Fuzz(func(t *testing.T, op uint8, path, dst, hash, k, v string, size, mtime int64, id uint64, mid, mode uint32, bits uint8, sec int64, nsec int32) {
		b := func(i int) bool { return bits&(1<<i) != 0 }
		e := &Entry{Op: Op(op), Path: path, Dst: dst, Overwrite: b(0), Unmount: b(1), Complete: b(2), SyncedAt: mtime, IDHigh: id, MountHigh: mid, ReqID: k}
		if b(3) {
			e.Node = &NodeRecord{Dir: b(4), ID: id, NewID: ^id, Size: size, MTime: mtime, Hash: hash, Owner: k, Group: v, Mode: fs.FileMode(mode),
				Persist: inode.PersistState(bits), Open: b(5), Pinned: b(6), Shadow: b(7)}
		}
		if b(4) {
			e.Mount = &MountRecord{ID: mid, URI: dst, ReadOnly: b(5), Shared: b(6), MTime: size}
			if k != "" || v != "" {
				e.Mount.Options = map[string]string{k: v, v + "/": ""}
			}
		}
		if b(5) {
			var t time.Time
			if sec != 0 || nsec != 0 {
				t = time.Unix(sec, int64(uint32(nsec)%1e9)).UTC()
			}
			e.Loaded = []ufs.Status{{Name: path, IsDir: b(6), Size: size, ModTime: t, Owner: k, Group: v, Mode: fs.FileMode(mode), ContentHash: hash}, {}}
		}
		if back := roundTrip(t, e); !reflect.DeepEqual(back, e) {
			t.Fatalf("round trip:\n got %s\nwant %s", dump(back), dump(e))
		}
	})
}

func benchEntry() *Entry {
	return &Entry{Op: OpComplete, Path: "w3/f123", Node: &NodeRecord{ID: 123456, MTime: 1700000000123456789, Owner: "alice", Group: "staff", Mode: 0o644, Persist: inode.NotPersisted, Pinned: true}}
}

func BenchmarkMarshal(b *testing.B) {
	e := benchEntry()
	b.Run("binary", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			Marshal(e)
		}
	})
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			json.Marshal(e)
		}
	})
}

func BenchmarkUnmarshal(b *testing.B) {
	e := benchEntry()
	bin, _ := Marshal(e)
	js, _ := json.Marshal(e)
	for name, data := range map[string][]byte{"binary": bin, "json": js} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Unmarshal(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
