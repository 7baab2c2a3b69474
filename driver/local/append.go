package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"github.com/unifiedfs/unifiedfs/ufs"
)

// Append implements ufs.Appender. The writer holds an exclusive flock on its file, which
// the kernel drops when the process dies: a second Append (from this process or another
// on the machine) fails with ufs.ErrBusy until the writer closes. On NFS, Linux emulates
// flock with a POSIX lock through the lock manager, which excludes other machines but not
// a second appender in the same process. Sync is fsync, whatever local.fsync says.
func (l *FS) Append(ctx context.Context, c string) (ufs.AppendWriter, error) {
	dir, _ := ufs.Split(c)
	created := highestMissing(l.root, dir)
	if err := l.root.MkdirAll(dir, 0o755); err != nil {
		if errors.Is(err, syscall.ENOTDIR) || errors.Is(err, fs.ErrExist) {
			return nil, ufs.WrapErr(ufs.ErrNotDir, err)
		}
		return nil, err
	}
	f, err := l.root.OpenFile(c, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_EXCL, 0o600)
	isNew := err == nil
	if errors.Is(err, fs.ErrExist) {
		f, err = l.root.OpenFile(c, os.O_WRONLY|os.O_APPEND, 0)
	}
	if err != nil {
		return nil, err
	}
	if err := lockExclusive(f); err != nil {
		f.Close()
		return nil, busyErr(err)
	}
	if isNew {
		// The new entry, and any directory created for it, must survive a crash.
		if err := l.syncUp(dir, created); err != nil {
			f.Close()
			return nil, err
		}
	}
	return &appendWriter{l: l, ctx: ctx, f: f, path: c}, nil
}

// Truncate implements ufs.Appender: the file is cut and fsynced. It takes the file's
// flock for the duration, so a file open in an AppendWriter fails with ufs.ErrBusy.
func (l *FS) Truncate(ctx context.Context, c string, size int64) error {
	f, err := l.root.OpenFile(c, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := lockExclusive(f); err != nil {
		return busyErr(err)
	}
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if size > fi.Size() {
		return fmt.Errorf("%w: cannot truncate a %d-byte file to %d bytes", fs.ErrInvalid, fi.Size(), size)
	}
	if err := f.Truncate(size); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	return f.Close()
}

// highestMissing returns the highest missing directory among dir and its ancestors, or
// "" when dir exists.
func highestMissing(root *os.Root, dir string) string {
	missing := ""
	for d := dir; d != ufs.Root; d, _ = ufs.Split(d) {
		if _, err := root.Stat(d); err == nil {
			break
		}
		missing = d
	}
	return missing
}

// syncUp fsyncs dir, which gained an entry, and, when created names the highest
// directory MkdirAll made, every directory from dir's parent up to created's parent,
// each of which gained one.
func (l *FS) syncUp(dir, created string) error {
	stop := dir
	if created != "" {
		stop, _ = ufs.Split(created)
	}
	for d := dir; ; d, _ = ufs.Split(d) {
		if err := l.syncDir(d); err != nil {
			return err
		}
		if d == stop || d == ufs.Root {
			return nil
		}
	}
}

// syncDir fsyncs the directory dir, making its entries (creations, renames) durable.
func (l *FS) syncDir(dir string) error {
	d, err := l.root.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// appendWriter writes straight to the file descriptor: nothing is buffered. The guard
// passes AppendWriters through, so it wraps its own errors.
type appendWriter struct {
	l      *FS
	ctx    context.Context
	f      *os.File
	path   string // clean
	err    error  // sticky failure
	closed bool
}

// pathErr is the contract's error for op on the writer's file.
func (w *appendWriter) pathErr(op string, err error) error {
	return &fs.PathError{Op: op, Path: ufs.Rooted(w.path), Err: w.l.Classify(err)}
}

func (w *appendWriter) check(op string) error {
	switch {
	case w.closed:
		return w.pathErr(op, fs.ErrClosed)
	case w.err != nil:
		return w.err
	}
	if err := w.ctx.Err(); err != nil {
		w.err = w.pathErr(op, err)
		return w.err
	}
	return nil
}

func (w *appendWriter) Write(p []byte) (int, error) {
	if err := w.check("write"); err != nil {
		return 0, err
	}
	n, err := w.f.Write(p)
	if err != nil {
		w.err = w.pathErr("write", err)
	}
	return n, w.err
}

func (w *appendWriter) Sync() error {
	if err := w.check("sync"); err != nil {
		return err
	}
	if err := w.f.Sync(); err != nil {
		w.err = w.pathErr("sync", err)
	}
	return w.err
}

// Close fsyncs and closes the file, releasing its flock.
func (w *appendWriter) Close() error {
	if w.closed {
		return w.pathErr("close", fs.ErrClosed)
	}
	err := w.check("close")
	if err == nil {
		if serr := w.f.Sync(); serr != nil {
			err = w.pathErr("close", serr)
		}
	}
	w.closed = true
	if cerr := w.f.Close(); err == nil && cerr != nil {
		err = w.pathErr("close", cerr)
	}
	return err
}
