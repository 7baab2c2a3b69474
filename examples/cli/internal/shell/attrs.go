package shell

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/unifiedfs/unifiedfs"
	"github.com/unifiedfs/unifiedfs/internal/cache"
)

// parallel runs fn for each item on at most n goroutines (n < 1: one) and returns the
// first error; after an error the items not yet started are skipped.
func parallel[T any](parent context.Context, n int, items []T, fn func(context.Context, T) error) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	n = max(1, min(n, len(items)))
	work := make(chan T)
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range work {
				if err := fn(ctx, it); err != nil {
					once.Do(func() { first = err; cancel() })
				}
			}
		}()
	}
feed:
	for _, it := range items {
		select {
		case work <- it:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if first == nil {
		first = parent.Err() // items were skipped because the command was interrupted
	}
	return first
}

// parseTTL parses setTtl's time: milliseconds, or a number with Alluxio's units (ms,
// millisecond, s, sec, second, m, min, minute, h, hour, d, day).
func parseTTL(s string) (time.Duration, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	num := strings.TrimRightFunc(t, func(r rune) bool { return r >= 'a' && r <= 'z' })
	unit := strings.TrimSpace(t[len(num):])
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || n <= 0 {
		return 0, usagef("the time to live %q: want a positive number of milliseconds, or one with a unit (ms, s, m, min, h, d)", s)
	}
	units := map[string]time.Duration{"": time.Millisecond, "ms": time.Millisecond, "millisecond": time.Millisecond, "milliseconds": time.Millisecond,
		"s": time.Second, "sec": time.Second, "second": time.Second, "seconds": time.Second,
		"m": time.Minute, "min": time.Minute, "minute": time.Minute, "minutes": time.Minute,
		"h": time.Hour, "hour": time.Hour, "hours": time.Hour, "d": 24 * time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour}
	u, ok := units[unit]
	if !ok {
		return 0, usagef("the time to live %q: unknown unit %q (ms, s, m, min, h, d)", s, unit)
	}
	return time.Duration(n) * u, nil
}

func cmdSetTTL(c *cli, action string, args []string) error {
	p, err := nsPath(args[0])
	if err != nil {
		return err
	}
	ttl, err := parseTTL(args[1])
	if err != nil {
		return err
	}
	a, err := unifiedfs.ParseTTLAction(action)
	if err != nil {
		return usagef("--action wants delete or free, not %q", action)
	}
	if err := c.fsys.SetAttribute(c.ctx, p, unifiedfs.SetAttributeOptions{TTL: &ttl, TTLAction: &a}); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "TTL of path '%s' was successfully set to %d milliseconds, with expiry action set to %s\n", p, ttl.Milliseconds(), a)
	return nil
}

func cmdUnsetTTL(c *cli, args []string) error {
	p, err := nsPath(args[0])
	if err != nil {
		return err
	}
	if err := c.fsys.SetAttribute(c.ctx, p, unifiedfs.SetAttributeOptions{UnsetTTL: true}); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "TTL of path '%s' was successfully removed.\n", p)
	return nil
}

// setPinned is pin (true) and unpin (false).
func setPinned(pin bool) func(c *cli, args []string) error {
	return func(c *cli, args []string) error {
		paths, err := c.expand(args)
		if err != nil {
			return err
		}
		for _, p := range paths {
			if err := c.fsys.SetAttribute(c.ctx, p, unifiedfs.SetAttributeOptions{Pinned: &pin, Recursive: true}); err != nil {
				return err
			}
			if pin {
				fmt.Fprintf(c.stdout, "File '%s' was successfully pinned.\n", p)
			} else {
				fmt.Fprintf(c.stdout, "File '%s' was successfully unpinned.\n", p)
			}
		}
		return nil
	}
}

// parseMode parses chmod's octal mode (Alluxio accepts three octal digits).
func parseMode(s string) (fs.FileMode, error) {
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil || n > 0o777 || len(s) > 4 {
		return 0, usagef("mode %q: want octal permission bits such as 755", s)
	}
	return fs.FileMode(n), nil
}

func cmdChmod(c *cli, recursive bool, args []string) error {
	mode, err := parseMode(args[0])
	if err != nil {
		return err
	}
	paths, err := c.expand(args[1:])
	if err != nil {
		return err
	}
	for _, p := range paths {
		if err := c.fsys.SetAttribute(c.ctx, p, unifiedfs.SetAttributeOptions{Mode: &mode, Recursive: recursive}); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "Changed permission of %s to %o\n", p, mode)
	}
	return nil
}

func cmdChown(c *cli, recursive bool, args []string) error {
	owner, group, hasGroup := strings.Cut(args[0], ":")
	if owner == "" || hasGroup && group == "" {
		return usagef("chown wants <owner>[:<group>], not %q", args[0])
	}
	opts := unifiedfs.SetAttributeOptions{Owner: &owner, Recursive: recursive}
	if hasGroup {
		opts.Group = &group
	}
	paths, err := c.expand(args[1:])
	if err != nil {
		return err
	}
	for _, p := range paths {
		if err := c.fsys.SetAttribute(c.ctx, p, opts); err != nil {
			return err
		}
		if hasGroup {
			fmt.Fprintf(c.stdout, "Changed owner:group of %s to %s:%s.\n", p, owner, group)
		} else {
			fmt.Fprintf(c.stdout, "Changed owner of %s to %s.\n", p, owner)
		}
	}
	return nil
}

func cmdChgrp(c *cli, recursive bool, args []string) error {
	group := args[0]
	if group == "" {
		return usagef("chgrp wants a group name")
	}
	paths, err := c.expand(args[1:])
	if err != nil {
		return err
	}
	for _, p := range paths {
		if err := c.fsys.SetAttribute(c.ctx, p, unifiedfs.SetAttributeOptions{Group: &group, Recursive: recursive}); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "Changed group of %s to %s.\n", p, group)
	}
	return nil
}

func cmdUpdateMount(c *cli, o *mountOptions, args []string) error {
	p, err := nsPath(args[0])
	if err != nil {
		return err
	}
	mo, err := c.mountOptions(o)
	if err != nil {
		return err
	}
	if err := c.fsys.UpdateMount(c.ctx, p, mo); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Updated mount point options at %s\n", p)
	return nil
}

// testOptions are test's flags: exactly one is given.
type testOptions struct {
	dir, exists, file, nonEmpty, zero bool
}

// cmdTest answers with the exit code only, as Alluxio's test: 0 true, 1 false.
func cmdTest(c *cli, o *testOptions, args []string) error {
	n := 0
	for _, b := range []bool{o.dir, o.exists, o.file, o.nonEmpty, o.zero} {
		if b {
			n++
		}
	}
	if n != 1 {
		return usagef("test wants exactly one of -d, -e, -f, -s, -z")
	}
	p, err := nsPath(args[0])
	if err != nil {
		return err
	}
	st, err := c.fsys.GetStatus(c.ctx, p)
	if errors.Is(err, fs.ErrNotExist) {
		return exitCode(1)
	}
	if err != nil {
		return err
	}
	var ok bool
	switch {
	case o.dir:
		ok = st.IsDir
	case o.exists:
		ok = true
	case o.file:
		ok = !st.IsDir
	case o.nonEmpty: // a directory with entries, a file with bytes
		if st.IsDir {
			entries, err := c.fsys.ListStatus(c.ctx, p)
			if err != nil {
				return err
			}
			ok = len(entries) > 0
		} else {
			ok = st.Size > 0
		}
	case o.zero:
		ok = !st.IsDir && st.Size == 0
	}
	if !ok {
		return exitCode(1)
	}
	return nil
}

// distributedLoadOptions are distributedLoad's flags.
type distributedLoadOptions struct {
	replication, activeJobs int
}

// cmdDistributedLoad loads files into this process's cache, activeJobs at a time. In a
// cluster of members each member has its own cache and serves the files it holds; this
// command loads into the cache of the process that runs it (a client of a cluster asks
// the leader, whose cache then holds them), one replica whatever --replication says.
func cmdDistributedLoad(c *cli, o *distributedLoadOptions, args []string) error {
	if o.replication < 1 || o.activeJobs < 1 {
		return usagef("--replication and --active-jobs want a positive number")
	}
	p, err := nsPath(args[0])
	if err != nil {
		return err
	}
	all, err := c.tree(p)
	if err != nil {
		return err
	}
	var files []*unifiedfs.FileStatus
	for _, st := range all {
		if !st.IsDir {
			files = append(files, st)
		}
	}
	prog := c.newProgress("distributedLoad", len(files), sumSizes(files))
	defer prog.done()
	if o.replication > 1 {
		prog.printf("Replication %d: one process holds one copy of each block; loading one.\n", o.replication)
	}
	err = parallel(c.ctx, o.activeJobs, files, func(ctx context.Context, st *unifiedfs.FileStatus) error {
		if st.CachedBytes < st.Size {
			if err := c.fsys.Load(ctx, st.Path); err != nil {
				return err
			}
		}
		prog.add(1, st.Size)
		prog.printf("Successfully loaded path %s\n", st.Path)
		return nil
	})
	if err != nil {
		return err
	}
	prog.printf("Completed loading %d files under %s\n", len(files), p)
	return nil
}

// blocks is the number of cache blocks a file of size bytes takes (stat's %b).
func (c *cli) blocks(size int64) int64 {
	bs := c.cfg.BlockSize
	if bs <= 0 {
		bs = cache.DefaultBlockSize
	}
	return (size + bs - 1) / bs
}

// cmdLocation prints where each block of a file is cached, as Alluxio's location prints
// the workers holding it: here the tier of this process's cache and, for an unpersisted
// file in a cluster, the member holding its only copy.
func cmdLocation(c *cli, args []string) error {
	paths, err := c.expand(args)
	if err != nil {
		return err
	}
	for _, p := range paths {
		blocks, err := c.fsys.Location(c.ctx, p)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "%s has %d blocks:\n", p, len(blocks))
		for _, b := range blocks {
			where := "not cached (read from the UFS)"
			if b.Cached {
				where = "cached in " + b.Tier
			}
			if b.Member != "" {
				where += ", held by member " + b.Member
			}
			fmt.Fprintf(c.stdout, "  block %d (offset %d, length %d): %s\n", b.Index, b.Offset, b.Length, where)
		}
	}
	return nil
}

// cmdCapacity is getCapacityBytes (used false) and getUsedBytes (used true): Alluxio's
// line for the whole cache, then one line per tier.
func cmdCapacity(used bool) func(c *cli, args []string) error {
	return func(c *cli, _ []string) error {
		tiers := c.fsys.Capacity()
		var total int64
		for _, t := range tiers {
			if used {
				total += t.Used
			} else {
				total += t.Capacity
			}
		}
		label := "Capacity Bytes"
		if used {
			label = "Used Bytes"
		}
		fmt.Fprintf(c.stdout, "%s: %d\n", label, total)
		for _, t := range tiers {
			n := t.Capacity
			if used {
				n = t.Used
			}
			fmt.Fprintf(c.stdout, "  %s: %d\n", t.Tier, n)
		}
		return nil
	}
}

func cmdCheckConsistency(c *cli, repair bool, args []string) error {
	p, err := nsPath(args[0])
	if err != nil {
		return err
	}
	// A fresh process holds only what the journal kept (mounts, unpersisted files,
	// attributes); the tree is loaded first so that the check compares every entry below p,
	// and what it can find are the journaled facts the UFS now contradicts.
	if _, err := c.tree(p); err != nil {
		return err
	}
	found, err := c.fsys.CheckConsistency(c.ctx, p, unifiedfs.CheckConsistencyOptions{Repair: repair})
	if err != nil {
		return err
	}
	if len(found) == 0 {
		fmt.Fprintf(c.stdout, "%s is consistent with the under storage system.\n", p)
		return nil
	}
	fmt.Fprintf(c.stdout, "%s has: %d inconsistent files.\n", p, len(found))
	for _, in := range found {
		fmt.Fprintf(c.stdout, "%s %s: %s\n", in.Kind, in.Path, in.Detail)
	}
	if repair {
		fmt.Fprintf(c.stdout, "%s was repaired: its inconsistent entries were re-synced.\n", p)
	}
	return nil
}

// memBytes is how many of a file's bytes the memory tier holds.
func (c *cli) memBytes(p string) (int64, error) {
	blocks, err := c.fsys.Location(c.ctx, p)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, b := range blocks {
		if b.Tier == cache.TierMem {
			n += b.Length
		}
	}
	return n, nil
}
