package shell

import (
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strings"
	"time"

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
				o.timestamp = "lastModificationTime"
				fs.String(&o.timestamp, "timestamp", "field", "the time shown: lastModificationTime, the only one the namespace records (creationTime and lastAccessTime are refused)")
				return func(c *cli, args []string) error { return cmdLs(c, o, args) }
			}},
		{name: "stat", args: "<path>...", desc: "Shows the status of a file or directory.",
			minArgs: 1, maxArgs: -1, needsFS: true, bind: func(fs *flagSet) func(*cli, []string) error {
				o := &statOptions{}
				fs.String(&o.format, "f", "format", "print only this format: %N name, %z size, %u owner, %g group, %y mtime, %Y mtime in ms, %b blocks of the file, %% a percent sign")
				return func(c *cli, args []string) error { return cmdStat(c, o, args) }
			}},
		{name: "du", args: "<path>...", desc: "Shows the size of files and how much of it is cached.",
			minArgs: 1, maxArgs: -1, needsFS: true, bind: func(fs *flagSet) func(*cli, []string) error {
				o := &duOptions{}
				fs.Bool(&o.human, "h", "human-readable sizes")
				fs.Bool(&o.summary, "s", "one summary line per argument")
				fs.Bool(&o.memory, "memory|m", "also show how much is in the memory tier")
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
				fs.Bool(&o.skipUFSCheck, "U", "skip the UFS consistency check (accepted: Delete does no such pre-check)")
				fs.Bool(&o.deleteMountPoint, "deleteMountPoint", "with -R, unmount the mount points below instead of failing (their UFS data stays)")
				return func(c *cli, args []string) error { return cmdRm(c, o, args) }
			}},
		{name: "mv", args: "<src> <dst>", desc: "Renames within one mount (in the UFS too, when persisted).",
			minArgs: 2, maxArgs: 2, needsFS: true, bind: plain(cmdMv)},
		{name: "cp", args: "<src> <dst>", desc: "Copies files; a file:// source or destination copies from or to local disk.",
			minArgs: 2, maxArgs: 2, needsFS: true, bind: func(fs *flagSet) func(*cli, []string) error {
				o := &cpOptions{threads: defaultCopyThreads, bufSize: 8 << 20}
				fs.Bool(&o.recursive, "R", "copy directories and their contents")
				o.declare(fs, true)
				return func(c *cli, args []string) error { return cmdCp(c, o, args) }
			}},
		{name: "copyFromLocal", args: "<localSrc> <dst>", desc: "Copies a local file or directory into the namespace.",
			minArgs: 2, maxArgs: 2, needsFS: true, bind: func(fs *flagSet) func(*cli, []string) error {
				o := &cpOptions{recursive: true, threads: defaultCopyThreads, bufSize: 8 << 20}
				o.declare(fs, false)
				return func(c *cli, args []string) error { return cmdCopyFromLocal(c, o, args) }
			}},
		{name: "copyToLocal", args: "<src> <localDst>", desc: "Copies a file or directory to local disk.",
			minArgs: 2, maxArgs: 2, needsFS: true, bind: func(fs *flagSet) func(*cli, []string) error {
				o := &cpOptions{recursive: true, threads: 1, bufSize: 64 << 20}
				fs.Size(&o.bufSize, "buffersize", "bytes", "read buffer size (default 64MB)")
				return func(c *cli, args []string) error { return cmdCopyToLocal(c, o, args) }
			}},
		{name: "mount", args: "<path> <uri>", desc: "Mounts a UFS (file://, oss://, kodo://, hdfs://, s3://); with no arguments prints the mount table (secrets redacted).",
			minArgs: 0, maxArgs: 2, needsFS: true, bind: func(fs *flagSet) func(*cli, []string) error {
				o := &mountOptions{}
				o.declare(fs)
				return func(c *cli, args []string) error { return cmdMount(c, o, args) }
			}},
		{name: "updateMount", args: "<path>", desc: "Changes a mount's options in place (rotated credentials, read-only, shared) keeping its metadata and cache; options are replaced, not merged.",
			minArgs: 1, maxArgs: 1, needsFS: true, bind: func(fs *flagSet) func(*cli, []string) error {
				o := &mountOptions{}
				o.declare(fs)
				return func(c *cli, args []string) error { return cmdUpdateMount(c, o, args) }
			}},
		{name: "unmount", args: "<path>", desc: "Unmounts a UFS; its data stays in the UFS.",
			minArgs: 1, maxArgs: 1, needsFS: true, bind: plain(cmdUnmount)},
		{name: "persist", args: "<path>...", desc: "Writes files not yet in the UFS (MUST_CACHE, ASYNC_THROUGH) to it.",
			minArgs: 1, maxArgs: -1, needsFS: true, bind: func(fs *flagSet) func(*cli, []string) error {
				o := &persistOptions{parallelism: 4, timeout: 20 * time.Minute}
				fs.Int(&o.parallelism, "p|parallelism", "N", "files persisted at once (default 4)")
				fs.Duration(&o.timeout, "t|timeout", "ms", "time out one file's persist after this many milliseconds, or a duration such as 30s (default 20min)")
				fs.Duration(&o.wait, "w|wait", "ms", "wait this long before persisting (default 0)")
				return func(c *cli, args []string) error { return cmdPersist(c, o, args) }
			}},
		{name: "load", args: "<path>...", desc: "Reads files into the cache.",
			minArgs: 1, maxArgs: -1, needsFS: true, bind: func(fs *flagSet) func(*cli, []string) error {
				var local bool
				fs.Bool(&local, "local", "load into this host's cache: always so, the cache is this process's (a cluster client loads into the leader's)")
				return func(c *cli, args []string) error { return cmdLoad(c, local, args) }
			}},
		{name: "distributedLoad", args: "<path>", desc: "Loads a file or a directory's files into the cache, several at a time. Alluxio spreads the loads over its workers with the job service; here the files load into this process's cache (a cluster client's into the leader's), one copy each.",
			minArgs: 1, maxArgs: 1, needsFS: true, bind: func(fs *flagSet) func(*cli, []string) error {
				o := &distributedLoadOptions{replication: 1, activeJobs: 3000}
				fs.Int(&o.replication, "replication", "N", "copies wanted (default 1; one process holds one)")
				fs.Int(&o.activeJobs, "active-jobs", "N", "files loaded at once (default 3000)")
				return func(c *cli, args []string) error { return cmdDistributedLoad(c, o, args) }
			}},
		{name: "free", args: "<path>...", desc: "Drops cached blocks of persisted files; pinned files only with -f.",
			minArgs: 1, maxArgs: -1, needsFS: true, bind: func(fs *flagSet) func(*cli, []string) error {
				var force bool
				fs.Bool(&force, "f", "free pinned files too")
				return func(c *cli, args []string) error { return cmdFree(c, force, args) }
			}},
		{name: "test", args: "<path>", desc: "Tests a property of a path: exit 0 when true, 1 when false, no output.",
			minArgs: 1, maxArgs: 1, needsFS: true, bind: func(fs *flagSet) func(*cli, []string) error {
				o := &testOptions{}
				fs.Bool(&o.dir, "d", "the path is a directory")
				fs.Bool(&o.exists, "e", "the path exists")
				fs.Bool(&o.file, "f", "the path is a file")
				fs.Bool(&o.nonEmpty, "s", "the path is not empty (a directory with entries, a file with bytes)")
				fs.Bool(&o.zero, "z", "the path is a file of zero length")
				return func(c *cli, args []string) error { return cmdTest(c, o, args) }
			}},
		{name: "setTtl", args: "<path> <time>", desc: "Gives a file or directory a time to live (milliseconds, or with a unit: ms, s, m, min, h, d) after which it is deleted (from the UFS too) or freed.",
			minArgs: 2, maxArgs: 2, needsFS: true, bind: func(fs *flagSet) func(*cli, []string) error {
				action := "delete"
				fs.String(&action, "action", "delete|free", "what happens at expiry (default delete)")
				return func(c *cli, args []string) error { return cmdSetTTL(c, action, args) }
			}},
		{name: "location", args: "<path>...", desc: "Shows where each block of a file is cached: the tier of this process's cache and, for an unpersisted file in a cluster, the member holding it.",
			minArgs: 1, maxArgs: -1, needsFS: true, bind: plain(cmdLocation)},
		{name: "getCapacityBytes", desc: "Prints the cache's capacity in bytes, then per tier (this process's cache).",
			minArgs: 0, maxArgs: 0, needsFS: true, bind: plain(cmdCapacity(false))},
		{name: "getUsedBytes", desc: "Prints the bytes the cache holds, then per tier (this process's cache).",
			minArgs: 0, maxArgs: 0, needsFS: true, bind: plain(cmdCapacity(true))},
		{name: "checkConsistency", args: "<path>", desc: "Compares the namespace with the UFS at and below a path and lists what differs (MISSING_IN_UFS, MISSING_IN_NAMESPACE, DIFFERS).",
			minArgs: 1, maxArgs: 1, needsFS: true, bind: func(fs *flagSet) func(*cli, []string) error {
				var repair bool
				fs.Bool(&repair, "r", "repair: re-sync exactly the entries found")
				return func(c *cli, args []string) error { return cmdCheckConsistency(c, repair, args) }
			}},
		{name: "unsetTtl", args: "<path>", desc: "Removes a time to live.",
			minArgs: 1, maxArgs: 1, needsFS: true, bind: plain(cmdUnsetTTL)},
		{name: "pin", args: "<path>...", desc: "Pins files (a directory: the files below it) in the cache, loading them: their blocks are never evicted.",
			minArgs: 1, maxArgs: -1, needsFS: true, bind: plain(setPinned(true))},
		{name: "unpin", args: "<path>...", desc: "Unpins files: their blocks may be evicted again.",
			minArgs: 1, maxArgs: -1, needsFS: true, bind: plain(setPinned(false))},
		{name: "chmod", args: "<mode> <path>...", desc: "Changes permission bits (octal, such as 755), in the UFS too where it keeps them (local disk, HDFS).",
			minArgs: 2, maxArgs: -1, needsFS: true, bind: func(fs *flagSet) func(*cli, []string) error {
				var rec bool
				fs.Bool(&rec, "R", "recursively")
				return func(c *cli, args []string) error { return cmdChmod(c, rec, args) }
			}},
		{name: "chown", args: "<owner>[:<group>] <path>...", desc: "Changes the owner (and group), in the UFS too where it keeps them (there only as permitted: root on local disk).",
			minArgs: 2, maxArgs: -1, needsFS: true, bind: func(fs *flagSet) func(*cli, []string) error {
				var rec bool
				fs.Bool(&rec, "R", "recursively")
				return func(c *cli, args []string) error { return cmdChown(c, rec, args) }
			}},
		{name: "chgrp", args: "<group> <path>...", desc: "Changes the group, in the UFS too where it keeps it.",
			minArgs: 2, maxArgs: -1, needsFS: true, bind: func(fs *flagSet) func(*cli, []string) error {
				var rec bool
				fs.Bool(&rec, "R", "recursively")
				return func(c *cli, args []string) error { return cmdChgrp(c, rec, args) }
			}},
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
