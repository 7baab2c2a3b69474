package shell

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/unifiedfs/unifiedfs"
	"github.com/unifiedfs/unifiedfs/internal/journal"
)

// mountOptions are the flags of mount (and updateMount).
type mountOptions struct {
	readOnly, shared bool
	options          []string // key=value
}

func (o *mountOptions) declare(fs *flagSet) {
	fs.Bool(&o.readOnly, "readonly", "refuse every write under the mount")
	fs.Bool(&o.shared, "shared", "give other users the owner's permission bits")
	fs.Strings(&o.options, "option", "key=value", "a driver option (credentials, endpoint), repeatable")
}

// mountOptions returns the library options: the site-wide driver properties, as Alluxio
// applies them, then the --option values.
func (c *cli) mountOptions(o *mountOptions) (unifiedfs.MountOptions, error) {
	opts := map[string]string{}
	for k, v := range c.ufsDefaults {
		opts[k] = v
	}
	for _, kv := range o.options {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return unifiedfs.MountOptions{}, usagef("--option wants key=value, e.g. --option fs.oss.endpoint=oss-cn-hangzhou.aliyuncs.com")
		}
		opts[k] = v
	}
	return unifiedfs.MountOptions{ReadOnly: o.readOnly, Shared: o.shared, Options: opts}, nil
}

func cmdMount(c *cli, o *mountOptions, args []string) error {
	if len(args) == 0 {
		if len(o.options) > 0 || o.readOnly || o.shared {
			return usagef("usage: unifiedfs %s", lookup("mount").usage())
		}
		printMounts(c, c.fsys.Mounts())
		return nil
	}
	if len(args) != 2 {
		return usagef("usage: unifiedfs %s", lookup("mount").usage())
	}
	p, err := nsPath(args[0])
	if err != nil {
		return err
	}
	uri := args[1]
	mo, err := c.mountOptions(o)
	if err != nil {
		return err
	}
	err = c.fsys.Mount(c.ctx, p, uri, mo)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Mounted %s at %s\n", uri, p)
	return nil
}

// printMounts prints the mount table as Alluxio's mount command does:
// "<ufs>  on  <path>  (<kind>, read-only|not read-only, shared|not shared, properties={...})".
func printMounts(c *cli, mounts []unifiedfs.MountInfo) {
	wu, wp := 0, 0
	for _, m := range mounts {
		wu, wp = max(wu, len(m.UFS)), max(wp, len(m.Path))
	}
	for _, m := range mounts {
		ro, sh := "not read-only", "not shared"
		if m.ReadOnly {
			ro = "read-only"
		}
		if m.Shared {
			sh = "shared"
		}
		keys := make([]string, 0, len(m.Options))
		for k := range m.Options {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		props := make([]string, len(keys))
		for i, k := range keys {
			props[i] = k + "=" + m.Options[k] // MountInfo options are already redacted
		}
		fmt.Fprintf(c.stdout, "%-*s  on  %-*s  (%s, %s, %s, properties={%s})\n", wu, m.UFS, wp, m.Path, m.Kind, ro, sh, strings.Join(props, ", "))
	}
}

func cmdUnmount(c *cli, args []string) error {
	p, err := nsPath(args[0])
	if err != nil {
		return err
	}
	if err := c.fsys.Unmount(c.ctx, p); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Unmounted %s\n", p)
	return nil
}

// persistOptions are persist's flags.
type persistOptions struct {
	parallelism int           // files persisted at once
	timeout     time.Duration // per file
	wait        time.Duration // before persisting
}

func cmdPersist(c *cli, o *persistOptions, args []string) error {
	if o.parallelism < 1 {
		return usagef("-p wants a positive number of parallel persists")
	}
	paths, err := c.expand(args)
	if err != nil {
		return err
	}
	var todo []*unifiedfs.FileStatus
	var dirs []string
	for _, p := range paths {
		all, err := c.tree(p)
		if err != nil {
			return err
		}
		if all[0].IsDir {
			dirs = append(dirs, p)
		}
		for _, st := range all {
			if !st.IsDir && st.PersistState != unifiedfs.Persisted {
				todo = append(todo, st)
			}
		}
	}
	prog := c.newProgress("persist", len(todo), sumSizes(todo))
	defer prog.done()
	prog.printf("Found %d files to persist.\n", len(todo))
	if o.wait > 0 && len(todo) > 0 {
		t := time.NewTimer(o.wait)
		select {
		case <-c.ctx.Done():
			t.Stop()
			return c.ctx.Err()
		case <-t.C:
		}
	}
	var mu sync.Mutex
	done := 0
	err = parallel(c.ctx, o.parallelism, todo, func(ctx context.Context, st *unifiedfs.FileStatus) error {
		if o.timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, o.timeout)
			defer cancel()
		}
		if err := c.fsys.Persist(ctx, st.Path); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return fmt.Errorf("persisting %s timed out after %s (raise -t): %w", st.Path, o.timeout, err)
			}
			return err
		}
		prog.add(1, st.Size)
		mu.Lock()
		done++
		n := done
		mu.Unlock()
		prog.printf("(%d/%d) Successfully persisted file: %s\n", n, len(todo), st.Path)
		return nil
	})
	if err != nil {
		return err
	}
	for _, d := range dirs { // directories made only in the namespace
		if err := c.fsys.Persist(c.ctx, d); err != nil {
			return err
		}
	}
	return nil
}

// cmdLoad reads files into the cache. --local (Alluxio: load into the worker on this host
// even when another worker has the data) changes nothing: the cache is this process's.
func cmdLoad(c *cli, _ bool, args []string) error {
	paths, err := c.expand(args)
	if err != nil {
		return err
	}
	var files []*unifiedfs.FileStatus
	for _, p := range paths {
		all, err := c.tree(p)
		if err != nil {
			return err
		}
		for _, st := range all {
			if !st.IsDir {
				files = append(files, st)
			}
		}
	}
	prog := c.newProgress("load", len(files), sumSizes(files))
	defer prog.done()
	for _, st := range files {
		if st.CachedBytes >= st.Size {
			prog.add(1, st.Size)
			prog.printf("%s already in Alluxio fully\n", st.Path)
			continue
		}
		if err := c.fsys.Load(c.ctx, st.Path); err != nil {
			return err
		}
		prog.add(1, st.Size)
		prog.printf("%s loaded\n", st.Path)
	}
	return nil
}

// cmdFree drops cached blocks; the library refuses pinned files (ErrPinned, before
// anything is freed) unless force, as Alluxio's free -f.
func cmdFree(c *cli, force bool, args []string) error {
	paths, err := c.expand(args)
	if err != nil {
		return err
	}
	for _, p := range paths {
		if err := c.fsys.Free(c.ctx, p, unifiedfs.FreeOptions{Force: force}); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "%s was successfully freed from Alluxio space.\n", p)
	}
	return nil
}

// loadMetadataOptions are loadMetadata's flags.
type loadMetadataOptions struct {
	recursive, force, noLimit bool
}

func cmdLoadMetadata(c *cli, o *loadMetadataOptions, args []string) error {
	paths, err := c.expand(args)
	if err != nil {
		return err
	}
	opts := unifiedfs.LoadMetadataOptions{Recursive: o.recursive, Force: o.force}
	if o.noLimit {
		opts.Limit = -1
	}
	for _, p := range paths {
		prog := c.newProgress("loadMetadata "+p, 0, 0)
		prog.tick()
		err := c.fsys.LoadMetadata(c.ctx, p, opts)
		prog.done()
		if err != nil {
			return err
		}
	}
	return nil
}

func cmdStartSync(c *cli, args []string) error {
	p, err := nsPath(args[0])
	if err != nil {
		return err
	}
	if err := c.fsys.StartSync(c.ctx, p); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Started automatic syncing of '%s'.\n", p)
	return nil
}

func cmdStopSync(c *cli, args []string) error {
	p, err := nsPath(args[0])
	if err != nil {
		return err
	}
	if err := c.fsys.StopSync(c.ctx, p); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Stopped automatic syncing of '%s'.\n", p)
	return nil
}

func cmdGetSyncPathList(c *cli, _ []string) error {
	fmt.Fprintln(c.stdout, "The following paths are under active syncing")
	for _, sp := range c.fsys.SyncPoints() {
		// LastSync is known only to the process that synced; a later invocation has none.
		if sp.LastSync.IsZero() {
			fmt.Fprintln(c.stdout, sp.Path)
			continue
		}
		fmt.Fprintf(c.stdout, "%s\t(last synced %s)\n", sp.Path, alluxioTime(sp.LastSync))
	}
	return nil
}

// cmdFormat erases the journal and the disk cache: what the namespace remembers, never UFS
// data (the default root UFS, <state>/root, is kept).
func cmdFormat(c *cli, yes bool) error {
	if err := c.loadConfig(); err != nil {
		return err
	}
	if !yes {
		return usagef("format erases the journal %s and the cache %s (mounts, unpersisted files, sync points): rerun with --yes to confirm",
			c.cfg.JournalDir, c.cfg.CacheDir)
	}
	home, _ := os.UserHomeDir()
	for _, d := range []string{c.cfg.JournalDir, c.cfg.CacheDir} {
		d = filepath.Clean(d)
		if d == "/" || d == filepath.Clean(home) || d == c.stateDir || !filepath.IsAbs(d) {
			return fmt.Errorf("refusing to erase %s: point the journal and cache at their own directories", d)
		}
	}
	// The journal's lock keeps a running unifiedfs (which holds it) from having its state
	// erased underneath it, and keeps one from starting meanwhile.
	unlock, err := journal.LockDir(c.cfg.JournalDir)
	if errors.Is(err, journal.ErrLocked) {
		return fmt.Errorf("the journal %s is in use by a running unifiedfs: stop it before formatting: %w", c.cfg.JournalDir, err)
	}
	if err != nil {
		return err
	}
	defer unlock()
	for _, d := range []string{c.cfg.JournalDir, c.cfg.CacheDir} {
		ents, err := os.ReadDir(d)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		for _, e := range ents {
			if d == c.cfg.JournalDir && journal.IsLockFile(e.Name()) {
				continue
			}
			if err := os.RemoveAll(filepath.Join(d, e.Name())); err != nil {
				return err
			}
		}
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	fmt.Fprintf(c.stdout, "Formatted journal %s and cache %s\n", c.cfg.JournalDir, c.cfg.CacheDir)
	return nil
}
