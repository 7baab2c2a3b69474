//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package journal

import (
	"errors"
	"fmt"
)

// lockFile is not implemented on this platform: without a lock that the kernel releases
// when its holder dies, a crash would leave the journal locked forever.
func lockFile(path string) (func() error, error) {
	return nil, fmt.Errorf("journal: lock %s: %w", path, errors.ErrUnsupported)
}
