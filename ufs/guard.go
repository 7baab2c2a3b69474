package ufs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sync/atomic"
)

// Guard returns d behind the portable layer every UFS handed out goes through
// (Registry.Open and the drivers' typed constructors return guarded values, as go-cloud's
// blob.Bucket wraps a driver.Bucket). The guard does once what each driver would repeat:
//
//   - it cleans every path (CheckPath) and the destination of a rename (CheckTarget), so
//     the driver sees only clean paths, and refuses the root where the contract does
//     (Create, Remove, RemoveAll, Append: fs.ErrInvalid; OpenRange: ErrIsDir) and a
//     negative offset or size (fs.ErrInvalid);
//   - after Close every call fails with fs.ErrClosed, and a second Close too;
//   - a call whose context is done fails with ctx.Err() before the driver sees it, and any
//     failure while it is done keeps ctx.Err() in the chain;
//   - every error is a *fs.PathError naming the operation and the rooted path ("/a/b"),
//     its cause passed through the driver's Classifier when it has one (a driver error
//     that is already a *fs.PathError for the same operation is re-rooted, not nested);
//   - readers fail once their context is done; writers follow the Writer state machine
//     (see guardWriter), so a driver's writer is closed at most once and aborted at most
//     once, never both, and aborted when a Write fails or the context ends;
//   - it counts calls and errors per operation (CallStats).
//
// The guarded UFS implements exactly the optional interfaces d implements (VersionReader,
// ChangeCounter, Appender, Sealer, OptionKeyer, RetryReporter), plus CallStats; Unwrap
// returns d. Guarding a guarded UFS returns it unchanged.
//
// A driver implements the UFS methods for clean paths and may implement Classifier. Its
// Writer is called by one goroutine; its AppendWriters are passed through unchanged.
func Guard(d UFS) UFS {
	if _, ok := d.(guarded); ok {
		return d
	}
	g := &guard{d: d}
	if c, ok := d.(Classifier); ok {
		g.classify = c.Classify
	}
	g.has = extensionsOf(d)
	return combine(g, g.has)
}

// Unwrap returns the driver under a guarded UFS (see Guard), for its own methods (an S3
// client, an HDFS root); a UFS that is not guarded is returned as it is. A driver's
// methods expect clean paths and do none of the guard's checks.
func Unwrap(u UFS) UFS {
	if g, ok := u.(guarded); ok {
		return g.guardOf().d
	}
	return u
}

// Classifier is implemented by drivers whose errors need mapping to the contract's
// sentinels (see the package doc): Classify returns err wrapped (WrapErr) with the
// sentinel its error code or status stands for, or err unchanged. The guard calls it on
// every error a driver method, reader or writer returns (io.EOF excepted), like go-cloud's
// ErrorCode; it must accept errors it has already classified.
type Classifier interface {
	Classify(err error) error
}

// CallStats is implemented by every guarded UFS: the calls made through it and the errors
// they returned, per operation.
type CallStats interface {
	// Calls returns one count per operation the UFS offers, in a fixed order: the
	// operations of UFS, then those of the optional interfaces it implements.
	Calls() []OpCount
}

// OpCount counts the calls of one operation and, of those, the ones that failed (any
// error, fs.ErrNotExist included; io.EOF is not a failure).
type OpCount struct {
	Op     string // "stat", "list", "open" (OpenRange and OpenVersion), "read" (one Read), "create", "write", "close" (an upload's Close), "abort", "mkdir", "remove", "removeall", "rename", "changes", "append", "truncate", "seal"
	Calls  int64
	Errors int64
}

// RetryStats counts what a driver's retry policy did (package ufs/retry calls it Stats).
// All fields are safe for concurrent use.
type RetryStats struct {
	Retries   atomic.Int64 // retries after a transient failure
	Throttled atomic.Int64 // retries after throttling (429, 503 SlowDown, Kodo 573)
	Resumed   atomic.Int64 // reads re-opened after their body broke
	GaveUp    atomic.Int64 // calls that failed after at least one retry, or whose retry would have passed the deadline
}

// RetryReporter is implemented by UFSs whose requests run under a retry policy, so that a
// program can export the counts as metrics (package ufs/retry calls it Reporter).
type RetryReporter interface {
	RetryStats() *RetryStats
}

// The operations a guard counts, in the order Calls reports them.
type opIndex uint8

const (
	opStat opIndex = iota
	opList
	opOpen
	opRead
	opCreate
	opWrite
	opClose
	opAbort
	opMkdir
	opRemove
	opRemoveAll
	opRename
	opChanges
	opAppend
	opTruncate
	opSeal
	opChmod
	opChown
	numOps
)

var opNames = [numOps]string{"stat", "list", "open", "read", "create", "write", "close", "abort", "mkdir", "remove",
	"removeall", "rename", "changes", "append", "truncate", "seal", "chmod", "chown"}

// extSet is a set of the optional interfaces a driver implements.
type extSet uint8

const (
	extVersion extSet = 1 << iota
	extChanges
	extAppend
	extSeal
	extKeys
	extRetry
	extAttr
	numExtSets = 1 << iota
)

func extensionsOf(d UFS) extSet {
	var has extSet
	if _, ok := d.(VersionReader); ok {
		has |= extVersion
	}
	if _, ok := d.(ChangeCounter); ok {
		has |= extChanges
	}
	if _, ok := d.(Appender); ok {
		has |= extAppend
	}
	if _, ok := d.(Sealer); ok {
		has |= extSeal
	}
	if _, ok := d.(OptionKeyer); ok {
		has |= extKeys
	}
	if _, ok := d.(RetryReporter); ok {
		has |= extRetry
	}
	if _, ok := d.(Attributer); ok {
		has |= extAttr
	}
	return has
}

// guarded is implemented by every value combine returns.
type guarded interface{ guardOf() *guard }

type guard struct {
	d        UFS
	classify func(error) error
	has      extSet
	closed   atomic.Bool
	calls    [numOps]atomic.Int64
	errs     [numOps]atomic.Int64
}

func (g *guard) guardOf() *guard { return g }

var errUFSClosed = fmt.Errorf("%w: the UFS was closed", fs.ErrClosed)

// Calls implements CallStats.
func (g *guard) Calls() []OpCount {
	out := make([]OpCount, 0, numOps)
	for i := range numOps {
		switch {
		case i == opChanges && g.has&extChanges == 0,
			(i == opAppend || i == opTruncate) && g.has&extAppend == 0,
			i == opSeal && g.has&extSeal == 0,
			(i == opChmod || i == opChown) && g.has&extAttr == 0:
			continue
		}
		out = append(out, OpCount{Op: opNames[i], Calls: g.calls[i].Load(), Errors: g.errs[i].Load()})
	}
	return out
}

// enter counts a call of op on p and returns p cleaned, or the error that ends the call:
// a bad path, a closed UFS, a done context.
func (g *guard) enter(ctx context.Context, op opIndex, p string) (string, error) {
	g.calls[op].Add(1)
	c, err := CheckPath(opNames[op], p)
	if err != nil {
		g.errs[op].Add(1)
		return "", err
	}
	if g.closed.Load() {
		return "", g.fail(ctx, op, c, errUFSClosed)
	}
	if err := ctx.Err(); err != nil {
		return "", g.fail(ctx, op, c, err)
	}
	return c, nil
}

// fail counts a failure of op on the clean path c and returns it as the contract's error.
func (g *guard) fail(ctx context.Context, op opIndex, c string, err error) error {
	g.errs[op].Add(1)
	return g.pathError(ctx, opNames[op], c, err)
}

// done returns err (nil or a failure of op on c, counted).
func (g *guard) done(ctx context.Context, op opIndex, c string, err error) error {
	if err == nil {
		return nil
	}
	return g.fail(ctx, op, c, err)
}

// pathError wraps err as the *fs.PathError of op on the clean path c.
func (g *guard) pathError(ctx context.Context, op, c string, err error) error {
	if pe, ok := err.(*fs.PathError); ok && pe.Op == op {
		err = pe.Err // the driver named it already: one PathError, with the rooted path
	}
	if g.classify != nil {
		err = g.classify(err)
	}
	if cerr := ctx.Err(); cerr != nil {
		err = WrapErr(cerr, err)
	}
	return &fs.PathError{Op: op, Path: Rooted(c), Err: err}
}

// invalid is the error of a call the contract refuses before any I/O.
func invalid(why string) error { return fmt.Errorf("%w: %s", fs.ErrInvalid, why) }

// Stat implements UFS.
func (g *guard) Stat(ctx context.Context, p string) (Status, error) {
	c, err := g.enter(ctx, opStat, p)
	if err != nil {
		return Status{}, err
	}
	st, err := g.d.Stat(ctx, c)
	return st, g.done(ctx, opStat, c, err)
}

// List implements UFS.
func (g *guard) List(ctx context.Context, dir string, opts ListOptions) (ListPage, error) {
	c, err := g.enter(ctx, opList, dir)
	if err != nil {
		return ListPage{}, err
	}
	page, err := g.d.List(ctx, c, opts)
	return page, g.done(ctx, opList, c, err)
}

// OpenRange implements UFS.
func (g *guard) OpenRange(ctx context.Context, p string, off, n int64) (io.ReadCloser, error) {
	return g.open(ctx, p, off, func(c string) (io.ReadCloser, error) { return g.d.OpenRange(ctx, c, off, n) })
}

// openVersion implements VersionReader for drivers that do.
func (g *guard) openVersion(ctx context.Context, p, hash string, off, n int64) (io.ReadCloser, error) {
	return g.open(ctx, p, off, func(c string) (io.ReadCloser, error) {
		return g.d.(VersionReader).OpenVersion(ctx, c, hash, off, n)
	})
}

func (g *guard) open(ctx context.Context, p string, off int64, open func(c string) (io.ReadCloser, error)) (io.ReadCloser, error) {
	c, err := g.enter(ctx, opOpen, p)
	if err != nil {
		return nil, err
	}
	switch {
	case off < 0:
		return nil, g.fail(ctx, opOpen, c, invalid(fmt.Sprintf("negative offset %d", off)))
	case c == Root:
		return nil, g.fail(ctx, opOpen, c, ErrIsDir)
	}
	r, err := open(c)
	if err != nil {
		return nil, g.fail(ctx, opOpen, c, err)
	}
	return &guardReader{g: g, ctx: ctx, path: c, r: r}, nil
}

// guardReader fails Reads once its context is done and wraps the driver's errors.
type guardReader struct {
	g    *guard
	ctx  context.Context
	path string
	r    io.ReadCloser
}

func (r *guardReader) Read(p []byte) (int, error) {
	r.g.calls[opRead].Add(1)
	if err := r.ctx.Err(); err != nil {
		return 0, r.g.fail(r.ctx, opRead, r.path, err)
	}
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		err = r.g.fail(r.ctx, opRead, r.path, err)
	}
	return n, err
}

func (r *guardReader) Close() error { return r.r.Close() }

// Create implements UFS.
func (g *guard) Create(ctx context.Context, p string, opts CreateOptions) (Writer, error) {
	c, err := g.enter(ctx, opCreate, p)
	if err != nil {
		return nil, err
	}
	if c == Root {
		return nil, g.fail(ctx, opCreate, c, invalid("cannot create the root"))
	}
	w, err := g.d.Create(ctx, c, opts)
	if err != nil {
		return nil, g.fail(ctx, opCreate, c, err)
	}
	gw := &guardWriter{g: g, ctx: ctx, path: c, w: w}
	if sw, ok := w.(StatWriter); ok {
		return &statGuardWriter{gw, sw}, nil
	}
	return gw, nil
}

// Mkdir implements UFS.
func (g *guard) Mkdir(ctx context.Context, p string) error {
	c, err := g.enter(ctx, opMkdir, p)
	if err != nil {
		return err
	}
	return g.done(ctx, opMkdir, c, g.d.Mkdir(ctx, c))
}

// Remove implements UFS.
func (g *guard) Remove(ctx context.Context, p string) error {
	c, err := g.enter(ctx, opRemove, p)
	if err != nil {
		return err
	}
	if c == Root {
		return g.fail(ctx, opRemove, c, invalid("cannot remove the root"))
	}
	return g.done(ctx, opRemove, c, g.d.Remove(ctx, c))
}

// RemoveAll implements UFS.
func (g *guard) RemoveAll(ctx context.Context, p string) error {
	c, err := g.enter(ctx, opRemoveAll, p)
	if err != nil {
		return err
	}
	if c == Root {
		return g.fail(ctx, opRemoveAll, c, invalid("cannot remove the root"))
	}
	return g.done(ctx, opRemoveAll, c, g.d.RemoveAll(ctx, c))
}

// Rename implements UFS. Errors name the source.
func (g *guard) Rename(ctx context.Context, src, dst string) error {
	s, err := g.enter(ctx, opRename, src)
	if err != nil {
		return err
	}
	d, err := CheckTarget("rename", s, dst)
	if err != nil {
		g.errs[opRename].Add(1)
		return err
	}
	return g.done(ctx, opRename, s, g.d.Rename(ctx, s, d))
}

// Capabilities implements UFS.
func (g *guard) Capabilities() Capabilities { return g.d.Capabilities() }

// Close implements UFS: it closes the driver once; a second Close fails with fs.ErrClosed.
func (g *guard) Close() error {
	if g.closed.Swap(true) {
		return &fs.PathError{Op: "close", Path: "/", Err: errUFSClosed}
	}
	if err := g.d.Close(); err != nil {
		return g.pathError(context.Background(), "close", Root, err)
	}
	return nil
}

func (g *guard) changesSince(ctx context.Context, dir string, cursor uint64) (int, uint64, error) {
	c, err := g.enter(ctx, opChanges, dir)
	if err != nil {
		return 0, 0, err
	}
	n, now, err := g.d.(ChangeCounter).ChangesSince(ctx, c, cursor)
	return n, now, g.done(ctx, opChanges, c, err)
}

func (g *guard) append(ctx context.Context, p string) (AppendWriter, error) {
	c, err := g.enter(ctx, opAppend, p)
	if err != nil {
		return nil, err
	}
	if c == Root {
		return nil, g.fail(ctx, opAppend, c, invalid("cannot append to the root"))
	}
	w, err := g.d.(Appender).Append(ctx, c)
	if err != nil {
		return nil, g.fail(ctx, opAppend, c, err)
	}
	return w, nil
}

func (g *guard) truncate(ctx context.Context, p string, size int64) error {
	c, err := g.enter(ctx, opTruncate, p)
	if err != nil {
		return err
	}
	switch {
	case size < 0:
		return g.fail(ctx, opTruncate, c, invalid(fmt.Sprintf("negative size %d", size)))
	case c == Root:
		return g.fail(ctx, opTruncate, c, ErrIsDir)
	}
	return g.done(ctx, opTruncate, c, g.d.(Appender).Truncate(ctx, c, size))
}

func (g *guard) seal(ctx context.Context, p string) error {
	c, err := g.enter(ctx, opSeal, p)
	if err != nil {
		return err
	}
	if c == Root {
		return g.fail(ctx, opSeal, c, ErrIsDir)
	}
	return g.done(ctx, opSeal, c, g.d.(Sealer).Seal(ctx, c))
}

func (g *guard) chmod(ctx context.Context, p string, mode fs.FileMode) error {
	c, err := g.enter(ctx, opChmod, p)
	if err != nil {
		return err
	}
	if mode&^fs.ModePerm != 0 {
		return g.fail(ctx, opChmod, c, invalid(fmt.Sprintf("mode %v has bits beyond the permissions", mode)))
	}
	return g.done(ctx, opChmod, c, g.d.(Attributer).Chmod(ctx, c, mode))
}

func (g *guard) chown(ctx context.Context, p, owner, group string) error {
	c, err := g.enter(ctx, opChown, p)
	if err != nil {
		return err
	}
	if owner == "" && group == "" {
		return g.fail(ctx, opChown, c, invalid("neither an owner nor a group"))
	}
	return g.done(ctx, opChown, c, g.d.(Attributer).Chown(ctx, c, owner, group))
}

// The optional interfaces, each a view of the guard that combine embeds when the driver
// implements the interface.

type versionReader struct{ g *guard }

func (x versionReader) OpenVersion(ctx context.Context, p, hash string, off, n int64) (io.ReadCloser, error) {
	return x.g.openVersion(ctx, p, hash, off, n)
}

type changeCounter struct{ g *guard }

func (x changeCounter) ChangesSince(ctx context.Context, dir string, cursor uint64) (int, uint64, error) {
	return x.g.changesSince(ctx, dir, cursor)
}

type appender struct{ g *guard }

func (x appender) Append(ctx context.Context, p string) (AppendWriter, error) {
	return x.g.append(ctx, p)
}
func (x appender) Truncate(ctx context.Context, p string, size int64) error {
	return x.g.truncate(ctx, p, size)
}

type sealer struct{ g *guard }

func (x sealer) Seal(ctx context.Context, p string) error { return x.g.seal(ctx, p) }

type optionKeyer struct{ g *guard }

func (x optionKeyer) OptionKeys() []string { return x.g.d.(OptionKeyer).OptionKeys() }

type attributer struct{ g *guard }

func (x attributer) Chmod(ctx context.Context, p string, mode fs.FileMode) error {
	return x.g.chmod(ctx, p, mode)
}
func (x attributer) Chown(ctx context.Context, p, owner, group string) error {
	return x.g.chown(ctx, p, owner, group)
}

type retryReporter struct{ g *guard }

func (x retryReporter) RetryStats() *RetryStats { return x.g.d.(RetryReporter).RetryStats() }

// Writer states.
const (
	writing uint8 = iota
	failed        // a Write failed or the context ended: the driver's writer was aborted
	closed        // Close was called (whatever it returned)
	aborted       // Abort was called
)

// guardWriter is the Writer state machine around a driver's writer:
//
//	Write while writing     checks ctx, then the driver's Write; a failure (or a done
//	                        ctx) aborts the driver's writer and becomes final (failed)
//	Write when failed       returns that failure again
//	Write after Close/Abort fails with fs.ErrClosed
//	Close while writing     checks ctx (done: aborts, fails), then the driver's Close once
//	Close when failed       returns the failure (the upload left nothing)
//	Close after Close/Abort fails with fs.ErrClosed
//	Abort while writing     the driver's Abort once
//	Abort otherwise         a no-op (after Close, after Abort, after a failure)
//
// The driver's Close is never called after its Abort, nor twice; when it fails it leaves
// nothing visible (the guard does not abort it then).
type guardWriter struct {
	g     *guard
	ctx   context.Context
	path  string
	w     Writer
	state uint8
	err   error // the failure, when failed
	ok    bool  // Close succeeded
}

var errWriterClosed = fmt.Errorf("%w: the upload was closed or aborted", fs.ErrClosed)

func (w *guardWriter) Write(p []byte) (int, error) {
	g := w.g
	g.calls[opWrite].Add(1)
	switch w.state {
	case failed:
		g.errs[opWrite].Add(1)
		return 0, w.err
	case closed, aborted:
		return 0, g.fail(w.ctx, opWrite, w.path, errWriterClosed)
	}
	if err := w.ctx.Err(); err != nil {
		return 0, w.abandon(opWrite, err)
	}
	n, err := w.w.Write(p)
	if err != nil {
		return n, w.abandon(opWrite, err)
	}
	return n, nil
}

// abandon aborts the driver's writer after err (of op), which becomes final.
func (w *guardWriter) abandon(op opIndex, err error) error {
	if aerr := w.w.Abort(); aerr != nil {
		err = errors.Join(err, aerr)
	}
	w.state = failed
	w.err = w.g.fail(w.ctx, op, w.path, err)
	return w.err
}

func (w *guardWriter) Close() error {
	g := w.g
	g.calls[opClose].Add(1)
	switch w.state {
	case failed:
		w.state = closed
		g.errs[opClose].Add(1)
		return w.err
	case closed, aborted:
		return g.fail(w.ctx, opClose, w.path, errWriterClosed)
	}
	if err := w.ctx.Err(); err != nil {
		err = w.abandon(opClose, err)
		w.state = closed
		return err
	}
	w.state = closed
	if err := w.w.Close(); err != nil {
		return g.fail(w.ctx, opClose, w.path, err)
	}
	w.ok = true
	return nil
}

func (w *guardWriter) Abort() error {
	g := w.g
	g.calls[opAbort].Add(1)
	if w.state != writing {
		if w.state == failed {
			w.state = aborted
		}
		return nil
	}
	w.state = aborted
	return g.done(w.ctx, opAbort, w.path, w.w.Abort())
}

// statGuardWriter is a guardWriter over a driver writer that implements StatWriter.
type statGuardWriter struct {
	*guardWriter
	sw StatWriter
}

// Written implements StatWriter: the driver's answer, once Close succeeded.
func (w *statGuardWriter) Written() (Status, bool) {
	if !w.ok {
		return Status{}, false
	}
	return w.sw.Written()
}
