package hdfs

import (
	"context"
	"io/fs"

	"github.com/unifiedfs/unifiedfs/ufs"
)

var _ ufs.Attributer = (*FS)(nil)

// Chmod implements ufs.Attributer (the NameNode's setPermission).
func (f *FS) Chmod(ctx context.Context, c string, mode fs.FileMode) error {
	return nnDo(ctx, f, func() error { return f.client.Chmod(f.abs(c), mode.Perm()) })
}

// Chown implements ufs.Attributer (the NameNode's setOwner); "" keeps that one.
func (f *FS) Chown(ctx context.Context, c, owner, group string) error {
	return nnDo(ctx, f, func() error { return f.client.Chown(f.abs(c), owner, group) })
}
