package hdfs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	hdfs "github.com/colinmarc/hdfs/v2"

	"github.com/unifiedfs/unifiedfs/ufs"
	"github.com/unifiedfs/unifiedfs/ufs/retry"
)

// Stat implements ufs.UFS.
func (f *FS) Stat(ctx context.Context, c string) (ufs.Status, error) {
	fi, err := f.stat(ctx, f.abs(c))
	if err != nil {
		return ufs.Status{}, err
	}
	return status(ufs.Base(c), fi.(*hdfs.FileInfo)), nil
}

// Mkdir implements ufs.UFS. New directories get mode 0755.
func (f *FS) Mkdir(ctx context.Context, c string) error {
	if err := nnDo(ctx, f, func() error { return f.client.MkdirAll(f.abs(c), 0o755) }); err != nil {
		if exceptionClass(err) == "org.apache.hadoop.fs.ParentNotDirectoryException" {
			// A file in the way: the contract says fs.ErrExist.
			return ufs.WrapErr(fs.ErrExist, ufs.WrapErr(ufs.ErrNotDir, err))
		}
		return err
	}
	return nil
}

// Remove implements ufs.UFS.
func (f *FS) Remove(ctx context.Context, c string) error {
	return f.remove(ctx, f.abs(c))
}

// stat is the client's Stat under the retry policy.
func (f *FS) stat(ctx context.Context, abs string) (os.FileInfo, error) {
	return nnValue(ctx, f, func() (os.FileInfo, error) { return f.client.Stat(abs) })
}

// remove deletes abs (a file or an empty directory). A retry that finds nothing there
// follows an attempt whose answer was lost: that attempt deleted it.
func (f *FS) remove(ctx context.Context, abs string) error {
	err := nnDo(ctx, f, func() error { return f.client.Remove(abs) })
	if err != nil && retry.Retried(err) && errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// RemoveAll implements ufs.UFS. Files are deleted at once, not moved to a trash.
func (f *FS) RemoveAll(ctx context.Context, c string) error {
	err := nnDo(ctx, f, func() error { return f.client.RemoveAll(f.abs(c)) })
	if err != nil && retry.Retried(err) && errors.Is(err, os.ErrNotExist) {
		err = nil // an attempt whose answer was lost removed it
	}
	return err
}

// Rename implements ufs.UFS. The client's rename overwrites its destination, so Rename
// checks that dst is free first; a writer creating dst between the check and the rename
// can still be replaced (HDFS has no rename-if-absent the client exposes).
func (f *FS) Rename(ctx context.Context, s, d string) error {
	from, err := f.stat(ctx, f.abs(s))
	if err != nil {
		return err
	}
	if _, err := f.stat(ctx, f.abs(d)); err == nil {
		return fmt.Errorf("%w: the destination %s exists", fs.ErrExist, ufs.Rooted(d))
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if dir, _ := ufs.Split(d); dir != ufs.Root {
		if err := f.Mkdir(ctx, dir); err != nil {
			return err
		}
	}
	return f.rename(ctx, f.abs(s), f.abs(d), fileID(from))
}

// rename moves the file or directory abs src, whose inode id is id, to dst (replacing a
// file there). A retry that finds src gone follows an attempt whose answer was lost: the
// move happened if dst is now the inode that was at src.
func (f *FS) rename(ctx context.Context, src, dst string, id uint64) error {
	err := nnDo(ctx, f, func() error { return f.client.Rename(src, dst) })
	if err != nil && retry.Retried(err) && errors.Is(err, os.ErrNotExist) {
		if fi, serr := f.stat(ctx, dst); serr == nil && id != 0 && fileID(fi) == id {
			return nil
		}
	}
	return err
}

// fileID returns the inode id of fi (0 when unknown).
func fileID(fi os.FileInfo) uint64 {
	if raw, ok := fi.Sys().(*hdfs.FileStatus); ok {
		return raw.GetFileId()
	}
	return 0
}
