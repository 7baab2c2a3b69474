package shell

import (
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strings"

	"github.com/unifiedfs/unifiedfs/ufs"
)

// command is one verb.
type command struct {
	name    string
	usage   string
	desc    string
	flags   flagSpec
	minArgs int
	maxArgs int // -1: any
	needsFS bool
	run     func(c *cli, fl *flags) error
}

var commands []*command

func init() {
	commands = []*command{
		{name: "ls", usage: "ls [-R] [-d] [-f] [-h] [-p] [--sort=field] [-r] <path>...", desc: "Lists files and directories: permission, owner, group, size, persist state, modification time, % cached, path. -R recursive, -d a directory itself, -f re-sync with the UFS first, -h human sizes, -p only files whose only copy is the cache, --sort field, -r reverse.",
			flags: flagSpec{bools: []string{"R", "d", "f", "h", "p", "r"}, values: []string{"sort"}}, minArgs: 1, maxArgs: -1, needsFS: true, run: cmdLs},
		{name: "stat", usage: "stat [-f format] <path>...", desc: "Shows the status of a file or directory (format: %N name, %z size, %u owner, %g group, %y mtime, %Y mtime in ms).",
			flags: flagSpec{values: []string{"f"}}, minArgs: 1, maxArgs: -1, needsFS: true, run: cmdStat},
		{name: "du", usage: "du [-h] [-s] <path>...", desc: "Shows the size of files and how much of it is cached.",
			flags: flagSpec{bools: []string{"h", "s"}}, minArgs: 1, maxArgs: -1, needsFS: true, run: cmdDu},
		{name: "count", usage: "count [-h] <path>...", desc: "Counts files and folders below a path and their total size.",
			flags: flagSpec{bools: []string{"h"}}, minArgs: 1, maxArgs: -1, needsFS: true, run: cmdCount},
		{name: "checksum", usage: "checksum <path>...", desc: "Prints the MD5 of a file's content.",
			minArgs: 1, maxArgs: -1, needsFS: true, run: cmdChecksum},
		{name: "cat", usage: "cat <path>...", desc: "Prints a file's content.",
			minArgs: 1, maxArgs: -1, needsFS: true, run: cmdCat},
		{name: "head", usage: "head [-c bytes] <path>", desc: "Prints the first bytes of a file (default 1KB).",
			flags: flagSpec{values: []string{"c"}}, minArgs: 1, maxArgs: 1, needsFS: true, run: cmdHead},
		{name: "tail", usage: "tail [-c bytes] <path>", desc: "Prints the last bytes of a file (default 1KB).",
			flags: flagSpec{values: []string{"c"}}, minArgs: 1, maxArgs: 1, needsFS: true, run: cmdTail},
		{name: "mkdir", usage: "mkdir <path>...", desc: "Creates directories and their missing parents.",
			minArgs: 1, maxArgs: -1, needsFS: true, run: cmdMkdir},
		{name: "touch", usage: "touch <path>...", desc: "Creates empty files (MUST_CACHE unless alluxio.user.file.writetype.default is set: persist them to reach the UFS).",
			minArgs: 1, maxArgs: -1, needsFS: true, run: cmdTouch},
		{name: "rm", usage: "rm [-R] [--alluxioOnly] <path>...", desc: "Removes files (-R: directories) from the namespace and, unless --alluxioOnly, from the UFS.",
			flags: flagSpec{bools: []string{"R", "alluxioOnly"}}, minArgs: 1, maxArgs: -1, needsFS: true, run: cmdRm},
		{name: "mv", usage: "mv <src> <dst>", desc: "Renames within one mount (in the UFS too, when persisted).",
			minArgs: 2, maxArgs: 2, needsFS: true, run: cmdMv},
		{name: "cp", usage: "cp [-R] <src> <dst>", desc: "Copies files (-R: directories); a file:// source or destination copies from or to local disk.",
			flags: flagSpec{bools: []string{"R"}}, minArgs: 2, maxArgs: 2, needsFS: true, run: cmdCp},
		{name: "copyFromLocal", usage: "copyFromLocal <localSrc> <dst>", desc: "Copies a local file or directory into the namespace.",
			minArgs: 2, maxArgs: 2, needsFS: true, run: cmdCopyFromLocal},
		{name: "copyToLocal", usage: "copyToLocal <src> <localDst>", desc: "Copies a file or directory to local disk.",
			minArgs: 2, maxArgs: 2, needsFS: true, run: cmdCopyToLocal},
		{name: "mount", usage: "mount [--readonly] [--shared] [--option key=value ...] <path> <uri>", desc: "Mounts a UFS (file://, oss://, kodo://, hdfs://); with no arguments prints the mount table (secrets redacted).",
			flags: flagSpec{bools: []string{"readonly", "shared"}, values: []string{"option"}}, minArgs: 0, maxArgs: 2, needsFS: true, run: cmdMount},
		{name: "unmount", usage: "unmount <path>", desc: "Unmounts a UFS; its data stays in the UFS.",
			minArgs: 1, maxArgs: 1, needsFS: true, run: cmdUnmount},
		{name: "persist", usage: "persist <path>...", desc: "Writes files not yet in the UFS (MUST_CACHE, ASYNC_THROUGH) to it.",
			minArgs: 1, maxArgs: -1, needsFS: true, run: cmdPersist},
		{name: "load", usage: "load <path>...", desc: "Reads files into the cache.",
			minArgs: 1, maxArgs: -1, needsFS: true, run: cmdLoad},
		{name: "free", usage: "free <path>...", desc: "Drops cached blocks of persisted files.",
			minArgs: 1, maxArgs: -1, needsFS: true, run: cmdFree},
		{name: "loadMetadata", usage: "loadMetadata [-R] [-F] [-n] <path>...", desc: "Syncs metadata from the UFS (-R recursive, -F now whatever the interval, -n no sync limit).",
			flags: flagSpec{bools: []string{"R", "F", "f", "n"}}, minArgs: 1, maxArgs: -1, needsFS: true, run: cmdLoadMetadata},
		{name: "startSync", usage: "startSync <path>", desc: "Makes a directory an active-sync point: syncs its subtree now; an embedding process that keeps the namespace open re-syncs it every alluxio.master.ufs.active.sync.interval.",
			minArgs: 1, maxArgs: 1, needsFS: true, run: cmdStartSync},
		{name: "stopSync", usage: "stopSync <path>", desc: "Removes an active-sync point.",
			minArgs: 1, maxArgs: 1, needsFS: true, run: cmdStopSync},
		{name: "getSyncPathList", usage: "getSyncPathList", desc: "Lists the active-sync points.",
			minArgs: 0, maxArgs: 0, needsFS: true, run: cmdGetSyncPathList},
		{name: "master", usage: "master [--debug]", desc: "Runs one member of a highly available namespace in the foreground (alluxio.zookeeper.enabled=true in the properties): it replays the shared journal, joins the ZooKeeper election and serves the others; SIGTERM stops it cleanly, handing leadership over.",
			flags: flagSpec{bools: []string{"debug"}}, minArgs: 0, maxArgs: 0, run: cmdMaster},
		{name: "leader", usage: "leader", desc: "Prints the address of the leading member (host:rpcport), found through ZooKeeper.",
			minArgs: 0, maxArgs: 0, needsFS: true, run: cmdLeader},
		{name: "masterInfo", usage: "masterInfo", desc: "Prints the leading member, its epoch and the journal position.",
			minArgs: 0, maxArgs: 0, needsFS: true, run: cmdMasterInfo},
		{name: "format", usage: "format --yes", desc: "Erases the journal and the disk cache of the state directory (never UFS data).",
			flags: flagSpec{bools: []string{"yes", "y"}}, minArgs: 0, maxArgs: 0, run: cmdFormat},
		{name: "runTests", usage: "runTests [--directory path] [--operation BASIC|BASIC_NON_BYTE_BUFFER] [--readType T] [--writeType T]", desc: "Writes, reads back and verifies a file for every read type x write type x operation; exits with the number of failures.",
			flags: flagSpec{values: []string{"directory", "operation", "readType", "writeType"}}, minArgs: 0, maxArgs: 0, needsFS: true, run: cmdRunTests},
		{name: "web", usage: "web [--listen host:port]", desc: "Serves the web UI (Overview, Browse, Mount Table, Configuration, Metrics, Cluster), /metrics for Prometheus, /healthz and /readyz, until interrupted; default --listen 127.0.0.1:19999. The UI is read-only. It holds the state directory while it runs, so run other commands after stopping it.",
			flags: flagSpec{values: []string{"listen"}}, minArgs: 0, maxArgs: 0, needsFS: true, run: cmdWeb},
		{name: "demo", usage: "demo [--keep]", desc: "Runs Alluxio's Transparent Naming walkthrough on temporary directories.",
			flags: flagSpec{bools: []string{"keep"}}, minArgs: 0, maxArgs: 0, run: cmdDemo},
		{name: "help", usage: "help [command]", desc: "Describes the commands.",
			minArgs: 0, maxArgs: 1, run: cmdHelp},
	}
}

// lookup finds a verb; Alluxio's names are matched case-insensitively.
func lookup(name string) *command {
	for _, c := range commands {
		if strings.EqualFold(c.name, name) {
			return c
		}
	}
	return nil
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "Usage: unifiedfs [--state DIR] [--conf FILE] [-Dkey=value ...] <command> [flags] [args]")
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %s\n", c.usage)
	}
	fmt.Fprintln(w, `Run "unifiedfs help <command>" for details.`)
}

func cmdHelp(c *cli, fl *flags) error {
	if len(fl.args) == 0 {
		printUsage(c.stdout)
		return nil
	}
	cmd := lookup(fl.args[0])
	if cmd == nil {
		return usagef("unknown command %q", fl.args[0])
	}
	fmt.Fprintf(c.stdout, "unifiedfs %s\n  %s\n", cmd.usage, cmd.desc)
	return nil
}

// nsPath validates a namespace path argument: a rooted path, or an alluxio:// URI whose
// host is ignored. It returns the rooted, clean form.
func nsPath(arg string) (string, error) {
	p := arg
	if rest, ok := strings.CutPrefix(p, "alluxio://"); ok {
		p = "/"
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			p = rest[i:]
		}
	}
	if !strings.HasPrefix(p, "/") {
		return "", usagef("%q is not a namespace path: write it rooted, like /data/file", arg)
	}
	clean, err := ufs.CleanPath(p)
	if err != nil {
		return "", usagef("%q is not a valid path: %v", arg, err)
	}
	return ufs.Rooted(clean), nil
}

// expand turns path arguments into rooted paths, expanding wildcards (* ? [) against the
// namespace as Alluxio's shell does.
func (c *cli) expand(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		p, err := nsPath(a)
		if err != nil {
			return nil, err
		}
		if !strings.ContainsAny(p, "*?[") {
			out = append(out, p)
			continue
		}
		matches, err := c.fsys.Glob(strings.TrimPrefix(p, "/"))
		if err != nil {
			return nil, usagef("bad pattern %q: %v", a, err)
		}
		if len(matches) == 0 {
			return nil, &fs.PathError{Op: "glob", Path: p, Err: fs.ErrNotExist}
		}
		sort.Strings(matches)
		for _, m := range matches {
			out = append(out, "/"+m)
		}
	}
	return out, nil
}
