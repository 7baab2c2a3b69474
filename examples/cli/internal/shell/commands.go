package shell

import (
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strings"

	"github.com/unifiedfs/unifiedfs/ufs"
	"github.com/unifiedfs/unifiedfs/web"
)

// command is one verb. Its flags are declared by bind, bound to the verb's own options.
type command struct {
	name    string
	args    string // the positional part of the usage line: "<path>..."
	desc    string
	minArgs int
	maxArgs int // -1: any
	needsFS bool
	// bind declares the verb's flags on fs, bound to a fresh options value, and returns
	// the verb's body reading them.
	bind func(fs *flagSet) func(c *cli, args []string) error
}

// flags returns a fresh flag set of the verb and its body.
func (cmd *command) flags() (*flagSet, func(c *cli, args []string) error) {
	fs := &flagSet{}
	return fs, cmd.bind(fs)
}

// usage is the verb's usage line, generated from its flag declarations.
func (cmd *command) usage() string {
	fs, _ := cmd.flags()
	parts := []string{cmd.name}
	if s := fs.synopsis(); s != "" {
		parts = append(parts, s)
	}
	if cmd.args != "" {
		parts = append(parts, cmd.args)
	}
	return strings.Join(parts, " ")
}

// plain binds a verb without flags.
func plain(run func(c *cli, args []string) error) func(*flagSet) func(*cli, []string) error {
	return func(*flagSet) func(*cli, []string) error { return run }
}

var commands []*command

func init() {
	commands = []*command{
		{name: "ls", args: "<path>...", desc: "Lists files and directories: permission, owner, group, size, persist state, modification time, % cached, path.",
			minArgs: 1, maxArgs: -1, needsFS: true, bind: func(fs *flagSet) func(*cli, []string) error {
				o := &lsOptions{sort: "path"}
				fs.Bool(&o.recursive, "R", "list subdirectories recursively")
				fs.Bool(&o.dirAsFile, "d", "list a directory itself, not its entries")
				fs.Bool(&o.force, "f", "re-sync the listed directories with the UFS first")
				fs.Bool(&o.human, "h", "human-readable sizes (1.50KB)")
				fs.Bool(&o.pinned, "p", "only pinned files (those whose only copy is the cache)")
				fs.String(&o.sort, "sort", "field", "sort by size, creationTime, inMemoryPercentage, lastModificationTime, name or path (default path)")
				fs.Bool(&o.reverse, "r", "reverse the sort order")
				return func(c *cli, args []string) error { return cmdLs(c, o, args) }
			}},
		{name: "stat", args: "<path>...", desc: "Shows the status of a file or directory.",
			minArgs: 1, maxArgs: -1, needsFS: true, bind: func(fs *flagSet) func(*cli, []string) error {
				o := &statOptions{}
				fs.String(&o.format, "f", "format", "print only this format: %N name, %z size, %u owner, %g group, %y mtime, %Y mtime in ms, %% a percent sign")
				return func(c *cli, args []string) error { return cmdStat(c, o, args) }
			}},
		{name: "du", args: "<path>...", desc: "Shows the size of files and how much of it is cached.",
			minArgs: 1, maxArgs: -1, needsFS: true, bind: func(fs *flagSet) func(*cli, []string) error {
				o := &duOptions{}
				fs.Bool(&o.human, "h", "human-readable sizes")
				fs.Bool(&o.summary, "s", "one summary line per argument")
				return func(c *cli, args []string) error { return cmdDu(c, o, args) }
			}},
		{name: "count", args: "<path>...", desc: "Counts files and folders below a path and their total size.",
			minArgs: 1, maxArgs: -1, needsFS: true, bind: func(fs *flagSet) func(*cli, []string) error {
				var human bool
				fs.Bool(&human, "h", "human-readable sizes")
				return func(c *cli, args []string) error { return cmdCount(c, human, args) }
			}},
		{name: "checksum", args: "<path>...", desc: "Prints the MD5 of a file's content.",
			minArgs: 1, maxArgs: -1, needsFS: true, bind: plain(cmdChecksum)},
		{name: "cat", args: "<path>...", desc: "Prints a file's content.",
			minArgs: 1, maxArgs: -1, needsFS: true, bind: plain(cmdCat)},
		{name: "head", args: "<path>", desc: "Prints the first bytes of a file.",
			minArgs: 1, maxArgs: 1, needsFS: true, bind: func(fs *flagSet) func(*cli, []string) error {
				n := int64(1024)
				fs.Size(&n, "c", "bytes", "how many bytes (default 1KB)")
				return func(c *cli, args []string) error { return cmdHead(c, n, args) }
			}},
		{name: "tail", args: "<path>", desc: "Prints the last bytes of a file.",
			minArgs: 1, maxArgs: 1, needsFS: true, bind: func(fs *flagSet) func(*cli, []string) error {
				n := int64(1024)
				fs.Size(&n, "c", "bytes", "how many bytes (default 1KB)")
				return func(c *cli, args []string) error { return cmdTail(c, n, args) }
			}},
		{name: "mkdir", args: "<path>...", desc: "Creates directories and their missing parents.",
			minArgs: 1, maxArgs: -1, needsFS: true, bind: plain(cmdMkdir)},
		{name: "touch", args: "<path>...", desc: "Creates empty files (MUST_CACHE unless alluxio.user.file.writetype.default is set: persist them to reach the UFS).",
			minArgs: 1, maxArgs: -1, needsFS: true, bind: plain(cmdTouch)},
		{name: "rm", args: "<path>...", desc: "Removes files from the namespace and the UFS.",
			minArgs: 1, maxArgs: -1, needsFS: true, bind: func(fs *flagSet) func(*cli, []string) error {
				o := &rmOptions{}
				fs.Bool(&o.recursive, "R", "remove directories and their contents")
				fs.Bool(&o.alluxioOnly, "alluxioOnly", "remove from the namespace only; the UFS keeps the data")
				return func(c *cli, args []string) error { return cmdRm(c, o, args) }
			}},
		{name: "mv", args: "<src> <dst>", desc: "Renames within one mount (in the UFS too, when persisted).",
			minArgs: 2, maxArgs: 2, needsFS: true, bind: plain(cmdMv)},
		{name: "cp", args: "<src> <dst>", desc: "Copies files; a file:// source or destination copies from or to local disk.",
			minArgs: 2, maxArgs: 2, needsFS: true, bind: func(fs *flagSet) func(*cli, []string) error {
				o := &cpOptions{}
				fs.Bool(&o.recursive, "R", "copy directories and their contents")
				return func(c *cli, args []string) error { return cmdCp(c, o, args) }
			}},
		{name: "copyFromLocal", args: "<localSrc> <dst>", desc: "Copies a local file or directory into the namespace.",
			minArgs: 2, maxArgs: 2, needsFS: true, bind: func(fs *flagSet) func(*cli, []string) error {
				o := &cpOptions{recursive: true}
				return func(c *cli, args []string) error { return cmdCopyFromLocal(c, o, args) }
			}},
		{name: "copyToLocal", args: "<src> <localDst>", desc: "Copies a file or directory to local disk.",
			minArgs: 2, maxArgs: 2, needsFS: true, bind: func(fs *flagSet) func(*cli, []string) error {
				o := &cpOptions{recursive: true}
				return func(c *cli, args []string) error { return cmdCopyToLocal(c, o, args) }
			}},
		{name: "mount", args: "<path> <uri>", desc: "Mounts a UFS (file://, oss://, kodo://, hdfs://, s3://); with no arguments prints the mount table (secrets redacted).",
			minArgs: 0, maxArgs: 2, needsFS: true, bind: func(fs *flagSet) func(*cli, []string) error {
				o := &mountOptions{}
				o.declare(fs)
				return func(c *cli, args []string) error { return cmdMount(c, o, args) }
			}},
		{name: "unmount", args: "<path>", desc: "Unmounts a UFS; its data stays in the UFS.",
			minArgs: 1, maxArgs: 1, needsFS: true, bind: plain(cmdUnmount)},
		{name: "persist", args: "<path>...", desc: "Writes files not yet in the UFS (MUST_CACHE, ASYNC_THROUGH) to it.",
			minArgs: 1, maxArgs: -1, needsFS: true, bind: plain(cmdPersist)},
		{name: "load", args: "<path>...", desc: "Reads files into the cache.",
			minArgs: 1, maxArgs: -1, needsFS: true, bind: plain(cmdLoad)},
		{name: "free", args: "<path>...", desc: "Drops cached blocks of persisted files.",
			minArgs: 1, maxArgs: -1, needsFS: true, bind: plain(cmdFree)},
		{name: "loadMetadata", args: "<path>...", desc: "Syncs metadata from the UFS.",
			minArgs: 1, maxArgs: -1, needsFS: true, bind: func(fs *flagSet) func(*cli, []string) error {
				o := &loadMetadataOptions{}
				fs.Bool(&o.recursive, "R", "recursively")
				fs.Bool(&o.force, "F|f", "now, whatever alluxio.user.file.metadata.sync.interval says")
				fs.Bool(&o.noLimit, "n", "no sync limit (alluxio.user.file.metadata.sync.limit)")
				return func(c *cli, args []string) error { return cmdLoadMetadata(c, o, args) }
			}},
		{name: "startSync", args: "<path>", desc: "Makes a directory an active-sync point: syncs its subtree now; an embedding process that keeps the namespace open re-syncs it every alluxio.master.ufs.active.sync.interval.",
			minArgs: 1, maxArgs: 1, needsFS: true, bind: plain(cmdStartSync)},
		{name: "stopSync", args: "<path>", desc: "Removes an active-sync point.",
			minArgs: 1, maxArgs: 1, needsFS: true, bind: plain(cmdStopSync)},
		{name: "getSyncPathList", desc: "Lists the active-sync points.",
			minArgs: 0, maxArgs: 0, needsFS: true, bind: plain(cmdGetSyncPathList)},
		{name: "master", desc: "Runs one member of a highly available namespace in the foreground (alluxio.zookeeper.enabled=true in the properties): it replays the shared journal, joins the ZooKeeper election and serves the others; SIGTERM stops it cleanly, handing leadership over.",
			minArgs: 0, maxArgs: 0, bind: func(fs *flagSet) func(*cli, []string) error {
				var debug bool
				fs.Bool(&debug, "debug", "log at debug level")
				return func(c *cli, _ []string) error { return cmdMaster(c, debug) }
			}},
		{name: "leader", desc: "Prints the address of the leading member (host:rpcport), found through ZooKeeper.",
			minArgs: 0, maxArgs: 0, needsFS: true, bind: plain(cmdLeader)},
		{name: "masterInfo", desc: "Prints the leading member, its epoch and the journal position.",
			minArgs: 0, maxArgs: 0, needsFS: true, bind: plain(cmdMasterInfo)},
		{name: "format", desc: "Erases the journal and the disk cache of the state directory (never UFS data).",
			minArgs: 0, maxArgs: 0, bind: func(fs *flagSet) func(*cli, []string) error {
				var yes bool
				fs.Bool(&yes, "yes|y", "confirm")
				return func(c *cli, _ []string) error { return cmdFormat(c, yes) }
			}},
		{name: "runTests", desc: "Writes, reads back and verifies a file for every read type x write type x operation; exits with the number of failures.",
			minArgs: 0, maxArgs: 0, needsFS: true, bind: func(fs *flagSet) func(*cli, []string) error {
				o := &runTestsOptions{directory: "/"}
				fs.String(&o.directory, "directory", "path", "the namespace directory to write default_tests_files in (default /)")
				fs.String(&o.operation, "operation", "BASIC|BASIC_NON_BYTE_BUFFER", "only this operation")
				fs.String(&o.readType, "readType", "T", "only this read type (NO_CACHE, CACHE, CACHE_PROMOTE)")
				fs.String(&o.writeType, "writeType", "T", "only this write type (MUST_CACHE, CACHE_THROUGH, THROUGH, ASYNC_THROUGH)")
				return func(c *cli, _ []string) error { return cmdRunTests(c, o) }
			}},
		{name: "web", desc: "Serves the web UI (Overview, Browse, Mount Table, Configuration, Metrics, Cluster), /metrics for Prometheus, /healthz and /readyz, until interrupted. The UI is read-only. It holds the state directory while it runs, so run other commands after stopping it.",
			minArgs: 0, maxArgs: 0, needsFS: true, bind: func(fs *flagSet) func(*cli, []string) error {
				listen := web.DefaultListen
				fs.String(&listen, "listen", "host:port", "the address to serve on (default "+web.DefaultListen+")")
				return func(c *cli, _ []string) error { return cmdWeb(c, listen) }
			}},
		{name: "demo", desc: "Runs Alluxio's Transparent Naming walkthrough on temporary directories.",
			minArgs: 0, maxArgs: 0, bind: func(fs *flagSet) func(*cli, []string) error {
				var keep bool
				fs.Bool(&keep, "keep", "keep the temporary directories and print where they are")
				return func(c *cli, _ []string) error { return cmdDemo(c, keep) }
			}},
		{name: "help", args: "[command]", desc: "Describes the commands.",
			minArgs: 0, maxArgs: 1, bind: plain(cmdHelp)},
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
		fmt.Fprintf(w, "  %s\n", c.usage())
	}
	fmt.Fprintln(w, `Run "unifiedfs help <command>" for details.`)
}

func cmdHelp(c *cli, args []string) error {
	if len(args) == 0 {
		printUsage(c.stdout)
		return nil
	}
	cmd := lookup(args[0])
	if cmd == nil {
		return usagef("unknown command %q", args[0])
	}
	fmt.Fprintf(c.stdout, "unifiedfs %s\n  %s\n", cmd.usage(), cmd.desc)
	if fs, _ := cmd.flags(); len(fs.defs) > 0 {
		fmt.Fprintln(c.stdout, "  Flags:")
		fs.printDefaults(c.stdout)
	}
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
