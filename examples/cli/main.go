// Command cli is the `alluxio fs`-style command line of unifiedfs, as `go run
// ./examples/cli`; `go install ./examples/cli/unifiedfs` installs the same command as
// unifiedfs.
//
//	unifiedfs [--state DIR] [--conf FILE] [-Dkey=value ...] <verb> [flags] [args]
//
// The verbs and flags are `alluxio fs`'s (ls -R, mount --option, persist, loadMetadata
// -R -F, runTests, ...). The state directory (journal and disk cache) is --state, else
// $UNIFIEDFS_HOME, else ~/.unifiedfs. Properties are read from --conf, else
// $UNIFIEDFS_CONF, else <state>/alluxio-site.properties (Alluxio's keys; see
// alluxioconf.Config); -D overrides one for this call. With no configuration
// the root UFS is the directory <state>/root.
//
// Exit codes: 0 ok, 1 the operation failed, 2 usage error; runTests exits with the
// number of failed cases. `demo` runs Alluxio's Transparent Naming walkthrough on
// temporary directories; `help` lists the verbs. See README.md.
package main

import (
	"os"

	"github.com/unifiedfs/unifiedfs/examples/cli/internal/shell"
)

func main() { os.Exit(shell.Main()) }
