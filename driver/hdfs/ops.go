package hdfs

import (
	"context"
	"errors"
	"io/fs"
	"os"

	hdfs "github.com/colinmarc/hdfs/v2"

	"github.com/unifiedfs/unifiedfs/ufs"
)

// Stat implements ufs.UFS.
func (f *FS) Stat(ctx context.Context, p string) (ufs.Status, error) {
	c, err := f.begin(ctx, "stat", p)
	if err != nil {
		return ufs.Status{}, err
	}
	fi, err := f.client.Stat(f.abs(c))
	if err != nil {
		return ufs.Status{}, mapErr("stat", p, err)
	}
	return status(ufs.Base(c), fi.(*hdfs.FileInfo)), nil
}

// Mkdir implements ufs.UFS. New directories get mode 0755.
func (f *FS) Mkdir(ctx context.Context, p string) error {
	c, err := f.begin(ctx, "mkdir", p)
	if err != nil {
		return err
	}
	if err := f.client.MkdirAll(f.abs(c), 0o755); err != nil {
		if exceptionClass(err) == "org.apache.hadoop.fs.ParentNotDirectoryException" {
			// A file in the way: the contract says fs.ErrExist.
			return &fs.PathError{Op: "mkdir", Path: p, Err: ufs.WrapErr(fs.ErrExist, ufs.WrapErr(ufs.ErrNotDir, err))}
		}
		return mapErr("mkdir", p, err)
	}
	return nil
}

// Remove implements ufs.UFS.
func (f *FS) Remove(ctx context.Context, p string) error {
	c, err := f.begin(ctx, "remove", p)
	if err != nil {
		return err
	}
	if c == ufs.Root {
		return invalid("remove", p, "cannot remove the root")
	}
	return mapErr("remove", p, f.client.Remove(f.abs(c)))
}

// RemoveAll implements ufs.UFS. Files are deleted at once, not moved to a trash.
func (f *FS) RemoveAll(ctx context.Context, p string) error {
	c, err := f.begin(ctx, "removeall", p)
	if err != nil {
		return err
	}
	if c == ufs.Root {
		return invalid("removeall", p, "cannot remove the root")
	}
	return mapErr("removeall", p, f.client.RemoveAll(f.abs(c)))
}

// Rename implements ufs.UFS. The client's rename overwrites its destination, so Rename
// checks that dst is free first; a writer creating dst between the check and the rename
// can still be replaced (HDFS has no rename-if-absent the client exposes).
func (f *FS) Rename(ctx context.Context, src, dst string) error {
	s, err := f.begin(ctx, "rename", src)
	if err != nil {
		return err
	}
	d, err := ufs.CheckTarget("rename", s, dst)
	if err != nil {
		return err
	}
	if _, err := f.client.Stat(f.abs(s)); err != nil {
		return mapErr("rename", src, err)
	}
	if _, err := f.client.Stat(f.abs(d)); err == nil {
		return &fs.PathError{Op: "rename", Path: dst, Err: fs.ErrExist}
	} else if !errors.Is(err, os.ErrNotExist) {
		return mapErr("rename", dst, err)
	}
	if dir, _ := ufs.Split(d); dir != ufs.Root {
		if err := f.Mkdir(ctx, dir); err != nil {
			return err
		}
	}
	return mapErr("rename", src, f.client.Rename(f.abs(s), f.abs(d)))
}
