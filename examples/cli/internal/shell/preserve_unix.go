//go:build unix

package shell

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"strconv"
	"syscall"

	"github.com/unifiedfs/unifiedfs"
)

// localOwner returns the user and group names of a local file ("" when unknown).
func localOwner(fi fs.FileInfo) (owner, group string) {
	sys, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", ""
	}
	if u, err := user.LookupId(strconv.Itoa(int(sys.Uid))); err == nil {
		owner = u.Username
	}
	if g, err := user.LookupGroupId(strconv.Itoa(int(sys.Gid))); err == nil {
		group = g.Name
	}
	return owner, group
}

// preserveLocal gives the local copy dst the mode and modification time of the namespace
// file st and, where this process may (root), its owner and group.
func (c *cli) preserveLocal(dst string, st *unifiedfs.FileStatus) error {
	if err := os.Chmod(dst, st.Mode.Perm()); err != nil {
		return err
	}
	if err := os.Chtimes(dst, st.ModTime, st.ModTime); err != nil {
		return err
	}
	uid, gid := -1, -1
	if u, err := user.Lookup(st.Owner); err == nil {
		uid, _ = strconv.Atoi(u.Uid)
	}
	if g, err := user.LookupGroup(st.Group); err == nil {
		gid, _ = strconv.Atoi(g.Gid)
	}
	if uid < 0 && gid < 0 {
		return nil
	}
	if err := os.Lchown(dst, uid, gid); err != nil {
		if errors.Is(err, fs.ErrPermission) {
			fmt.Fprintf(c.stderr, "unifiedfs: warning: %s keeps its local owner: %v\n", dst, err)
			return nil
		}
		return err
	}
	return nil
}
