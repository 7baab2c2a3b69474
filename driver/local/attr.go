package local

import (
	"context"
	"fmt"
	"io/fs"
	"os/user"
	"strconv"

	"github.com/unifiedfs/unifiedfs/ufs"
)

var _ ufs.Attributer = (*FS)(nil)

// Chmod implements ufs.Attributer.
func (l *FS) Chmod(ctx context.Context, c string, mode fs.FileMode) error {
	return l.root.Chmod(c, mode.Perm())
}

// Chown implements ufs.Attributer: owner and group are names (or numeric ids). Only root
// may give a file away; otherwise the error wraps fs.ErrPermission.
func (l *FS) Chown(ctx context.Context, c, owner, group string) error {
	uid, gid := -1, -1
	if owner != "" {
		id, err := lookupID(owner, func(n string) (string, error) {
			u, err := user.Lookup(n)
			if err != nil {
				return "", err
			}
			return u.Uid, nil
		})
		if err != nil {
			return err
		}
		uid = id
	}
	if group != "" {
		id, err := lookupID(group, func(n string) (string, error) {
			g, err := user.LookupGroup(n)
			if err != nil {
				return "", err
			}
			return g.Gid, nil
		})
		if err != nil {
			return err
		}
		gid = id
	}
	return l.root.Chown(c, uid, gid)
}

func lookupID(name string, lookup func(string) (string, error)) (int, error) {
	if n, err := strconv.Atoi(name); err == nil && n >= 0 {
		return n, nil
	}
	s, err := lookup(name)
	if err != nil {
		return 0, ufs.WrapErr(fs.ErrInvalid, fmt.Errorf("unknown user or group %q: %w", name, err))
	}
	return strconv.Atoi(s)
}
