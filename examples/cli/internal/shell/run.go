// Package shell is the `alluxio fs`-style command line of unifiedfs: the same verbs
// and flags (ls -R, mount --option, persist, loadMetadata -R -F, runTests, ...) on an
// in-process namespace whose state (journal and disk cache) lives in a state directory.
// The commands examples/cli and examples/cli/unifiedfs are this package's Main.
package shell

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strings"

	"github.com/unifiedfs/unifiedfs"
	_ "github.com/unifiedfs/unifiedfs/driver/hdfs"
	_ "github.com/unifiedfs/unifiedfs/driver/kodo"
	_ "github.com/unifiedfs/unifiedfs/driver/local"
	_ "github.com/unifiedfs/unifiedfs/driver/oss"
	_ "github.com/unifiedfs/unifiedfs/driver/s3"
)

// Main runs the command line in os.Args and returns the exit code: 0 ok, 1 the operation
// failed, 2 usage error (runTests: the number of failed cases). Interrupt cancels the
// running command.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	return run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, isTerminal(os.Stdout))
}

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// exitCode is an error that only sets the exit code (its message was already printed).
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// run executes one command line and returns the exit code.
func run(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer, tty bool) int {
	g, err := splitGlobal(argv)
	if err != nil {
		return report(stderr, "", err)
	}
	c := &cli{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr, tty: tty, confFile: g.conf, overrides: g.props}
	c.stateDir = g.state
	if c.stateDir == "" {
		if c.stateDir, err = defaultStateDir(); err != nil {
			return report(stderr, "", err)
		}
	}
	args := g.rest
	if len(args) > 0 && args[0] == "fs" { // "unifiedfs fs ls /" as "alluxio fs ls /"
		args = args[1:]
	}
	if len(args) == 0 {
		printUsage(stderr)
		return 2
	}
	err = c.exec(args[0], args[1:])
	if cerr := c.close(); err == nil && cerr != nil {
		err = cerr
	}
	return report(stderr, args[0], err)
}

// exec runs one verb.
func (c *cli) exec(verb string, argv []string) error {
	cmd := lookup(verb)
	if cmd == nil {
		return usagef("unknown command %q (run \"unifiedfs help\" for the list)", verb)
	}
	fs, body := cmd.flags()
	args, err := fs.parse(cmd.usage(), argv)
	if err != nil {
		return err
	}
	if len(args) < cmd.minArgs || cmd.maxArgs >= 0 && len(args) > cmd.maxArgs {
		return usagef("usage: unifiedfs %s", cmd.usage())
	}
	if cmd.needsFS {
		if _, err := c.open(); err != nil {
			return err
		}
	}
	return body(c, args)
}

// report prints err as one line on stderr, with what to do, and returns the exit code.
func report(stderr io.Writer, verb string, err error) int {
	if err == nil {
		return 0
	}
	var code exitCode
	if errors.As(err, &code) {
		return int(code)
	}
	prefix := "unifiedfs"
	if verb != "" {
		prefix += " " + verb
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "%s: %s\n", prefix, oneLine(err))
		return 2
	}
	msg := strings.TrimPrefix(oneLine(err), "unifiedfs: ")
	if h := hint(err); h != "" && !strings.Contains(msg, strings.SplitN(h, " (", 2)[0]) {
		msg += "; " + h
	}
	fmt.Fprintf(stderr, "%s: %s\n", prefix, msg)
	return 1
}

// oneLine flattens an error message onto one line.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// hint says what to do about err.
func hint(err error) string {
	switch {
	case errors.Is(err, context.Canceled):
		return "interrupted"
	case errors.Is(err, unifiedfs.ErrReadOnly):
		return "the mount is read-only: unmount and mount it again without --readonly to write"
	case errors.Is(err, unifiedfs.ErrCrossMount):
		return "mv works within one mount: use cp, then rm"
	case errors.Is(err, unifiedfs.ErrMountPoint):
		return "unmount the mount point first (unifiedfs unmount <path>)"
	case errors.Is(err, unifiedfs.ErrNotMountPoint):
		return "list the mount points with \"unifiedfs mount\""
	case errors.Is(err, unifiedfs.ErrPinned):
		return "unpin it (unifiedfs unpin <path>) or use free -f"
	case errors.Is(err, unifiedfs.ErrNotPersisted):
		return "persist it first (unifiedfs persist <path>)"
	case errors.Is(err, unifiedfs.ErrSyncLimit):
		return "sync a smaller subtree, or raise the limit with -Dalluxio.user.file.metadata.sync.limit=N (loadMetadata -n lifts it)"
	case errors.Is(err, unifiedfs.ErrNoSpace):
		return "free cached data (unifiedfs free <path>) or raise the cache capacity (unifiedfs.cache.capacity)"
	case errors.Is(err, unifiedfs.ErrLost):
		return "its only copy was lost: remove it (unifiedfs rm <path>)"
	case errors.Is(err, unifiedfs.ErrNotEmpty):
		return "use rm -R to remove a directory and its contents"
	case errors.Is(err, unifiedfs.ErrIsDir):
		return "use ls for a directory, or -R where the verb takes one"
	case errors.Is(err, unifiedfs.ErrNotDir):
		return "a path element is a file, not a directory"
	case errors.Is(err, unifiedfs.ErrNotSupported):
		return "not supported by this UFS or this build"
	case errors.Is(err, fs.ErrNotExist):
		return "check the path (unifiedfs ls <parent>) or the UFS location"
	case errors.Is(err, fs.ErrExist):
		return "choose another path, or remove the existing one first"
	case errors.Is(err, fs.ErrPermission):
		return "check the credentials and permissions (mount --option ...)"
	case errors.Is(err, fs.ErrInvalid):
		return "check the arguments (unifiedfs help)"
	}
	// Only network errors: a syscall.Errno (a name too long, say) is a net.Error too.
	var oe *net.OpError
	var de *net.DNSError
	var ue *url.Error
	if errors.As(err, &oe) || errors.As(err, &de) || errors.As(err, &ue) {
		return "check that the store is reachable (endpoint, network, firewall)"
	}
	return ""
}
