package hdfs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	hdfs "github.com/colinmarc/hdfs/v2"

	"github.com/unifiedfs/unifiedfs/ufs"
)

// Append implements ufs.Appender.
//
// Each AppendWriter has a client of its own: its own NameNode connection and client name,
// so its own lease (renewed every second while it is open), and DataNode connections
// that set the sync flag on every packet and record the acknowledgements (see
// pipelines). A second Append of a file, from this FS or another process, is refused by
// the NameNode (AlreadyBeingCreatedException, ufs.ErrBusy) while the lease lives. When
// the file is missing it is created (mode 0600; created parents get 0755). Append is not
// supported with data transfer protection (hdfs.data.transfer.protection or an
// encrypting cluster): the SASL wrapping hides the acknowledgements Sync waits for.
func (f *FS) Append(ctx context.Context, c string) (ufs.AppendWriter, error) {
	if err := f.appendSupported(); err != nil {
		return nil, err
	}
	abs := f.abs(c)
	if fi, err := f.client.Stat(abs); err == nil && fi.IsDir() {
		return nil, ufs.ErrIsDir
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	dir, _ := ufs.Split(c)
	if err := f.mkdirParent(ctx, dir); err != nil {
		return nil, err
	}
	pipes := newPipelines(f.set.dial)
	opts := f.set.client
	opts.DatanodeDialFunc = pipes.DialContext
	client, err := hdfs.NewClient(opts)
	if err != nil {
		return nil, err
	}
	w, err := f.openAppend(ctx, client, pipes, c, abs)
	if err != nil {
		client.Close()
		return nil, err
	}
	return w, nil
}

func (f *FS) appendSupported() error {
	if f.nnErr != nil {
		return fmt.Errorf("%w: %w", ufs.ErrNotSupported, f.nnErr)
	}
	if f.set.client.DataTransferProtection != "" || f.defaults.EncryptDataTransfer {
		return fmt.Errorf("%w: appending needs the DataNode's acknowledgements, which data transfer protection wraps", ufs.ErrNotSupported)
	}
	return nil
}

// openAppend appends to the file at abs with client, creating it when it is missing.
func (f *FS) openAppend(ctx context.Context, client *hdfs.Client, pipes *pipelines, c, abs string) (*appendWriter, error) {
	nn, err := namenodeOf(client)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ufs.ErrNotSupported, err)
	}
	// The client would fetch the server defaults on the first block, into a field it
	// does not guard; fetch them now, before the writer is shared with Sync.
	if _, err := client.ServerDefaults(); err != nil {
		return nil, err
	}
	delay := f.set.completeDelay
	for attempt := 0; ; attempt++ {
		fw, err := client.Append(abs)
		if errors.Is(err, os.ErrNotExist) {
			fw, err = client.CreateFile(abs, f.defaults.Replication, f.defaults.BlockSize, 0o600)
			if errors.Is(err, os.ErrExist) && attempt < 3 {
				continue // created by another writer meanwhile: append to it (or be refused)
			}
		}
		if err == nil {
			fi, err := client.Stat(abs)
			if err != nil {
				_ = fw.Close()
				return nil, err
			}
			var id uint64
			if raw, ok := fi.Sys().(*hdfs.FileStatus); ok {
				id = raw.GetFileId()
			}
			if dl, ok := ctx.Deadline(); ok {
				_ = fw.SetDeadline(dl)
			}
			return &appendWriter{f: f, ctx: ctx, client: client, nn: nn, pipes: pipes, fw: fw, path: ufs.Rooted(c), abs: abs, fileID: id}, nil
		}
		// The last block is committed but not yet reported complete: retry as the
		// Java client does with a RetriableException.
		if exceptionClass(err) != "org.apache.hadoop.ipc.RetriableException" || attempt >= f.set.completeRetries {
			return nil, err
		}
		if err := sleepCtx(ctx, delay); err != nil {
			return nil, err
		}
		delay *= 2
	}
}

// mkdirParent creates the directory dir that a new file needs.
func (f *FS) mkdirParent(ctx context.Context, dir string) error {
	if err := nnDo(ctx, f, func() error { return f.client.MkdirAll(f.abs(dir), 0o755) }); err != nil {
		if errors.Is(err, os.ErrExist) || exceptionClass(err) == "org.apache.hadoop.fs.ParentNotDirectoryException" {
			return ufs.WrapErr(ufs.ErrNotDir, err)
		}
		return err
	}
	return nil
}

// Truncate implements ufs.Appender: the NameNode cuts whole blocks at once and the last
// one by block recovery, which Truncate waits for (isFileClosed).
func (f *FS) Truncate(ctx context.Context, c string, size int64) error {
	abs := f.abs(c)
	if err := f.checkFile(abs); err != nil {
		return err
	}
	done, err := f.client.Truncate(abs, size)
	if err != nil {
		return err
	}
	if done {
		return nil
	}
	if f.nnErr != nil {
		return fmt.Errorf("%w: cannot wait for the truncate: %w", ufs.ErrNotSupported, f.nnErr)
	}
	return f.waitClosed(ctx, abs)
}

// Seal implements ufs.Sealer with recoverLease, then waits until the NameNode has closed
// the file (isFileClosed). A recovery the NameNode cannot start yet (the last block is
// committed but not yet reported) is retried with backoff.
func (f *FS) Seal(ctx context.Context, c string) error {
	if f.nnErr != nil {
		return fmt.Errorf("%w: %w", ufs.ErrNotSupported, f.nnErr)
	}
	abs := f.abs(c)
	if err := f.checkFile(abs); err != nil {
		return err
	}
	delay := f.set.completeDelay
	for attempt := 0; ; attempt++ {
		closed, err := f.nn.recoverLease(abs)
		if err == nil {
			if closed {
				return nil
			}
			return f.waitClosed(ctx, abs)
		}
		if exceptionClass(err) != "org.apache.hadoop.hdfs.protocol.AlreadyBeingCreatedException" || attempt >= f.set.completeRetries {
			return err
		}
		if err := sleepCtx(ctx, delay); err != nil {
			return err
		}
		delay *= 2
	}
}

// appendWriter is an AppendWriter with a client of its own (see Append). The guard passes
// AppendWriters through, so it wraps its own errors (mapErr); path is rooted.
type appendWriter struct {
	f      *FS
	ctx    context.Context
	client *hdfs.Client
	nn     namenode
	pipes  *pipelines
	fw     *hdfs.FileWriter
	path   string
	abs    string
	fileID uint64
	err    error // sticky failure
	closed bool
}

func (w *appendWriter) check(op string) error {
	switch {
	case w.closed:
		return &fs.PathError{Op: op, Path: w.path, Err: fs.ErrClosed}
	case w.err != nil:
		return w.err
	case w.f.closed.Load():
		w.err = &fs.PathError{Op: op, Path: w.path, Err: fmt.Errorf("%w: the UFS was closed", fs.ErrClosed)}
		return w.err
	}
	if err := w.ctx.Err(); err != nil {
		w.err = &fs.PathError{Op: op, Path: w.path, Err: err}
		return w.err
	}
	return nil
}

func (w *appendWriter) Write(p []byte) (int, error) {
	if err := w.check("write"); err != nil {
		return 0, err
	}
	if len(p) == 0 {
		return 0, nil // the client would allocate an empty block, which never completes
	}
	n, err := w.fw.Write(p)
	if err != nil {
		w.err = mapErr("write", w.path, err)
	}
	return n, w.err
}

// Sync sends what the client buffered (each packet with the sync flag), waits until the
// DataNode has acknowledged every packet, then publishes the last block's length to the
// NameNode (fsync), which also checks that the writer still holds the lease.
func (w *appendWriter) Sync() error {
	if err := w.check("sync"); err != nil {
		return err
	}
	if err := w.fw.Flush(); err != nil {
		w.err = mapErr("sync", w.path, err)
		return w.err
	}
	n, err := w.pipes.waitAcked(w.ctx)
	if err != nil {
		w.err = mapErr("sync", w.path, err)
		return w.err
	}
	if err := w.nn.fsync(w.abs, w.fileID, n); err != nil {
		w.err = mapErr("sync", w.path, err)
	}
	return w.err
}

// Close completes the file (the client waits for every acknowledgement; the NameNode
// for the last block's report) and closes the writer's client, releasing the lease. A
// writer that failed cannot complete the file; if it still holds the lease (fsync
// checks), it recovers it (the file closes at what the DataNode holds), so that the next
// appender need not wait for the lease to expire. A writer that lost its lease (sealed)
// leaves the file alone: another writer may hold it by now. (Check and recovery are two
// calls; a seal and a new appender's Append would both have to fit between them.)
func (w *appendWriter) Close() error {
	if w.closed {
		return &fs.PathError{Op: "close", Path: w.path, Err: fs.ErrClosed}
	}
	err := w.check("close")
	w.closed = true
	if err == nil {
		err = mapErr("close", w.path, w.f.complete(w.ctx, w.fw))
	} else if w.nn.fsync(w.abs, w.fileID, -1) == nil {
		if closed, rerr := w.nn.recoverLease(w.abs); rerr == nil && !closed {
			// Bounded: the writer's own context may be what failed it.
			ctx, cancel := context.WithTimeout(context.Background(), recoverWait)
			_ = w.f.waitClosed(ctx, w.abs)
			cancel()
		}
	}
	w.client.Close()
	return err
}

// recoverWait bounds how long a failed writer's Close waits for its file to close.
const recoverWait = 10 * time.Second
