package unifiedfs_test

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/unifiedfs/unifiedfs"
	"github.com/unifiedfs/unifiedfs/internal/testpeer"
	"github.com/unifiedfs/unifiedfs/ufs/ufstest"
)

// The concurrent check of SetAttribute against the data paths. Setters (pin, unpin, mode,
// owner, group, TTL), writers and overwriters of every write type, renamers, removers and
// readers (Open+ReadAll, Stat) work at once on four files in two directories, under cache
// pressure, and porcupine checks the history against a sequential model in which the
// attributes belong to the file, as Alluxio's belong to the inode:
//   - SetAttribute changes the attributes of the file at the path;
//   - a rename moves the file with its attributes (Alluxio renames the inode);
//   - an overwrite is a new file (Alluxio deletes and creates): it has no attributes, and
//     so has a file created where another was removed;
//   - an incomplete new file (being written) takes attributes, and keeps them when it
//     completes (Alluxio's incomplete inode is the file).
// A Stat reports exactly the model's attributes, and a pinned file is wholly cached; a
// read returns the bytes of the model's version.

const arKeys = 4

var arKeyNames = [arKeys]string{"/a/k0", "/a/k1", "/b/k2", "/b/k3"}

// arAttrs are the attributes the model holds for one file.
type arAttrs struct {
	group, owner string      // "": never set (the default owner and group)
	mode         fs.FileMode // 0: never set (0644, the create mode)
	ttl          time.Duration
	act          unifiedfs.TTLAction
	pinned       bool
}

// arKey is the model's state of one path: its file (absent when content is "") and the
// attributes of an incomplete new file there (pend), which it keeps on completion.
type arKey struct {
	content string
	wt      unifiedfs.WriteType
	attrs   arAttrs
	pend    arAttrs
}

type arState [arKeys]arKey

const opSetAttr linOpKind = 100

// arSet is one SetAttribute call's options, as the model applies them.
type arSet struct {
	group, owner string
	mode         fs.FileMode
	ttl          time.Duration
	act          unifiedfs.TTLAction
	setAct       bool
	unsetTTL     bool
	pin          int // 1 pin, -1 unpin, 0 unchanged
}

func (s arSet) options() unifiedfs.SetAttributeOptions {
	o := unifiedfs.SetAttributeOptions{Group: &s.group, UnsetTTL: s.unsetTTL}
	if s.owner != "" {
		o.Owner = &s.owner
	}
	if s.mode != 0 {
		o.Mode = &s.mode
	}
	if s.ttl != 0 {
		o.TTL = &s.ttl
	}
	if s.setAct {
		o.TTLAction = &s.act
	}
	if s.pin != 0 {
		o.Pinned = ptr(s.pin > 0)
	}
	return o
}

// apply returns a changed as SetAttribute documents: a first TTL without an action
// deletes.
func (s arSet) apply(a arAttrs) arAttrs {
	a.group = s.group
	if s.owner != "" {
		a.owner = s.owner
	}
	if s.mode != 0 {
		a.mode = s.mode
	}
	if s.unsetTTL {
		a.ttl, a.act = 0, 0
	}
	if s.ttl != 0 {
		if a.ttl == 0 && !s.setAct {
			a.act = unifiedfs.TTLDelete
		}
		a.ttl = s.ttl
	}
	if s.setAct {
		a.act = s.act
	}
	if s.pin != 0 {
		a.pinned = s.pin > 0
	}
	return a
}

type arInput struct {
	kind      linOpKind
	key, dst  int
	value     string
	overwrite bool
	wt        unifiedfs.WriteType
	set       arSet
	// creating[k]: a write that may create key k overlapped the operation; changing[k]: a
	// write, rename or remove of k did (a reader may then fail with ErrChanged).
	creating, changing [arKeys]bool
}

type arStat struct {
	size               int64
	incomplete, pinned bool
	group, owner       string
	mode               fs.FileMode
	ttl                time.Duration
	act                unifiedfs.TTLAction
	cached             int64
	version            uint64                 // not modelled: for the report of a failure
	persist            unifiedfs.PersistState // not modelled
}

type arOutput struct {
	res   linResult
	value string
	st    arStat
	err   error
}

// arStatOK reports whether a Stat of a complete file can return st in state k: exactly
// the model's attributes; pinned (and wholly cached) when SetAttribute pinned it or only
// the cache holds it (MUST_CACHE; ASYNC_THROUGH until its persist, which is not modelled).
// While the path changes (changing), the cached bytes may be fewer: Stat reads the entry
// and its attributes as one state, but the cache afterwards, when the blocks of a version
// an overwrite or remove replaced may be gone.
func arStatOK(k arKey, st arStat, changing bool) bool {
	a := k.attrs
	if int64(len(k.content)) != st.size {
		return false
	}
	if a.group != st.group && (a.group != "" || strings.HasPrefix(st.group, "grp-")) {
		return false
	}
	if a.owner != st.owner && (a.owner != "" || strings.HasPrefix(st.owner, "own-")) {
		return false
	}
	if mode := cmpOrMode(a.mode, 0o644); st.mode != mode || st.ttl != a.ttl || a.ttl != 0 && st.act != a.act {
		return false
	}
	switch {
	case a.pinned || k.wt == unifiedfs.MustCache:
		return st.pinned && (st.cached == st.size || changing)
	case k.wt == unifiedfs.AsyncThrough:
		return true
	}
	return !st.pinned
}

func cmpOrMode(a, b fs.FileMode) fs.FileMode {
	if a != 0 {
		return a
	}
	return b
}

func arStep(s arState, in arInput, out arOutput) []arState {
	one := func(t arState) []arState { return []arState{t} }
	k := in.key
	cur := s[k]
	if out.res == resBug {
		return nil
	}
	switch in.kind {
	case opWrite:
		switch out.res {
		case resOK:
			if !in.overwrite && cur.content != "" {
				return nil
			}
			a := arAttrs{} // an overwrite is a new file
			if cur.content == "" {
				a = cur.pend // the incomplete file completes
			}
			s[k] = arKey{content: in.value, wt: in.wt, attrs: a}
			return one(s)
		case resExist:
			if in.overwrite || cur.content == "" && !in.creating[k] {
				return nil
			}
			return one(s)
		case resBusy, resNotExist:
			return one(s)
		}
	case opRead:
		switch out.res {
		case resOK:
			if cur.content == "" || cur.content != out.value {
				return nil
			}
			return one(s)
		case resNotExist:
			if cur.content != "" {
				return nil
			}
			return one(s)
		case resIncomplete:
			if cur.content != "" || !in.creating[k] {
				return nil
			}
			return one(s)
		case resFailed: // ErrChanged: only while the file changes
			if !in.changing[k] {
				return nil
			}
			return one(s)
		}
	case opStat:
		switch out.res {
		case resOK:
			if out.st.incomplete {
				if cur.content != "" || !in.creating[k] {
					return nil
				}
				return one(s)
			}
			if cur.content == "" || !arStatOK(cur, out.st, in.changing[k]) {
				return nil
			}
			return one(s)
		case resNotExist:
			if cur.content != "" {
				return nil
			}
			return one(s)
		}
	case opSetAttr:
		switch out.res {
		case resOK:
			switch {
			case cur.content != "":
				s[k].attrs = in.set.apply(cur.attrs)
			case in.creating[k] && in.set.pin <= 0: // an incomplete new file (pinning it fails)
				s[k].pend = in.set.apply(cur.pend)
			default:
				return nil
			}
			return one(s)
		case resNotExist:
			if cur.content != "" {
				return nil
			}
			return one(s)
		case resIncomplete: // pinning an incomplete file
			if cur.content != "" || !in.creating[k] || in.set.pin <= 0 {
				return nil
			}
			return one(s)
		}
	case opRename:
		d := in.dst
		switch out.res {
		case resOK:
			if cur.content == "" || s[d].content != "" {
				return nil
			}
			s[d], s[k] = cur, arKey{} // the file moves with its attributes
			return one(s)
		case resNotExist:
			if cur.content != "" {
				return nil
			}
			return one(s)
		case resExist:
			if s[d].content == "" && !in.creating[d] {
				return nil
			}
			return one(s)
		case resBusy:
			if !in.creating[k] {
				return nil
			}
			return one(s)
		}
	case opRemove:
		switch out.res {
		case resOK:
			if cur.content == "" && !in.creating[k] {
				return nil
			}
			s[k] = arKey{} // an incomplete new file goes too, with its attributes
			return one(s)
		case resNotExist:
			if cur.content != "" {
				return nil
			}
			return one(s)
		}
	}
	return nil
}

var arModel = porcupine.NondeterministicModel{
	Init:  func() []interface{} { return []interface{}{arState{}} },
	Step:  stepOf(arStep),
	Equal: equalOf[arState],
	DescribeOperation: func(input, output interface{}) string {
		in, out := input.(arInput), output.(arOutput)
		k := arKeyNames[in.key]
		var op string
		switch in.kind {
		case opWrite:
			op = fmt.Sprintf("write(%s, %q, %v, overwrite=%v)", k, in.value, in.wt, in.overwrite)
		case opRead:
			op = fmt.Sprintf("read(%s) = %q", k, out.value)
		case opStat:
			op = fmt.Sprintf("stat(%s) = %+v", k, out.st)
		case opSetAttr:
			op = fmt.Sprintf("setAttribute(%s, %+v)", k, in.set)
		case opRename:
			op = fmt.Sprintf("rename(%s, %s)", k, arKeyNames[in.dst])
		case opRemove:
			op = fmt.Sprintf("remove(%s)", k)
		}
		if out.err != nil {
			op += fmt.Sprintf(" -> %v", out.err)
		}
		return op
	},
	DescribeState: func(state interface{}) string { return fmt.Sprintf("%+v", state.(arState)) },
}

// arRecorder records the history and which writes and changes overlap which operations.
type arRecorder struct {
	mu       sync.Mutex
	start    time.Time
	ops      []porcupine.Operation
	inflight map[*arInput]struct{}
	creating [arKeys]int
	changing [arKeys]int
}

func (r *arRecorder) now() int64 { return int64(time.Since(r.start)) }

func (in *arInput) changes() []int {
	switch in.kind {
	case opWrite, opRemove:
		return []int{in.key}
	case opRename:
		return []int{in.key, in.dst}
	}
	return nil
}

func (r *arRecorder) begin(in *arInput) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k := range arKeys {
		in.creating[k] = r.creating[k] > 0
		in.changing[k] = r.changing[k] > 0
	}
	if in.kind == opWrite {
		r.creating[in.key]++
		in.creating[in.key] = true
		for other := range r.inflight {
			other.creating[in.key] = true
		}
	}
	for _, k := range in.changes() {
		r.changing[k]++
		in.changing[k] = true
		for other := range r.inflight {
			other.changing[k] = true
		}
	}
	r.inflight[in] = struct{}{}
	return r.now()
}

func (r *arRecorder) end(client int, in *arInput, call int64, out arOutput) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.inflight, in)
	if in.kind == opWrite {
		r.creating[in.key]--
	}
	for _, k := range in.changes() {
		r.changing[k]--
	}
	r.ops = append(r.ops, porcupine.Operation{ClientId: client, Input: *in, Call: call, Output: out, Return: r.now()})
}

func arDo(fsys *unifiedfs.FS, rng *rand.Rand, in *arInput) arOutput {
	k := arKeyNames[in.key]
	var out arOutput
	switch in.kind {
	case opWrite:
		out.err = arWrite(fsys, k, in.value, unifiedfs.CreateOptions{WriteType: in.wt, Overwrite: in.overwrite})
	case opRead:
		rt := unifiedfs.Cache
		if rng.Intn(3) == 0 {
			rt = unifiedfs.NoCache
		}
		var f fs.File
		if f, out.err = fsys.OpenFile(ctx, k, unifiedfs.OpenOptions{ReadType: rt}); out.err == nil {
			var b []byte
			b, out.err = io.ReadAll(f)
			f.Close()
			out.value = string(b)
		}
	case opStat:
		out.st, out.err = arStatOf(fsys, k)
	case opSetAttr:
		out.err = fsys.SetAttribute(ctx, k, in.set.options())
	case opRename:
		out.err = fsys.Rename(ctx, k, arKeyNames[in.dst])
	case opRemove:
		out.err = fsys.Remove(ctx, k)
	}
	out.res = classify(out.err)
	if out.res == resFailed && !errors.Is(out.err, unifiedfs.ErrChanged) {
		out.res = resBug // no faults are injected
	}
	return out
}

// arWrite is Create, Write in two pieces (so that a reader could see half a version), Close.
func arWrite(fsys *unifiedfs.FS, p, data string, o unifiedfs.CreateOptions) error {
	w, err := fsys.Create(ctx, p, o)
	if err != nil {
		return err
	}
	half := len(data) / 2
	if _, err := io.WriteString(w, data[:half]); err != nil {
		w.Abort()
		return err
	}
	if _, err := io.WriteString(w, data[half:]); err != nil {
		w.Abort()
		return err
	}
	return w.Close()
}

func arStatOf(fsys *unifiedfs.FS, p string) (arStat, error) {
	st, err := fsys.GetStatus(ctx, p)
	if err != nil {
		return arStat{}, err
	}
	return arStat{size: st.Size, incomplete: st.Incomplete, pinned: st.Pinned, group: st.Group, owner: st.Owner,
		mode: st.Mode.Perm(), ttl: st.TTL, act: st.TTLAction, cached: st.CachedBytes, version: st.Version, persist: st.PersistState}, nil
}

// arRandomSet draws a SetAttribute call: always a unique group (so that a Stat tells
// which call's attributes it sees), sometimes owner, mode, a long TTL or its unset, a pin
// or an unpin.
func arRandomSet(rng *rand.Rand, token string) arSet {
	s := arSet{group: "grp-" + token}
	if rng.Intn(3) == 0 {
		s.owner = "own-" + token
	}
	if rng.Intn(3) == 0 {
		s.mode = []fs.FileMode{0o600, 0o640, 0o444, 0o755}[rng.Intn(4)]
	}
	switch rng.Intn(6) {
	case 0, 1:
		s.ttl = time.Duration(1+rng.Intn(3)) * time.Hour // never due: the clock stands still
	case 2:
		s.unsetTTL = true
	}
	if rng.Intn(3) == 0 {
		s.setAct, s.act = true, unifiedfs.TTLAction(rng.Intn(2))
	}
	switch rng.Intn(4) {
	case 0:
		s.pin = 1
	case 1:
		s.pin = -1
	}
	return s
}

const arBig = 8 // files read over and over so that the cache evicts

func TestSetAttributeRacesDataPaths(t *testing.T) {
	clk := testpeer.NewClock(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	dir := t.TempDir()
	j := &jenv{t: t, stores: &ufstest.Stores{}}
	root := j.stores.Add("root", ufstest.ObjectStore)
	// The disk tier keeps MUST_CACHE files across the restart; its capacity is small, so
	// that the big files' reads evict whatever is not pinned.
	j.cfg = unifiedfs.Config{RootUFS: "mem://root/", Registry: j.stores.Registry(), JournalDir: filepath.Join(dir, "journal"),
		CacheDir: filepath.Join(dir, "cache"), CacheCapacity: 4 << 10, CacheDiskCapacity: 8 << 10, BlockSize: 128,
		PersistRetryBase: time.Millisecond, CloseTimeout: 100 * time.Millisecond, Clock: clk.Now, TTLCheckInterval: 10 * time.Second}
	j.open()
	t.Cleanup(func() {
		if j.fs != nil {
			j.fs.Close()
		}
	})
	big := strings.Repeat("B", 1<<10)
	for i := range arBig {
		j.write(fmt.Sprintf("/p/big%d", i), big, unifiedfs.Through)
	}
	for _, d := range []string{"/a", "/b"} {
		if err := j.fs.MkdirAll(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	for _, op := range []ufstest.Op{ufstest.OpRead, ufstest.OpOpen, ufstest.OpCreate, ufstest.OpWrite, ufstest.OpClose, ufstest.OpRename, ufstest.OpRemove, ufstest.OpStat} {
		root.Inject(ufstest.Fault{Op: op, Latency: 50 * time.Microsecond, LatencyOnly: true})
	}

	// Cache pressure: one reader goes over the big files until the clients are done.
	stop := make(chan struct{})
	var pressure sync.WaitGroup
	var bigReads atomic.Int64
	pressure.Add(1)
	go func() {
		defer pressure.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if b, err := fs.ReadFile(j.fs, fmt.Sprintf("p/big%d", i%arBig)); err != nil || string(b) != big {
				t.Errorf("big file %d: %d bytes, %v", i%arBig, len(b), err)
				return
			}
			bigReads.Add(1)
		}
	}()

	wts := []unifiedfs.WriteType{unifiedfs.MustCache, unifiedfs.CacheThrough, unifiedfs.Through, unifiedfs.AsyncThrough}
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rec := &arRecorder{start: time.Now(), inflight: map[*arInput]struct{}{}}
	const clients, opsPer = 6, 90
	var wg sync.WaitGroup
	for client := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewSource(seed + int64(client)))
			for i := range opsPer {
				in := &arInput{key: rng.Intn(arKeys)}
				switch r := rng.Intn(20); {
				case r < 4:
					in.kind, in.overwrite = opWrite, r < 3
					in.wt = wts[rng.Intn(len(wts))]
					// Lengths vary, so that bytes of two versions cannot pass for one.
					in.value = fmt.Sprintf("c%d-%d-", client, i) + strings.Repeat("x", rng.Intn(200))
				case r < 7:
					in.kind = opRead
				case r < 10:
					in.kind = opStat
				case r < 15:
					in.kind, in.set = opSetAttr, arRandomSet(rng, fmt.Sprintf("%d-%d", client, i))
				case r < 18:
					in.kind, in.dst = opRename, rng.Intn(arKeys)
					if in.dst == in.key {
						in.dst = (in.dst + 1) % arKeys
					}
				default:
					in.kind = opRemove
				}
				call := rec.begin(in)
				out := arDo(j.fs, rng, in)
				rec.end(client, in, call, out)
			}
		}()
	}
	wg.Wait()
	close(stop)
	pressure.Wait()
	if t.Failed() {
		return
	}

	// Settle: persists finish; a last Stat of each key joins the history, so the final
	// state is the model's.
	if !testpeer.Eventually(10*time.Second, func() bool { return j.fs.Metrics().Files.ToBePersisted == 0 }) {
		for _, k := range arKeyNames {
			st, err := j.fs.GetStatus(ctx, k)
			t.Logf("%s: %+v %v", k, st, err)
		}
		t.Fatalf("asynchronous persists still pending: %+v %+v", j.fs.Metrics().Files, j.fs.Metrics().Persist)
	}
	for i := range arKeys {
		in := &arInput{kind: opStat, key: i}
		call := rec.begin(in)
		rec.end(clients, in, call, arDo(j.fs, nil, in))
	}
	checkHistory(t, arModel, rec.ops, 15*time.Second, true)
	if evictions := j.fs.Metrics().Cache.Evictions + j.fs.Metrics().Cache.DiskEvictions; evictions == 0 {
		t.Errorf("no block was evicted in %d reads of the big files: no cache pressure", bigReads.Load())
	}
	if t.Failed() {
		return
	}

	// A last SetAttribute per path, after its last mutation, is what Stat reports: even
	// keys pinned, odd ones unpinned.
	var want [arKeys]*arStat
	for i, k := range arKeyNames {
		if _, err := j.fs.GetStatus(ctx, k); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		s := arSet{group: fmt.Sprintf("grp-final%d", i), owner: fmt.Sprintf("own-final%d", i), mode: 0o600 + fs.FileMode(i),
			ttl: time.Duration(10+i) * time.Hour, setAct: true, act: unifiedfs.TTLAction(i % 2), pin: 1 - 2*(i%2)}
		if err := j.fs.SetAttribute(ctx, k, s.options()); err != nil {
			t.Fatalf("final setAttribute %s: %v", k, err)
		}
		st, err := arStatOf(j.fs, k)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = &st
		if st.group != s.group || st.owner != s.owner || st.mode != s.mode || st.ttl != s.ttl || st.act != s.act || st.pinned != (s.pin > 0) && !arOnlyCached(j.fs, k) {
			t.Errorf("%s after the final setAttribute %+v: %+v", k, s, st)
		}
	}
	arCheckPins(t, j.fs, want, "after the run")
	for i := range 2 * arBig { // pressure again: the pinned files stay
		j.read(fmt.Sprintf("p/big%d", i%arBig))
	}
	arCheckPins(t, j.fs, want, "after more cache pressure")

	// A restart (journal replay, disk tier scan) keeps attributes and contents.
	var content [arKeys]string
	for i, k := range arKeyNames {
		if want[i] != nil {
			var err error
			if content[i], err = j.read(k[1:]); err != nil {
				t.Fatalf("%s before the restart: %v", k, err)
			}
		}
	}
	j.restart()
	for i, k := range arKeyNames {
		st, err := arStatOf(j.fs, k)
		switch {
		case want[i] == nil:
			if !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s reappeared after the restart: %+v %v", k, st, err)
			}
			continue
		case err != nil:
			t.Errorf("%s after the restart: %v", k, err)
			continue
		}
		w := *want[i]
		st.cached, w.cached = 0, 0   // pins are held again in the background
		st.version, w.version = 0, 0 // loaded afresh
		if st != w {
			t.Errorf("%s after the restart: %+v, before %+v", k, st, w)
		}
		if got, err := j.read(k[1:]); err != nil || got != content[i] {
			t.Errorf("%s after the restart reads %q (%v), before %q", k, got, err, content[i])
		}
	}
	testpeer.WaitFor(t, "pinned files held again after the restart", 10*time.Second, func() bool {
		for i, k := range arKeyNames {
			if w := want[i]; w != nil && w.pinned {
				if st, err := arStatOf(j.fs, k); err != nil || st.cached != st.size {
					return false
				}
			}
		}
		return true
	})
	arCheckPins(t, j.fs, want, "after the restart")

	arCheckShortTTL(t, j, clk)
}

// arOnlyCached reports whether the cache holds the only copy of the file at p (so it is
// pinned whatever SetAttribute says).
func arOnlyCached(fsys *unifiedfs.FS, p string) bool {
	st, err := fsys.GetStatus(ctx, p)
	return err == nil && st.PersistState != unifiedfs.Persisted
}

// arCheckPins checks that every pinned file is wholly cached and that the cache pins no
// more than the pinned files hold (nothing stays pinned for a file unpinned or gone).
func arCheckPins(t *testing.T, fsys *unifiedfs.FS, want [arKeys]*arStat, when string) {
	t.Helper()
	var pinned int64
	for i, k := range arKeyNames {
		if want[i] == nil || !want[i].pinned {
			continue
		}
		st, err := arStatOf(fsys, k)
		if err != nil || !st.pinned || st.cached != st.size {
			t.Errorf("%s: pinned %s: %+v %v", when, k, st, err)
		}
		pinned += st.size
	}
	if got := fsys.Metrics().Cache.PinnedBytes; got > pinned {
		t.Errorf("%s: the cache pins %d bytes, the pinned files hold %d", when, got, pinned)
	}
}

// arCheckShortTTL: a TTL moves with a rename and acts at the new path once due, by the
// test clock; a file created at the old path has none; a FREE TTL drops the cached blocks.
func arCheckShortTTL(t *testing.T, j *jenv, clk *testpeer.Clock) {
	t.Helper()
	j.write("/t/del", "delete me", unifiedfs.CacheThrough)
	j.write("/t/free", "free me", unifiedfs.CacheThrough)
	if err := j.fs.SetAttribute(ctx, "/t/del", unifiedfs.SetAttributeOptions{TTL: ptr(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if err := j.fs.SetAttribute(ctx, "/t/free", unifiedfs.SetAttributeOptions{TTL: ptr(time.Minute), TTLAction: ptr(unifiedfs.TTLFree)}); err != nil {
		t.Fatal(err)
	}
	if err := j.fs.Rename(ctx, "/t/del", "/t/moved"); err != nil {
		t.Fatal(err)
	}
	j.write("/t/del", "a new file", unifiedfs.CacheThrough)
	if st := j.status("/t/moved"); st.TTL != time.Minute {
		t.Fatalf("the TTL did not move with the file: %+v", st)
	}
	if st := j.status("/t/del"); st.TTL != 0 {
		t.Fatalf("a new file at the old path has the moved file's TTL: %+v", st)
	}
	clk.Add(3 * time.Minute)
	if err := j.fs.CheckTTL(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := j.fs.GetStatus(ctx, "/t/moved"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("/t/moved after its TTL: %v", err)
	}
	if got, err := j.read("t/del"); err != nil || got != "a new file" {
		t.Errorf("/t/del after the moved file's TTL: %q %v", got, err)
	}
	if st := j.status("/t/free"); st.CachedBytes != 0 || st.TTL != 0 {
		t.Errorf("/t/free after its FREE TTL: %+v", st)
	}
}

func (j *jenv) status(p string) *unifiedfs.FileStatus {
	j.t.Helper()
	return statusOf(j.t, j.fs, p)
}

func (in arInput) opKeys() (linOpKind, int, int) { return in.kind, in.key, in.dst }
func (out arOutput) result() linResult           { return out.res }

// A pin SetAttribute set on an ASYNC_THROUGH file before its persist outlives the persist
// (which unpins the blocks the cache held as the only copy), also when a reader that
// opened the file then closes after the persist; unpin makes the blocks evictable once
// that reader is gone.
func TestPinOutlivesAsyncPersist(t *testing.T) {
	e := newEnv(t, unifiedfs.Config{BlockSize: 1 << 10, CacheCapacity: 8 << 10, PersistRetryBase: time.Hour}, ufstest.ObjectStore)
	data := strings.Repeat("a", 4<<10)
	for i := range 8 {
		e.write(fmt.Sprintf("/other%d", i), data, unifiedfs.Through)
	}
	pressure := func() {
		for i := range 8 {
			e.read(fmt.Sprintf("other%d", i))
		}
	}
	if err := e.fs.MkdirAll(ctx, "/async"); err != nil {
		t.Fatal(err)
	}
	unblock := e.root.Inject(ufstest.Fault{Op: ufstest.OpCreate, Under: "async"}) // the persists wait
	e.write("/async/plain", data, unifiedfs.AsyncThrough)
	e.write("/async/read", data, unifiedfs.AsyncThrough)
	r, err := e.fs.OpenFile(ctx, "/async/read", unifiedfs.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := e.fs.SetAttribute(ctx, "/async/plain", unifiedfs.SetAttributeOptions{Pinned: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	unblock()
	if err := e.fs.Persist(ctx, "/async/plain"); err != nil {
		t.Fatal(err)
	}
	if err := e.fs.Persist(ctx, "/async/read"); err != nil {
		t.Fatal(err)
	}
	// Pinned after the persist, while a reader that opened it pinned still reads.
	if err := e.fs.SetAttribute(ctx, "/async/read", unifiedfs.SetAttributeOptions{Pinned: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	r.Close()
	pressure()
	for _, p := range []string{"/async/plain", "/async/read"} {
		if st := e.status(p); st.PersistState != unifiedfs.Persisted || !st.Pinned || st.CachedBytes != int64(len(data)) {
			t.Errorf("%s after its persist and cache pressure: %v pinned %v cached %d", p, st.PersistState, st.Pinned, st.CachedBytes)
		}
	}
	if err := e.fs.SetAttribute(ctx, "/async/plain", unifiedfs.SetAttributeOptions{Pinned: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	pressure()
	if st := e.status("/async/plain"); st.Pinned || st.CachedBytes == int64(len(data)) {
		t.Errorf("/async/plain after unpin and cache pressure: pinned %v cached %d", st.Pinned, st.CachedBytes)
	}
	if got := e.read("async/plain"); got != data {
		t.Errorf("/async/plain reads %d bytes", len(got))
	}
}

// Stat pairs a file with its own attributes: while two files with different attributes
// swap places by renames, every Stat of one of the paths shows one file's size with that
// file's group, never the size of one and the group of the other.
func TestStatPairsFileWithItsAttributes(t *testing.T) {
	e := newEnv(t, unifiedfs.Config{}, ufstest.ObjectStore)
	groupOf := map[int64]string{}
	for i, p := range []string{"/x", "/y"} {
		e.write(p, strings.Repeat("s", 10*(i+1)), unifiedfs.MustCache) // renames touch no UFS
		g := fmt.Sprintf("grp-%d", i)
		if err := e.fs.SetAttribute(ctx, p, unifiedfs.SetAttributeOptions{Group: &g, Mode: ptr(fs.FileMode(0o600 + i))}); err != nil {
			t.Fatal(err)
		}
		groupOf[int64(10*(i+1))] = g
	}
	stop := make(chan struct{})
	var swaps atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			for _, mv := range [][2]string{{"/x", "/t"}, {"/y", "/x"}, {"/t", "/y"}} {
				if err := e.fs.Rename(ctx, mv[0], mv[1]); err != nil {
					t.Error(err)
					return
				}
			}
			swaps.Add(1)
		}
	}()
	var stats int
	for ; swaps.Load() < 300 && !t.Failed(); stats++ {
		for _, p := range []string{"/x", "/y"} {
			st, err := e.fs.GetStatus(ctx, p)
			if errors.Is(err, fs.ErrNotExist) {
				continue // moved away for a moment
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := groupOf[st.Size]; st.Group != want || st.Mode != fs.FileMode(0o600+st.Size/10-1) {
				t.Fatalf("stat %d of %s: a file of %d bytes with group %s and mode %v, want %s", stats, p, st.Size, st.Group, st.Mode, want)
			}
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("%d stats during %d swaps", stats, swaps.Load())
}
