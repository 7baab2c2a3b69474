package hdfs

import (
	"context"
	"errors"
	"os"
	"time"

	hdfs "github.com/colinmarc/hdfs/v2"

	"github.com/unifiedfs/unifiedfs/ufs"
	"github.com/unifiedfs/unifiedfs/ufs/retry"
)

// Create implements ufs.UFS. The data goes to a temporary file in the target directory,
// renamed into place by Close; a failed or aborted upload deletes it (on a context
// detached from the caller's, bounded by unifiedfs.abort.timeout), so nothing partial
// becomes visible. NameNode calls are retried; a DataNode pipeline that breaks fails the
// upload (the client has no pipeline recovery).
func (f *FS) Create(ctx context.Context, c string, opts ufs.CreateOptions) (ufs.Writer, error) {
	if fi, err := f.stat(ctx, f.abs(c)); err == nil && fi.IsDir() {
		return nil, ufs.ErrIsDir
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	dir, base := ufs.Split(c)
	if err := f.mkdirParent(ctx, dir); err != nil {
		return nil, err
	}
	tmp, mode := ufs.TempPath(dir, base), opts.Perm()
	attempt := 0
	fw, err := nnValue(ctx, f, func() (*hdfs.FileWriter, error) {
		if attempt++; attempt > 1 {
			// An earlier attempt may have created the file (its answer lost): the name is
			// this writer's own, so the leftover is removed.
			_ = f.client.Remove(f.abs(tmp))
		}
		return f.client.CreateFile(f.abs(tmp), f.defaults.Replication, f.defaults.BlockSize, mode)
	})
	if err != nil {
		return nil, err
	}
	return &writer{f: f, ctx: ctx, fw: fw, tmp: tmp, dst: c}, nil
}

// writer uploads to a temporary file and renames it into place on Close. The client
// renews its lease in the background while the FS is open. The guard calls Close or
// Abort once, and Abort after a failed Write.
type writer struct {
	f    *FS
	ctx  context.Context
	fw   *hdfs.FileWriter
	tmp  string
	dst  string
	size int64
}

func (w *writer) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil // the client would allocate an empty block, which never completes
	}
	// Each piece must reach the DataNode within the idle timeout; between Writes the
	// pipeline waits as long as the caller does.
	n := 0
	for n < len(p) {
		piece := p[n:min(len(p), n+writePiece)]
		_ = w.fw.SetDeadline(w.f.idleDeadline(w.ctx))
		k, err := w.fw.Write(piece)
		n += k
		w.size += int64(k)
		if err != nil {
			return n, err
		}
	}
	_ = w.fw.SetDeadline(time.Time{})
	return n, nil
}

// writePiece is the most a Write sends under one deadline.
const writePiece = 256 << 10

// discard deletes the temporary file first (the NameNode drops an open file and its
// lease), then closes the client's writer to release its DataNode connection; that
// close fails, as the file is gone.
func (w *writer) discard() {
	w.f.removeTemp(w.ctx, w.tmp)
	_ = w.fw.SetDeadline(time.Now()) // nothing more to send: do not wait for acks
	_ = w.fw.Close()
}

// removeTemp deletes the temporary file tmp of a failed upload on a context detached
// from ctx and bounded by unifiedfs.abort.timeout.
func (f *FS) removeTemp(ctx context.Context, tmp string) {
	cctx, cancel := f.cleanupContext(ctx)
	defer cancel()
	_ = f.remove(cctx, f.abs(tmp))
}

func (w *writer) Close() error {
	if err := w.f.completeTemp(w.ctx, w.fw, w.tmp, w.size); err != nil {
		w.f.removeTemp(w.ctx, w.tmp)
		return err
	}
	// Create replaces a file, never a directory (one may have appeared since Create).
	tmpInfo, err := w.f.stat(w.ctx, w.f.abs(w.tmp))
	if err != nil {
		w.f.removeTemp(w.ctx, w.tmp)
		return err
	}
	if fi, err := w.f.stat(w.ctx, w.f.abs(w.dst)); err == nil && fi.IsDir() {
		w.f.removeTemp(w.ctx, w.tmp)
		return ufs.ErrIsDir
	}
	if err := w.f.rename(w.ctx, w.f.abs(w.tmp), w.f.abs(w.dst), fileID(tmpInfo)); err != nil {
		w.f.removeTemp(w.ctx, w.tmp)
		return err
	}
	return nil
}

// complete closes the client's writer fw of path, retrying with exponential backoff
// while the NameNode answers that the last block is not yet replicated (complete returns
// false), as the Java client does (dfs.client.block.write.locateFollowingBlock.*).
func (f *FS) complete(ctx context.Context, fw *hdfs.FileWriter) error {
	return f.completeLoop(ctx, fw.Close)
}

// completeTemp is complete for the temporary file tmp of an upload (size bytes written),
// with each close under the retry policy: a retry after a lost answer finds the file
// closed by the attempt that lost it (the NameNode then refuses the repeated call), which
// counts as done when the file is closed with every byte written.
func (f *FS) completeTemp(ctx context.Context, fw *hdfs.FileWriter, tmp string, size int64) error {
	_ = fw.SetDeadline(f.idleDeadline(ctx)) // the last acks, then the NameNode
	return f.completeLoop(ctx, func() error {
		err := nnDo(ctx, f, fw.Close)
		if err != nil && retry.Retried(err) && !hdfs.IsErrReplicating(err) && f.completedBefore(ctx, tmp, size) {
			return nil
		}
		return err
	})
}

func (f *FS) completeLoop(ctx context.Context, closeFW func() error) error {
	delay := f.set.completeDelay
	for attempt := 0; ; attempt++ {
		err := closeFW()
		if err == nil {
			return nil
		}
		if !hdfs.IsErrReplicating(err) || attempt >= f.set.completeRetries {
			return err
		}
		if err := sleepCtx(ctx, delay); err != nil {
			return err
		}
		delay *= 2
	}
}

// completedBefore reports whether the file tmp is closed with size bytes.
func (f *FS) completedBefore(ctx context.Context, tmp string, size int64) bool {
	if f.nnErr != nil {
		return false
	}
	abs := f.abs(tmp)
	closed, err := nnValue(ctx, f, func() (bool, error) { return f.nn.isFileClosed(abs) })
	if err != nil || !closed {
		return false
	}
	fi, err := f.stat(ctx, abs)
	return err == nil && fi.Size() == size
}

func (w *writer) Abort() error {
	w.discard()
	return nil
}
