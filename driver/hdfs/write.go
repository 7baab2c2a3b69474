package hdfs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"

	hdfs "github.com/colinmarc/hdfs/v2"

	"github.com/unifiedfs/unifiedfs/ufs"
)

// Create implements ufs.UFS.
func (f *FS) Create(ctx context.Context, p string, opts ufs.CreateOptions) (ufs.Writer, error) {
	c, err := f.begin(ctx, "create", p)
	if err != nil {
		return nil, err
	}
	if c == ufs.Root {
		return nil, invalid("create", p, "cannot create the root")
	}
	if fi, err := f.client.Stat(f.abs(c)); err == nil && fi.IsDir() {
		return nil, &fs.PathError{Op: "create", Path: p, Err: ufs.ErrIsDir}
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, mapErr("create", p, err)
	}
	dir, base := ufs.Split(c)
	if err := f.mkdirParent("create", p, dir); err != nil {
		return nil, err
	}
	var tok [8]byte
	_, _ = rand.Read(tok[:])
	tmp := ufs.Join(dir, ufs.TempName(base, hex.EncodeToString(tok[:])))
	mode := opts.Mode.Perm()
	if mode == 0 {
		mode = 0o644
	}
	fw, err := f.client.CreateFile(f.abs(tmp), f.defaults.Replication, f.defaults.BlockSize, mode)
	if err != nil {
		return nil, mapErr("create", p, err)
	}
	return &writer{f: f, ctx: ctx, fw: fw, tmp: tmp, dst: c, path: p}, nil
}

// writer uploads to a temporary file and renames it into place on Close. The client
// renews its lease in the background while the FS is open.
type writer struct {
	f      *FS
	ctx    context.Context
	fw     *hdfs.FileWriter
	tmp    string
	dst    string
	path   string
	done   bool
	failed error
}

func (w *writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, &fs.PathError{Op: "write", Path: w.path, Err: fs.ErrClosed}
	}
	if w.failed != nil {
		return 0, w.failed
	}
	if err := w.ctx.Err(); err != nil {
		w.fail(&fs.PathError{Op: "write", Path: w.path, Err: err})
		return 0, w.failed
	}
	if len(p) == 0 {
		return 0, nil // the client would allocate an empty block, which never completes
	}
	n, err := w.fw.Write(p)
	if err != nil {
		w.fail(mapErr("write", w.path, err))
	}
	return n, w.failed
}

// fail records the upload's error and discards the temporary file.
func (w *writer) fail(err error) {
	w.failed = err
	w.discard()
}

// discard deletes the temporary file first (the NameNode drops an open file and its
// lease), then closes the client's writer to release its DataNode connection; that
// close fails, as the file is gone.
func (w *writer) discard() {
	_ = w.f.client.Remove(w.f.abs(w.tmp))
	_ = w.fw.Close()
}

func (w *writer) Close() error {
	if w.done {
		return &fs.PathError{Op: "close", Path: w.path, Err: fs.ErrClosed}
	}
	w.done = true
	if w.failed != nil {
		return w.failed
	}
	if err := w.ctx.Err(); err != nil {
		w.discard()
		return &fs.PathError{Op: "close", Path: w.path, Err: err}
	}
	if err := w.f.complete(w.ctx, w.fw, w.path); err != nil {
		_ = w.f.client.Remove(w.f.abs(w.tmp))
		return err
	}
	// Create replaces a file, never a directory (one may have appeared since Create).
	if fi, err := w.f.client.Stat(w.f.abs(w.dst)); err == nil && fi.IsDir() {
		_ = w.f.client.Remove(w.f.abs(w.tmp))
		return &fs.PathError{Op: "close", Path: w.path, Err: ufs.ErrIsDir}
	}
	if err := w.f.client.Rename(w.f.abs(w.tmp), w.f.abs(w.dst)); err != nil {
		_ = w.f.client.Remove(w.f.abs(w.tmp))
		return mapErr("close", w.path, err)
	}
	return nil
}

// complete closes the client's writer fw of path, retrying with exponential backoff
// while the NameNode answers that the last block is not yet replicated (complete returns
// false), as the Java client does (dfs.client.block.write.locateFollowingBlock.*).
func (f *FS) complete(ctx context.Context, fw *hdfs.FileWriter, path string) error {
	delay := f.set.completeDelay
	for attempt := 0; ; attempt++ {
		err := fw.Close()
		if err == nil {
			return nil
		}
		if !hdfs.IsErrReplicating(err) || attempt >= f.set.completeRetries {
			return mapErr("close", path, err)
		}
		if err := sleepCtx(ctx, delay); err != nil {
			return &fs.PathError{Op: "close", Path: path, Err: err}
		}
		delay *= 2
	}
}

func (w *writer) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	if w.failed == nil {
		w.discard()
	}
	return nil
}
