//go:build !linux || !(amd64 || arm64)

package local

import "os"

// openDirBeneath is openat2's shortcut where there is none: the caller goes through
// os.Root.
func openDirBeneath(int, string) (*os.File, bool) { return nil, false }
