package ufs

import (
	"context"
	"io/fs"
)

// Attributer is implemented by drivers whose store keeps POSIX permissions (local disk,
// HDFS). The paths are clean UFS paths, as the driver's other methods take; owner or
// group "" leaves that one unchanged. A store that refuses (a non-root process changing
// the owner of a local file) returns an error wrapping fs.ErrPermission.
type Attributer interface {
	Chmod(ctx context.Context, path string, mode fs.FileMode) error
	Chown(ctx context.Context, path, owner, group string) error
}

// AttributerOf returns u's Attributer (a guarded UFS implements it when its driver
// does), or nil when the store keeps no permissions: then mode, owner and group are the
// namespace's metadata only.
func AttributerOf(u UFS) Attributer {
	a, _ := u.(Attributer)
	return a
}
