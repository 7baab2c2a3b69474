// Command unifiedfs is the `alluxio fs`-style command line of unifiedfs (the same as
// examples/cli, under the name it is documented with):
//
//	go install github.com/unifiedfs/unifiedfs/examples/cli/unifiedfs
//	unifiedfs demo
//
// See examples/cli/README.md for the verbs, the state directory and the properties.
package main

import (
	"os"

	"github.com/unifiedfs/unifiedfs/examples/cli/internal/shell"
)

func main() { os.Exit(shell.Main()) }
