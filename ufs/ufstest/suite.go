// Package ufstest holds the conformance suite every UFS driver runs (Run) and MemFS, an
// in-memory UFS in filesystem and object-store flavours with fault injection.
package ufstest

import (
	"testing"

	"github.com/unifiedfs/unifiedfs/ufs"
)

// Harness tells Run how to get a UFS under test.
type Harness struct {
	// New returns a fresh, empty UFS rooted at a location no other test uses. Run closes
	// it when the test ends.
	New func(t *testing.T) ufs.UFS
}

// Run runs the conformance suite over the UFS the harness makes.
func Run(t *testing.T, h Harness) {
	t.Helper()
}
