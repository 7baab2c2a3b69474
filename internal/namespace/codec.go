package namespace

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"slices"
	"time"

	"github.com/unifiedfs/unifiedfs/internal/inode"
	"github.com/unifiedfs/unifiedfs/ufs"
)

// The journal encoding of an Entry, and of a snapshot.
//
// An entry is one version byte, binaryV1 (0x01: JSON, which older journals hold,
// always starts with '{' or white space, never with a control byte), then its fields as
// tagged values, as protocol buffers do: a uvarint key (field number << 3 | wire type),
// then the value. Wire type 0 is a uvarint (bools are 1; signed integers zigzag-encoded),
// wire type 2 a uvarint length and that many bytes (a string, or a nested message in
// the same field encoding, repeated for lists). Fields are written in ascending number
// order and only when not zero (as JSON's omitempty; an empty list or map is absent),
// map entries in key order, so the encoding is deterministic.
//
//	Entry        1 Op  2 Path  3 Dst  4 Node (NodeRecord)  5 Mount (MountRecord)
//	             6 Overwrite  7 Unmount  8 Loaded (Status, repeated)  9 Complete
//	             10 SyncedAt (zigzag)  11 IDHigh  12 MountHigh  13 ReqID
//	             14 Reqs (repeated)  15 Attr (AttrRecord)  16 Targets (repeated)
//	NodeRecord   1 Dir  2 ID  3 NewID  4 Size (zigzag)  5 MTime (zigzag)  6 Hash
//	             7 Owner  8 Group  9 Mode  10 Persist  11 Open  12 Pinned  13 Shadow
//	             14 Holder
//	AttrRecord   1 Set  2 TTL (zigzag)  3 TTLBase (zigzag)  4 TTLAction  5 Pinned
//	             6 Mode  7 Owner  8 Group
//	MountRecord  1 ID  2 URI  3 Options (repeated: 1 key, 2 value)  4 ReadOnly
//	             5 Shared  6 MTime (zigzag)
//	Status       1 Name  2 IsDir  3 Size (zigzag)  4 ModTime's seconds since
//	             January 1, year 1 UTC (zigzag; so that only the zero time is 0)
//	             5 ModTime's nanoseconds  6 Owner  7 Group  8 Mode  9 ContentHash
//
// Adding a field: give it the next unused number of its message and wire type 0 or 2,
// and encode it only when it is not zero. Older decoders skip fields they do not know
// (by their wire type), so new journals stay readable by them as far as the old
// fields go; a field an older reader must not ignore needs a new version byte instead.
// Never renumber or reuse a field number, never change a field's wire type. Decoded
// times are in UTC (JSON kept the zone offset; the instant is the same).
//
// A snapshot is the version byte snapshotV1 (0x01; older JSON snapshots start with
// '['), then its entries, each as a uvarint length and the entry's encoding.

// ErrBadEntry is wrapped by the errors of Unmarshal and DecodeSnapshot for data that is
// not an entry (or snapshot) they can decode.
var ErrBadEntry = errors.New("namespace: malformed journal entry")

const (
	binaryV1   = 0x01 // first byte of an entry in the binary encoding
	snapshotV1 = 0x01 // first byte of a binary snapshot

	wireVarint = 0
	wireBytes  = 2

	// unixToInternal is the number of seconds from January 1, year 1 to the Unix epoch:
	// time.Time's zero is that instant.
	unixToInternal int64 = (1969*365 + 1969/4 - 1969/100 + 1969/400) * 86400
)

// marshalBinary returns e's binary encoding.
func marshalBinary(e *Entry) []byte {
	b := make([]byte, 0, 64+len(e.Path)+len(e.Dst)+len(e.ReqID))
	b = append(b, binaryV1)
	return appendEntry(b, e)
}

func appendEntry(b []byte, e *Entry) []byte {
	b = appendUint(b, 1, uint64(e.Op))
	b = appendString(b, 2, e.Path)
	b = appendString(b, 3, e.Dst)
	if e.Node != nil {
		start := len(b)
		b = appendNode(startMessage(b, 4), e.Node)
		b = endMessage(b, start)
	}
	if e.Mount != nil {
		start := len(b)
		b = appendMount(startMessage(b, 5), e.Mount)
		b = endMessage(b, start)
	}
	b = appendBool(b, 6, e.Overwrite)
	b = appendBool(b, 7, e.Unmount)
	for i := range e.Loaded {
		start := len(b)
		b = appendStatus(startMessage(b, 8), &e.Loaded[i])
		b = endMessage(b, start)
	}
	b = appendBool(b, 9, e.Complete)
	b = appendInt(b, 10, e.SyncedAt)
	b = appendUint(b, 11, e.IDHigh)
	b = appendUint(b, 12, uint64(e.MountHigh))
	b = appendString(b, 13, e.ReqID)
	for _, r := range e.Reqs {
		b = appendBytesField(b, 14, r) // present even when empty: the list keeps its length
	}
	if e.Attr != nil {
		start := len(b)
		b = appendAttr(startMessage(b, 15), e.Attr)
		b = endMessage(b, start)
	}
	for _, t := range e.Targets {
		b = appendBytesField(b, 16, t)
	}
	return b
}

func appendAttr(b []byte, a *AttrRecord) []byte {
	b = appendUint(b, 1, uint64(a.Set))
	b = appendInt(b, 2, a.TTL)
	b = appendInt(b, 3, a.TTLBase)
	b = appendUint(b, 4, uint64(a.TTLAction))
	b = appendBool(b, 5, a.Pinned)
	b = appendUint(b, 6, uint64(a.Mode))
	b = appendString(b, 7, a.Owner)
	return appendString(b, 8, a.Group)
}

func decodeAttr(parent, d *decoder) *AttrRecord {
	a := &AttrRecord{}
	for d.next() {
		switch d.field {
		case 1:
			a.Set = uint32(d.upTo(math.MaxUint32))
		case 2:
			a.TTL = d.int()
		case 3:
			a.TTLBase = d.int()
		case 4:
			a.TTLAction = uint8(d.upTo(math.MaxUint8))
		case 5:
			a.Pinned = d.bool()
		case 6:
			a.Mode = fs.FileMode(d.upTo(math.MaxUint32))
		case 7:
			a.Owner = d.string()
		case 8:
			a.Group = d.string()
		}
	}
	parent.adopt(d)
	return a
}

func appendNode(b []byte, n *NodeRecord) []byte {
	b = appendBool(b, 1, n.Dir)
	b = appendUint(b, 2, n.ID)
	b = appendUint(b, 3, n.NewID)
	b = appendInt(b, 4, n.Size)
	b = appendInt(b, 5, n.MTime)
	b = appendString(b, 6, n.Hash)
	b = appendString(b, 7, n.Owner)
	b = appendString(b, 8, n.Group)
	b = appendUint(b, 9, uint64(n.Mode))
	b = appendUint(b, 10, uint64(n.Persist))
	b = appendBool(b, 11, n.Open)
	b = appendBool(b, 12, n.Pinned)
	b = appendBool(b, 13, n.Shadow)
	return appendString(b, 14, n.Holder)
}

func appendMount(b []byte, m *MountRecord) []byte {
	b = appendUint(b, 1, uint64(m.ID))
	b = appendString(b, 2, m.URI)
	if len(m.Options) > 0 {
		keys := make([]string, 0, len(m.Options))
		for k := range m.Options {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			start := len(b)
			b = startMessage(b, 3)
			// Both always present: an option may be set to "".
			b = appendBytesField(b, 1, k)
			b = appendBytesField(b, 2, m.Options[k])
			b = endMessage(b, start)
		}
	}
	b = appendBool(b, 4, m.ReadOnly)
	b = appendBool(b, 5, m.Shared)
	return appendInt(b, 6, m.MTime)
}

func appendStatus(b []byte, s *ufs.Status) []byte {
	b = appendString(b, 1, s.Name)
	b = appendBool(b, 2, s.IsDir)
	b = appendInt(b, 3, s.Size)
	if !s.ModTime.IsZero() {
		b = appendInt(b, 4, s.ModTime.Unix()+unixToInternal)
		b = appendUint(b, 5, uint64(s.ModTime.Nanosecond()))
	}
	b = appendString(b, 6, s.Owner)
	b = appendString(b, 7, s.Group)
	b = appendUint(b, 8, uint64(s.Mode))
	return appendString(b, 9, s.ContentHash)
}

func appendKey(b []byte, field, wire int) []byte {
	return binary.AppendUvarint(b, uint64(field)<<3|uint64(wire))
}

// appendUint appends field = v unless v is zero.
func appendUint(b []byte, field int, v uint64) []byte {
	if v == 0 {
		return b
	}
	return binary.AppendUvarint(appendKey(b, field, wireVarint), v)
}

func appendInt(b []byte, field int, v int64) []byte {
	return appendUint(b, field, uint64(v<<1)^uint64(v>>63)) // zigzag
}

func appendBool(b []byte, field int, v bool) []byte {
	if !v {
		return b
	}
	return append(appendKey(b, field, wireVarint), 1)
}

// appendString appends field = s unless s is empty.
func appendString(b []byte, field int, s string) []byte {
	if s == "" {
		return b
	}
	return appendBytesField(b, field, s)
}

func appendBytesField(b []byte, field int, s string) []byte {
	b = binary.AppendUvarint(appendKey(b, field, wireBytes), uint64(len(s)))
	return append(b, s...)
}

// startMessage appends the key of a nested message and one byte for its length, which
// endMessage fills in (start is len(b) before startMessage).
func startMessage(b []byte, field int) []byte {
	return append(appendKey(b, field, wireBytes), 0)
}

// endMessage writes the length of the message whose key starts at b[start], widening
// the length byte startMessage reserved when the message is 128 bytes or more.
func endMessage(b []byte, start int) []byte {
	at := start
	for b[at]&0x80 != 0 { // skip the key
		at++
	}
	at++
	n := len(b) - at - 1
	if n < 0x80 {
		b[at] = byte(n)
		return b
	}
	var lenBuf [binary.MaxVarintLen64]byte
	w := binary.PutUvarint(lenBuf[:], uint64(n))
	b = append(b, lenBuf[:w-1]...) // room for the wider length
	copy(b[at+w:], b[at+1:at+1+n])
	copy(b[at:], lenBuf[:w])
	return b
}

// decoder reads the fields of one message.
type decoder struct {
	b   []byte
	msg string // the message's name, for errors
	err error

	// The current field (set by next).
	field, wire int
	v           uint64 // wire type 0
	data        []byte // wire type 2
}

// next reads the next field; false at the end of the message or on an error (d.err).
func (d *decoder) next() bool {
	if len(d.b) == 0 || d.err != nil {
		return false
	}
	d.field = 0
	key, n := binary.Uvarint(d.b)
	if n <= 0 || key>>3 == 0 || key>>3 > math.MaxInt32 {
		return d.fail("bad field key")
	}
	d.b = d.b[n:]
	d.field, d.wire = int(key>>3), int(key&7)
	switch d.wire {
	case wireVarint:
		if d.v, n = binary.Uvarint(d.b); n <= 0 {
			return d.fail("bad varint")
		}
		d.b = d.b[n:]
	case wireBytes:
		l, n := binary.Uvarint(d.b)
		if n <= 0 || l > uint64(len(d.b)-n) {
			return d.fail("bad length")
		}
		d.data = d.b[n : n+int(l)]
		d.b = d.b[n+int(l):]
	default:
		return d.fail("unknown wire type %d", d.wire)
	}
	return true
}

// fail records an error about the current field and returns false.
func (d *decoder) fail(format string, args ...any) bool {
	if d.err == nil {
		where := d.msg
		if d.field != 0 {
			where = fmt.Sprintf("%s field %d", d.msg, d.field)
		}
		d.err = fmt.Errorf("%w: %s: %s", ErrBadEntry, where, fmt.Sprintf(format, args...))
	}
	return false
}

// uint returns the current field's varint, failing when it has another wire type.
func (d *decoder) uint() uint64 {
	if d.wire != wireVarint {
		d.fail("wire type %d, want %d", d.wire, wireVarint)
		return 0
	}
	return d.v
}

func (d *decoder) int() int64 {
	v := d.uint()
	return int64(v>>1) ^ -int64(v&1) // zigzag
}

func (d *decoder) bool() bool {
	v := d.uint()
	if v > 1 {
		d.fail("%d is not a bool", v)
	}
	return v == 1
}

// upTo returns the current field's varint, failing when it exceeds limit.
func (d *decoder) upTo(limit uint64) uint64 {
	v := d.uint()
	if v > limit {
		d.fail("%d out of range", v)
		return 0
	}
	return v
}

// bytes returns the current field's data, failing when it has another wire type.
func (d *decoder) bytes() []byte {
	if d.wire != wireBytes {
		d.fail("wire type %d, want %d", d.wire, wireBytes)
		return nil
	}
	return d.data
}

func (d *decoder) string() string { return string(d.bytes()) }

// sub returns a decoder of the current field's nested message.
func (d *decoder) sub(msg string) *decoder { return &decoder{b: d.bytes(), msg: msg} }

// Fields a decoder does not know are skipped: next has read past them.

// unmarshalBinary decodes the binary form of an entry (after its version byte).
func unmarshalBinary(b []byte) (*Entry, error) {
	e := &Entry{}
	d := &decoder{b: b, msg: "entry"}
	for d.next() {
		switch d.field {
		case 1:
			e.Op = Op(d.upTo(math.MaxUint8))
		case 2:
			e.Path = d.string()
		case 3:
			e.Dst = d.string()
		case 4:
			e.Node = decodeNode(d, d.sub("node"))
		case 5:
			e.Mount = decodeMount(d, d.sub("mount"))
		case 6:
			e.Overwrite = d.bool()
		case 7:
			e.Unmount = d.bool()
		case 8:
			e.Loaded = append(e.Loaded, decodeStatus(d, d.sub("status")))
		case 9:
			e.Complete = d.bool()
		case 10:
			e.SyncedAt = d.int()
		case 11:
			e.IDHigh = d.uint()
		case 12:
			e.MountHigh = uint32(d.upTo(math.MaxUint32))
		case 13:
			e.ReqID = d.string()
		case 14:
			e.Reqs = append(e.Reqs, d.string())
		case 15:
			e.Attr = decodeAttr(d, d.sub("attr"))
		case 16:
			e.Targets = append(e.Targets, d.string())
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	return e, nil
}

// decodeNode decodes a NodeRecord from d, recording its error in parent.
func decodeNode(parent, d *decoder) *NodeRecord {
	n := &NodeRecord{}
	for d.next() {
		switch d.field {
		case 1:
			n.Dir = d.bool()
		case 2:
			n.ID = d.uint()
		case 3:
			n.NewID = d.uint()
		case 4:
			n.Size = d.int()
		case 5:
			n.MTime = d.int()
		case 6:
			n.Hash = d.string()
		case 7:
			n.Owner = d.string()
		case 8:
			n.Group = d.string()
		case 9:
			n.Mode = fs.FileMode(d.upTo(math.MaxUint32))
		case 10:
			n.Persist = inode.PersistState(d.upTo(math.MaxUint8))
		case 11:
			n.Open = d.bool()
		case 12:
			n.Pinned = d.bool()
		case 13:
			n.Shadow = d.bool()
		case 14:
			n.Holder = d.string()
		}
	}
	parent.adopt(d)
	return n
}

func decodeMount(parent, d *decoder) *MountRecord {
	m := &MountRecord{}
	for d.next() {
		switch d.field {
		case 1:
			m.ID = uint32(d.upTo(math.MaxUint32))
		case 2:
			m.URI = d.string()
		case 3:
			od := d.sub("mount option")
			var k, v string
			var hasK, hasV bool
			for od.next() {
				switch od.field {
				case 1:
					k, hasK = od.string(), true
				case 2:
					v, hasV = od.string(), true
				}
			}
			if od.err == nil && (!hasK || !hasV) {
				od.fail("key or value missing")
			}
			d.adopt(od)
			if m.Options == nil {
				m.Options = map[string]string{}
			}
			m.Options[k] = v
		case 4:
			m.ReadOnly = d.bool()
		case 5:
			m.Shared = d.bool()
		case 6:
			m.MTime = d.int()
		}
	}
	parent.adopt(d)
	return m
}

func decodeStatus(parent, d *decoder) ufs.Status {
	var s ufs.Status
	var sec int64
	var nsec uint64
	for d.next() {
		switch d.field {
		case 1:
			s.Name = d.string()
		case 2:
			s.IsDir = d.bool()
		case 3:
			s.Size = d.int()
		case 4:
			sec = d.int()
		case 5:
			nsec = d.upTo(1e9 - 1)
		case 6:
			s.Owner = d.string()
		case 7:
			s.Group = d.string()
		case 8:
			s.Mode = fs.FileMode(d.upTo(math.MaxUint32))
		case 9:
			s.ContentHash = d.string()
		}
	}
	if sec != 0 || nsec != 0 {
		s.ModTime = time.Unix(sec-unixToInternal, int64(nsec)).UTC()
	}
	parent.adopt(d)
	return s
}

// adopt takes over the error of a nested message's decoder.
func (d *decoder) adopt(sub *decoder) {
	if d.err == nil && sub.err != nil {
		d.err = sub.err
	}
}

// isJSONStart says whether c can begin a JSON document.
func isJSONStart(c byte, open byte) bool {
	return c == open || c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

// unmarshalEntry decodes either encoding of an entry.
func unmarshalEntry(data []byte) (*Entry, error) {
	switch {
	case len(data) == 0:
		return nil, fmt.Errorf("namespace: journal entry: %w: empty", ErrBadEntry)
	case data[0] == binaryV1:
		e, err := unmarshalBinary(data[1:])
		if err != nil {
			return nil, fmt.Errorf("namespace: journal entry: %w", err)
		}
		return e, nil
	case isJSONStart(data[0], '{'):
		var e Entry
		if err := json.Unmarshal(data, &e); err != nil {
			return nil, fmt.Errorf("namespace: journal entry: %w: %w", ErrBadEntry, err)
		}
		return &e, nil
	}
	return nil, fmt.Errorf("namespace: journal entry: %w: unknown encoding (first byte %#02x)", ErrBadEntry, data[0])
}

// encodeSnapshot returns the binary snapshot of encoded entries.
func encodeSnapshot(entries [][]byte) []byte {
	n := 1
	for _, e := range entries {
		n += binary.MaxVarintLen64 + len(e)
	}
	b := make([]byte, 1, n)
	b[0] = snapshotV1
	for _, e := range entries {
		b = binary.AppendUvarint(b, uint64(len(e)))
		b = append(b, e...)
	}
	return b
}

// decodeSnapshot returns the entries of a snapshot in either encoding: binary, or the
// JSON array of entries that older checkpoints hold.
func decodeSnapshot(data []byte) ([]*Entry, error) {
	var raw [][]byte
	switch {
	case len(data) > 0 && data[0] == snapshotV1:
		for b := data[1:]; len(b) > 0; {
			l, n := binary.Uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return nil, fmt.Errorf("namespace: snapshot: %w: bad entry length after %d entries", ErrBadEntry, len(raw))
			}
			raw = append(raw, b[n:n+int(l)])
			b = b[n+int(l):]
		}
	case len(data) > 0 && isJSONStart(data[0], '['):
		var msgs []json.RawMessage
		if err := json.Unmarshal(data, &msgs); err != nil {
			return nil, fmt.Errorf("namespace: snapshot: %w: %w", ErrBadEntry, err)
		}
		for _, m := range msgs {
			raw = append(raw, m)
		}
	default:
		return nil, fmt.Errorf("namespace: snapshot: %w: unknown encoding", ErrBadEntry)
	}
	out := make([]*Entry, 0, len(raw))
	for _, r := range raw {
		e, err := unmarshalEntry(r)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}
