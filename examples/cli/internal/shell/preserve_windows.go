package shell

import (
	"io/fs"
	"os"

	"github.com/unifiedfs/unifiedfs"
)

// localOwner: Windows files have no user and group names this shell can show.
func localOwner(fs.FileInfo) (owner, group string) { return "", "" }

// preserveLocal gives the local copy dst the mode (on Windows: read-only or not) and
// modification time of the namespace file st; owners are not carried over.
func (c *cli) preserveLocal(dst string, st *unifiedfs.FileStatus) error {
	if err := os.Chmod(dst, st.Mode.Perm()); err != nil {
		return err
	}
	return os.Chtimes(dst, st.ModTime, st.ModTime)
}
