package ufstest

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/unifiedfs/unifiedfs/internal/testpeer"
	"github.com/unifiedfs/unifiedfs/ufs"
)

// Flavor selects how a MemFS behaves.
type Flavor int

const (
	// FileSystem has real directories: a file's parents exist as entries, Remove of a
	// non-empty directory fails, Rename is atomic.
	FileSystem Flavor = iota
	// ObjectStore has only keys: directories are implied by prefixes or "dir/" markers,
	// Rename copies then deletes key by key.
	ObjectStore
)

func (f Flavor) String() string {
	if f == ObjectStore {
		return "objectstore"
	}
	return "filesystem"
}

// Op names a UFS operation for counters, the call log and fault injection.
type Op string

// The operations a MemFS counts. OpRead is one Read call on a reader from OpenRange;
// OpWrite one Write on a writer; OpClose the completion of an upload.
const (
	OpStat      Op = "stat"
	OpList      Op = "list"
	OpOpen      Op = "open"
	OpRead      Op = "read"
	OpCreate    Op = "create"
	OpWrite     Op = "write"
	OpClose     Op = "close"
	OpMkdir     Op = "mkdir"
	OpRemove    Op = "remove"
	OpRemoveAll Op = "removeall"
	OpRename    Op = "rename"
)

// ErrInjected is wrapped by every error a Fault injects unless the fault names its own.
var ErrInjected = errors.New("ufstest: injected fault")

// Fault makes calls of one operation fail or slow down.
type Fault struct {
	Op Op
	// Nth fails only the Nth call of Op (1-based) counted from when the fault was added.
	Nth int
	// Prob fails each call with this probability (seeded by MemFS.Seed). With neither Nth
	// nor Prob every call fails, unless Err is nil and Latency is set (latency only).
	Prob float64
	// Under restricts the fault to paths equal to or below this clean path.
	Under string
	// Err is the error to return; nil means ErrInjected (unless latency only).
	Err error
	// Latency delays every matching call (before it fails or proceeds); it honours ctx.
	Latency time.Duration
	// LatencyOnly makes the fault delay calls without failing them.
	LatencyOnly bool
	// Entered, when set, is sent each call the fault hits (the Nth, those Prob picks, or
	// every matching call) as it enters, before Hold, Latency and the failure: a test
	// learns that a call is in flight without sleeping. The send waits for the receiver
	// or the call's context.
	Entered chan<- Call
	// Hold, when set, holds each call the fault hits until Hold is closed (or yields a
	// value), or the call's context ends; then the call goes on (or fails).
	Hold <-chan struct{}

	seen int
}

// fails reports whether the fault fails the calls it hits: unless LatencyOnly, or it only
// signals (Entered or Hold without Err).
func (f *Fault) fails() bool {
	return !f.LatencyOnly && (f.Err != nil || f.Entered == nil && f.Hold == nil)
}

// Call is one logged operation.
type Call struct {
	Op   Op
	Path string
}

type object struct {
	data  []byte
	mtime time.Time
	hash  string
	owner string
	group string
	mode  fs.FileMode
	dir   bool // a directory entry (filesystem) or marker (object store)
}

// MemFS is an in-memory ufs.UFS with fault injection, call counters, a call log and
// out-of-band access (Direct) for tests. It is safe for concurrent use.
type MemFS struct {
	flavor   Flavor
	pageSize int

	mu     sync.Mutex
	objs   map[string]*object // key: "a/b" for files, "a/b/" for directories and markers
	sorted []string           // sorted keys, nil when stale
	clock  func() time.Time
	rng    *rand.Rand
	faults testpeer.Faults[Fault]
	record bool
	log    []Call
	short  bool
	closed bool

	calls sync.Map // Op -> *atomic.Int64

	changeSeq uint64
	changes   []change // newest last; bounded
}

type change struct {
	seq  uint64
	path string
}

const maxChanges = 100_000

// noteChange records a change at key k for ChangesSince; m.mu must be held.
func (m *MemFS) noteChange(k string) {
	m.changeSeq++
	if len(m.changes) >= maxChanges {
		m.changes = append(m.changes[:0], m.changes[maxChanges/2:]...)
	}
	m.changes = append(m.changes, change{m.changeSeq, strings.TrimSuffix(k, "/")})
}

// ChangesSince implements ufs.ChangeCounter: every key written or deleted counts.
func (m *MemFS) ChangesSince(ctx context.Context, dir string, cursor uint64) (int, uint64, error) {
	c, err := m.begin(ctx, "changes", dir)
	if err != nil {
		return 0, 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for i := len(m.changes) - 1; i >= 0 && m.changes[i].seq > cursor; i-- {
		if ufs.IsWithin(m.changes[i].path, c) {
			n++
		}
	}
	return n, m.changeSeq, nil
}

// New returns an empty MemFS of the given flavor. Its default page size is 1000.
func New(flavor Flavor) *MemFS {
	return &MemFS{flavor: flavor, pageSize: 1000, objs: map[string]*object{}, clock: time.Now, rng: rand.New(rand.NewSource(1))}
}

// Flavor returns m's flavor.
func (m *MemFS) Flavor() Flavor { return m.flavor }

// SetPageSize sets the most entries a List page holds when the caller asks for none.
func (m *MemFS) SetPageSize(n int) { m.mu.Lock(); m.pageSize = n; m.mu.Unlock() }

// SetClock sets the clock used for modification times.
func (m *MemFS) SetClock(now func() time.Time) { m.mu.Lock(); m.clock = now; m.mu.Unlock() }

// Seed seeds the generator behind probabilistic faults and short reads.
func (m *MemFS) Seed(seed int64) { m.mu.Lock(); m.rng = rand.New(rand.NewSource(seed)); m.mu.Unlock() }

// ShortReads makes readers return at most a few bytes per Read (seeded).
func (m *MemFS) ShortReads(on bool) { m.mu.Lock(); m.short = on; m.mu.Unlock() }

// Inject adds a fault and returns a function that removes it.
func (m *MemFS) Inject(f Fault) (remove func()) { return m.faults.Inject(f) }

// ClearFaults removes every fault.
func (m *MemFS) ClearFaults() { m.faults.Clear() }

// Record turns the call log on or off (off by default: large benchmarks would grow it).
func (m *MemFS) Record(on bool) { m.mu.Lock(); m.record = on; m.mu.Unlock() }

// Log returns a copy of the call log.
func (m *MemFS) Log() []Call {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Call(nil), m.log...)
}

// Calls returns how many times op was called since the last ResetCalls.
func (m *MemFS) Calls(op Op) int64 {
	if c, ok := m.calls.Load(op); ok {
		return c.(*atomic.Int64).Load()
	}
	return 0
}

// TotalCalls returns the number of calls of every operation.
func (m *MemFS) TotalCalls() int64 {
	var n int64
	m.calls.Range(func(_, v any) bool { n += v.(*atomic.Int64).Load(); return true })
	return n
}

// ResetCalls zeroes the counters and empties the log.
func (m *MemFS) ResetCalls() {
	m.calls.Range(func(k, _ any) bool { m.calls.Delete(k); return true })
	m.mu.Lock()
	m.log = nil
	m.mu.Unlock()
}

// enter counts and logs a call, applies faults (latency, then failure) and checks ctx.
func (m *MemFS) enter(ctx context.Context, op Op, path string) error {
	c, _ := m.calls.LoadOrStore(op, new(atomic.Int64))
	c.(*atomic.Int64).Add(1)
	m.mu.Lock()
	if m.record {
		m.log = append(m.log, Call{op, path})
	}
	if m.closed {
		m.mu.Unlock()
		return fmt.Errorf("%w: ufstest: MemFS is closed", fs.ErrClosed)
	}
	var delay time.Duration
	var fail error
	var signals []*Fault
	m.faults.Each(func(f *Fault) { // under m.mu too: Prob draws from m.rng
		if f.Op != op || f.Under != "" && !ufs.IsWithin(path, f.Under) {
			return
		}
		f.seen++
		delay += f.Latency
		if f.LatencyOnly || fail != nil && f.Entered == nil && f.Hold == nil {
			return
		}
		hit := true
		switch {
		case f.Nth > 0:
			hit = f.seen == f.Nth
		case f.Prob > 0:
			hit = m.rng.Float64() < f.Prob
		}
		if !hit {
			return
		}
		if f.Entered != nil || f.Hold != nil {
			signals = append(signals, f)
		}
		if fail == nil && f.fails() {
			fail = f.Err
			if fail == nil {
				fail = fmt.Errorf("%w: %s %s", ErrInjected, op, path)
			}
		}
	})
	m.mu.Unlock()
	for _, f := range signals {
		if f.Entered != nil {
			select {
			case f.Entered <- Call{op, path}:
			case <-ctx.Done():
			}
		}
		if f.Hold != nil {
			select {
			case <-f.Hold:
			case <-ctx.Done():
			}
		}
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return fail
}

func hashOf(data []byte) string {
	h := md5.Sum(data)
	return hex.EncodeToString(h[:])
}

func pathErr(op Op, p string, err error) error {
	return &fs.PathError{Op: string(op), Path: p, Err: err}
}

// keys returns the sorted key slice; m.mu must be held.
func (m *MemFS) keys() []string {
	if m.sorted == nil {
		m.sorted = make([]string, 0, len(m.objs))
		for k := range m.objs {
			m.sorted = append(m.sorted, k)
		}
		sort.Strings(m.sorted)
	}
	return m.sorted
}

func (m *MemFS) put(key string, o *object) {
	if _, ok := m.objs[key]; !ok {
		m.sorted = nil
	}
	m.objs[key] = o
	m.noteChange(key)
}

func (m *MemFS) del(key string) {
	if _, ok := m.objs[key]; ok {
		delete(m.objs, key)
		m.sorted = nil
		m.noteChange(key)
	}
}

func dirKey(p string) string {
	if p == ufs.Root {
		return ""
	}
	return p + "/"
}

// hasChildren reports whether any key lies below directory p (markers of p excluded);
// m.mu must be held.
func (m *MemFS) hasChildren(p string) bool {
	prefix := dirKey(p)
	ks := m.keys()
	i := sort.SearchStrings(ks, prefix)
	for ; i < len(ks) && strings.HasPrefix(ks[i], prefix); i++ {
		if ks[i] != prefix {
			return true
		}
	}
	return false
}

// lookup returns p's status; m.mu must be held.
func (m *MemFS) lookup(p string) (ufs.Status, bool) {
	if p == ufs.Root {
		return ufs.Status{Name: ufs.Root, IsDir: true, Mode: fs.ModeDir.Perm() | 0o755}, true
	}
	if o, ok := m.objs[p]; ok {
		return m.status(ufs.Base(p), o), true
	}
	if o, ok := m.objs[p+"/"]; ok {
		return m.status(ufs.Base(p), o), true
	}
	if m.flavor == ObjectStore && m.hasChildren(p) {
		return ufs.Status{Name: ufs.Base(p), IsDir: true}, true
	}
	return ufs.Status{}, false
}

func (m *MemFS) status(name string, o *object) ufs.Status {
	st := ufs.Status{Name: name, IsDir: o.dir, ModTime: o.mtime, Owner: o.owner, Group: o.group, Mode: o.mode}
	if !o.dir {
		st.Size = int64(len(o.data))
		st.ContentHash = o.hash
	}
	return st
}

// Capabilities implements ufs.UFS.
func (m *MemFS) Capabilities() ufs.Capabilities {
	if m.flavor == ObjectStore {
		return ufs.Capabilities{Kind: "memory", ObjectStore: true}
	}
	return ufs.Capabilities{Kind: "memory", AtomicRename: true, Owners: true}
}

// Close implements ufs.UFS.
func (m *MemFS) Close() error { m.mu.Lock(); m.closed = true; m.mu.Unlock(); return nil }

func (m *MemFS) begin(ctx context.Context, op Op, p string) (string, error) {
	c, err := ufs.CheckPath(string(op), p)
	if err != nil {
		return "", err
	}
	if err := m.enter(ctx, op, c); err != nil {
		return "", pathErr(op, p, err)
	}
	return c, nil
}

// Stat implements ufs.UFS.
func (m *MemFS) Stat(ctx context.Context, p string) (ufs.Status, error) {
	c, err := m.begin(ctx, OpStat, p)
	if err != nil {
		return ufs.Status{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := m.lookup(c)
	if !ok {
		return ufs.Status{}, pathErr(OpStat, p, fs.ErrNotExist)
	}
	return st, nil
}

// List implements ufs.UFS. The page token is the last key returned.
func (m *MemFS) List(ctx context.Context, dir string, opts ufs.ListOptions) (ufs.ListPage, error) {
	c, err := m.begin(ctx, OpList, dir)
	if err != nil {
		return ufs.ListPage{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := m.lookup(c)
	if !ok {
		return ufs.ListPage{}, pathErr(OpList, dir, fs.ErrNotExist)
	}
	if !st.IsDir {
		return ufs.ListPage{}, pathErr(OpList, dir, ufs.ErrNotDir)
	}
	limit := opts.PageSize
	if limit <= 0 {
		limit = m.pageSize
	}
	prefix := dirKey(c)
	if m.flavor == ObjectStore {
		from := prefix
		if tok := opts.PageToken; strings.HasSuffix(tok, "/") {
			from = prefix + tok[:len(tok)-1] + "0" // past every key below that directory
		} else if tok != "" {
			from = prefix + tok + "\x00"
		}
		entries := m.children(prefix, from, limit+1)
		return pageOf(entries, limit, true), nil
	}
	// Directory keys end in '/', so "d/" sorts after "d-1" while filesystems list by name.
	entries := m.children(prefix, prefix, -1)
	sort.Slice(entries, func(a, b int) bool { return entries[a].Name < entries[b].Name })
	if tok := opts.PageToken; tok != "" {
		i := sort.Search(len(entries), func(i int) bool { return entries[i].Name > tok })
		entries = entries[i:]
	}
	return pageOf(entries, limit, false), nil
}

func pageOf(entries []ufs.Status, limit int, objectStore bool) ufs.ListPage {
	if len(entries) <= limit {
		return ufs.ListPage{Entries: entries}
	}
	entries = entries[:limit:limit]
	return ufs.ListPage{Entries: entries, NextPageToken: ufs.ListKey(entries[limit-1], objectStore)}
}

// children returns up to max (all when max < 0) entries directly below prefix, in key
// order, starting at key from; m.mu must be held.
func (m *MemFS) children(prefix, from string, max int) []ufs.Status {
	ks := m.keys()
	var out []ufs.Status
	for i := sort.SearchStrings(ks, from); i < len(ks) && strings.HasPrefix(ks[i], prefix) && len(out) != max; {
		rest := ks[i][len(prefix):]
		if rest == "" {
			i++
			continue
		}
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			name := rest[:j]
			st := ufs.Status{Name: name, IsDir: true}
			if o, ok := m.objs[prefix+name+"/"]; ok {
				st = m.status(name, o)
			}
			out = append(out, st)
			i = sort.SearchStrings(ks, prefix+name+"0") // '0' is the byte after '/'
			continue
		}
		out = append(out, m.status(rest, m.objs[ks[i]]))
		i++
	}
	return out
}

// OpenRange implements ufs.UFS.
func (m *MemFS) OpenRange(ctx context.Context, p string, off, n int64) (io.ReadCloser, error) {
	return m.openRange(ctx, p, off, n, false, "")
}

// OpenVersion implements ufs.VersionReader.
func (m *MemFS) OpenVersion(ctx context.Context, p, hash string, off, n int64) (io.ReadCloser, error) {
	return m.openRange(ctx, p, off, n, true, hash)
}

func (m *MemFS) openRange(ctx context.Context, p string, off, n int64, versioned bool, hash string) (io.ReadCloser, error) {
	c, err := m.begin(ctx, OpOpen, p)
	if err != nil {
		return nil, err
	}
	if off < 0 {
		return nil, pathErr(OpOpen, p, fmt.Errorf("%w: negative offset", fs.ErrInvalid))
	}
	m.mu.Lock()
	st, ok := m.lookup(c)
	var data []byte
	if ok && !st.IsDir {
		data = m.objs[c].data
	}
	short := m.short
	m.mu.Unlock()
	switch {
	case !ok:
		return nil, pathErr(OpOpen, p, fs.ErrNotExist)
	case st.IsDir:
		return nil, pathErr(OpOpen, p, ufs.ErrIsDir)
	case versioned && st.ContentHash != hash:
		return nil, pathErr(OpOpen, p, fmt.Errorf("%w: content hash %s, want %s", ufs.ErrChanged, st.ContentHash, hash))
	}
	truncated := versioned && n >= 0 && off+n > int64(len(data))
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	end := int64(len(data))
	if n >= 0 && off+n < end {
		end = off + n
	}
	return &memReader{m: m, ctx: ctx, path: c, data: data[off:end], short: short, truncated: truncated}, nil
}

type memReader struct {
	m         *MemFS
	ctx       context.Context
	path      string
	data      []byte
	short     bool
	truncated bool // the version asked for is longer than what is there: end with ErrChanged
}

func (r *memReader) Read(p []byte) (int, error) {
	if err := r.m.enter(r.ctx, OpRead, r.path); err != nil {
		return 0, pathErr(OpRead, r.path, err)
	}
	if len(r.data) == 0 {
		if r.truncated {
			return 0, pathErr(OpRead, r.path, fmt.Errorf("%w: file is shorter than the version asked for", ufs.ErrChanged))
		}
		return 0, io.EOF
	}
	if r.short && len(p) > 1 {
		r.m.mu.Lock()
		k := 1 + r.m.rng.Intn(7)
		r.m.mu.Unlock()
		if k < len(p) {
			p = p[:k]
		}
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func (r *memReader) Close() error { return nil }

// Create implements ufs.UFS.
func (m *MemFS) Create(ctx context.Context, p string, opts ufs.CreateOptions) (ufs.Writer, error) {
	c, err := m.begin(ctx, OpCreate, p)
	if err != nil {
		return nil, err
	}
	if c == ufs.Root {
		return nil, pathErr(OpCreate, p, fmt.Errorf("%w: cannot create the root", fs.ErrInvalid))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkCreate(c); err != nil {
		return nil, pathErr(OpCreate, p, err)
	}
	mode := opts.Mode.Perm()
	if mode == 0 {
		mode = 0o644
	}
	w := &memWriter{m: m, ctx: ctx, path: c, mode: mode}
	if opts.SizeKnown && opts.Size > 0 && opts.Size < 1<<30 {
		w.buf.Grow(int(opts.Size))
	}
	return w, nil
}

// checkCreate reports why a file cannot be created at c; m.mu must be held.
func (m *MemFS) checkCreate(c string) error {
	if m.flavor == ObjectStore {
		return nil
	}
	if _, ok := m.objs[c+"/"]; ok {
		return ufs.ErrIsDir
	}
	for d, _ := ufs.Split(c); d != ufs.Root; d, _ = ufs.Split(d) {
		if _, ok := m.objs[d]; ok {
			return ufs.ErrNotDir
		}
	}
	return nil
}

// mkdirs creates the directory entries of c and its parents (filesystem flavor); m.mu
// must be held.
func (m *MemFS) mkdirs(c string) {
	if m.flavor != FileSystem {
		return
	}
	now := m.clock()
	for d := c; d != ufs.Root; d, _ = ufs.Split(d) {
		if _, ok := m.objs[d+"/"]; ok {
			return
		}
		m.put(d+"/", &object{dir: true, mtime: now, mode: 0o755, owner: "memory", group: "memory"})
	}
}

type memWriter struct {
	m      *MemFS
	ctx    context.Context
	path   string
	mode   fs.FileMode
	buf    bytes.Buffer
	done   bool
	failed error

	written ufs.Status
	ok      bool
}

func (w *memWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, pathErr(OpWrite, w.path, fs.ErrClosed)
	}
	if w.failed != nil {
		return 0, w.failed
	}
	if err := w.m.enter(w.ctx, OpWrite, w.path); err != nil {
		w.failed = pathErr(OpWrite, w.path, err)
		return 0, w.failed
	}
	return w.buf.Write(p)
}

func (w *memWriter) Close() error {
	if w.done {
		return pathErr(OpClose, w.path, fs.ErrClosed)
	}
	w.done = true
	if w.failed != nil {
		return w.failed
	}
	if err := w.m.enter(w.ctx, OpClose, w.path); err != nil {
		return pathErr(OpClose, w.path, err)
	}
	m := w.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkCreate(w.path); err != nil {
		return pathErr(OpClose, w.path, err)
	}
	if d, _ := ufs.Split(w.path); d != ufs.Root {
		m.mkdirs(d)
	}
	data := bytes.Clone(w.buf.Bytes())
	o := &object{data: data, mtime: m.clock(), hash: hashOf(data), owner: "memory", group: "memory", mode: w.mode}
	m.put(w.path, o)
	w.written, w.ok = m.status(ufs.Base(w.path), o), true
	return nil
}

// Written implements ufs.StatWriter.
func (w *memWriter) Written() (ufs.Status, bool) { return w.written, w.ok }

func (w *memWriter) Abort() error { w.done = true; return nil }

// Mkdir implements ufs.UFS.
func (m *MemFS) Mkdir(ctx context.Context, p string) error {
	c, err := m.begin(ctx, OpMkdir, p)
	if err != nil {
		return err
	}
	if c == ufs.Root {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.flavor == ObjectStore {
		if _, ok := m.objs[c+"/"]; !ok {
			m.put(c+"/", &object{dir: true, mtime: m.clock()})
		}
		return nil
	}
	for d := c; d != ufs.Root; d, _ = ufs.Split(d) {
		if _, ok := m.objs[d]; ok {
			return pathErr(OpMkdir, p, fs.ErrExist)
		}
	}
	m.mkdirs(c)
	return nil
}

// Remove implements ufs.UFS.
func (m *MemFS) Remove(ctx context.Context, p string) error {
	c, err := m.begin(ctx, OpRemove, p)
	if err != nil {
		return err
	}
	if c == ufs.Root {
		return pathErr(OpRemove, p, fmt.Errorf("%w: cannot remove the root", fs.ErrInvalid))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.objs[c]; ok {
		m.del(c)
		return nil
	}
	st, ok := m.lookup(c)
	if !ok {
		return pathErr(OpRemove, p, fs.ErrNotExist)
	}
	if st.IsDir && m.hasChildren(c) {
		return pathErr(OpRemove, p, ufs.ErrNotEmpty)
	}
	m.del(c + "/")
	return nil
}

// RemoveAll implements ufs.UFS.
func (m *MemFS) RemoveAll(ctx context.Context, p string) error {
	c, err := m.begin(ctx, OpRemoveAll, p)
	if err != nil {
		return err
	}
	if c == ufs.Root {
		return pathErr(OpRemoveAll, p, fmt.Errorf("%w: cannot remove the root", fs.ErrInvalid))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.removeAll(c)
	return nil
}

func (m *MemFS) removeAll(c string) {
	m.del(c)
	prefix := c + "/"
	ks := m.keys()
	var doomed []string
	for i := sort.SearchStrings(ks, prefix); i < len(ks) && strings.HasPrefix(ks[i], prefix); i++ {
		doomed = append(doomed, ks[i])
	}
	for _, k := range doomed {
		m.del(k)
	}
}

// Rename implements ufs.UFS. The filesystem flavor moves everything under one lock; the
// object-store flavor copies each key and then deletes the sources, releasing the lock in
// between as a real store would.
func (m *MemFS) Rename(ctx context.Context, src, dst string) error {
	s, err := m.begin(ctx, OpRename, src)
	if err != nil {
		return err
	}
	d, err := ufs.CheckTarget("rename", s, dst)
	if err != nil {
		return err
	}
	m.mu.Lock()
	st, ok := m.lookup(s)
	if !ok {
		m.mu.Unlock()
		return pathErr(OpRename, src, fs.ErrNotExist)
	}
	if _, exists := m.lookup(d); exists {
		m.mu.Unlock()
		return pathErr(OpRename, dst, fs.ErrExist)
	}
	if m.flavor == FileSystem {
		defer m.mu.Unlock()
		if err := m.checkCreate(d); err != nil {
			return pathErr(OpRename, dst, err)
		}
		if dd, _ := ufs.Split(d); dd != ufs.Root {
			m.mkdirs(dd)
		}
		for _, k := range m.subtree(s, st.IsDir) {
			o := m.objs[k]
			m.del(k)
			m.put(d+k[len(s):], o)
		}
		return nil
	}
	moves := m.subtree(s, st.IsDir)
	m.mu.Unlock()
	for _, k := range moves {
		if err := ctx.Err(); err != nil {
			return pathErr(OpRename, src, err)
		}
		m.mu.Lock()
		if o, ok := m.objs[k]; ok {
			m.put(d+k[len(s):], o)
		}
		m.mu.Unlock()
	}
	m.mu.Lock()
	for _, k := range moves {
		m.del(k)
	}
	m.mu.Unlock()
	return nil
}

// subtree returns the keys of s (and below it when dir); m.mu must be held.
func (m *MemFS) subtree(s string, dir bool) []string {
	if !dir {
		return []string{s}
	}
	prefix := s + "/"
	ks := m.keys()
	var out []string
	for i := sort.SearchStrings(ks, prefix); i < len(ks) && strings.HasPrefix(ks[i], prefix); i++ {
		out = append(out, ks[i])
	}
	return out
}
