package shell

import (
	"fmt"
	"io"
	"io/fs"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/unifiedfs/unifiedfs"
)

// Alluxio's LsCommand columns: permission, owner, group, size, persistence state,
// last modification time, in-Alluxio percentage ("DIR" for directories), path.
const lsFormat = "%-12s%-15s%-15s%15s%16s%24s%5s %s\n"

// alluxioTime formats t as Alluxio's CommonUtils.convertMsToDate: MM-dd-yyyy HH:mm:ss:SSS
// (Go layouts cannot put milliseconds after a colon).
func alluxioTime(t time.Time) string {
	return fmt.Sprintf("%s:%03d", t.Format("01-02-2006 15:04:05"), t.Nanosecond()/1e6)
}

// humanSize formats bytes as Alluxio's FormatUtils.getSizeFromBytes: up to 5 of a unit
// stay in the smaller one ("5120B", "12.50KB", "3.00MB").
func humanSize(n int64) string {
	if n <= 5*1024 {
		return strconv.FormatInt(n, 10) + "B"
	}
	v := float64(n)
	for _, unit := range []string{"KB", "MB", "GB", "TB"} {
		v /= 1024
		if v <= 5*1024 {
			return fmt.Sprintf("%.2f%s", halfUp(v), unit)
		}
	}
	return fmt.Sprintf("%.2fPB", halfUp(v/1024))
}

// halfUp rounds to two decimals half away from zero, as Java's %.2f (Go's rounds half to
// even: 15.625 would print 15.62 where Alluxio prints 15.63).
func halfUp(v float64) float64 { return math.Round(v*100) / 100 }

func sizeString(n int64, human bool) string {
	if human {
		return humanSize(n)
	}
	return strconv.FormatInt(n, 10)
}

// cachedPercent is the share of a file's bytes in the cache (100 for an empty file).
func cachedPercent(st *unifiedfs.FileStatus) int {
	if st.Size <= 0 {
		return 100
	}
	return int(min(st.CachedBytes, st.Size) * 100 / st.Size)
}

func permString(st *unifiedfs.FileStatus) string {
	s := st.Mode.Perm().String() // "-rwxr-xr-x"
	if st.IsDir {
		s = "d" + s[1:]
	}
	return s
}

func lsLine(w io.Writer, st *unifiedfs.FileStatus, human bool) {
	size, state := sizeString(st.Size, human && !st.IsDir), "DIR"
	if st.IsDir {
		size = strconv.Itoa(st.Children) // Alluxio shows a directory's child count
	} else {
		state = strconv.Itoa(cachedPercent(st)) + "%"
	}
	fmt.Fprintf(w, lsFormat, permString(st), st.Owner, st.Group, size, st.PersistState.String(),
		alluxioTime(st.ModTime), state, st.Path)
}

// statusOf returns a directory entry's *FileStatus.
func statusOf(e fs.DirEntry) (*unifiedfs.FileStatus, error) {
	fi, err := e.Info()
	if err != nil {
		return nil, err
	}
	st, ok := fi.Sys().(*unifiedfs.FileStatus)
	if !ok {
		return nil, fmt.Errorf("entry %s has no status", e.Name())
	}
	return st, nil
}

// list returns the statuses below the directory p (recursively with rec). With force,
// every directory is re-synced with the UFS before it is listed (ls -f).
func (c *cli) list(p string, rec, force bool) ([]*unifiedfs.FileStatus, error) {
	if force {
		c.fsys.InvalidateSync(p)
	}
	entries, err := c.fsys.ListStatus(c.ctx, p)
	if err != nil {
		return nil, err
	}
	var out []*unifiedfs.FileStatus
	for _, e := range entries {
		st, err := statusOf(e)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
		if rec && st.IsDir {
			sub, err := c.list(st.Path, rec, force)
			if err != nil {
				return nil, err
			}
			out = append(out, sub...)
		}
	}
	return out, nil
}

var lsSorts = map[string]func(a, b *unifiedfs.FileStatus) bool{
	"path":                 func(a, b *unifiedfs.FileStatus) bool { return a.Path < b.Path },
	"name":                 func(a, b *unifiedfs.FileStatus) bool { return strings.ToLower(a.Name) < strings.ToLower(b.Name) },
	"size":                 func(a, b *unifiedfs.FileStatus) bool { return a.Size < b.Size },
	"lastModificationTime": func(a, b *unifiedfs.FileStatus) bool { return a.ModTime.Before(b.ModTime) },
	"creationTime":         func(a, b *unifiedfs.FileStatus) bool { return a.ModTime.Before(b.ModTime) },
	"inMemoryPercentage":   func(a, b *unifiedfs.FileStatus) bool { return cachedPercent(a) < cachedPercent(b) },
}

// lsOptions are ls's flags.
type lsOptions struct {
	recursive, dirAsFile, force, human, pinned, reverse bool
	sort, timestamp                                     string
}

func cmdLs(c *cli, o *lsOptions, args []string) error {
	less := lsSorts[o.sort]
	if less == nil {
		return usagef("--sort wants one of size, creationTime, inMemoryPercentage, lastModificationTime, name, path")
	}
	switch o.timestamp {
	case "lastModificationTime", "lastModifiedTime":
	case "creationTime", "createdTime", "lastAccessTime":
		return usagef("--timestamp %s: the namespace records only lastModificationTime", o.timestamp)
	default:
		return usagef("--timestamp wants lastModificationTime (creationTime and lastAccessTime are not recorded)")
	}
	paths, err := c.expand(args)
	if err != nil {
		return err
	}
	for _, p := range paths {
		if o.force {
			c.fsys.InvalidateSync(p)
		}
		st, err := c.fsys.GetStatus(c.ctx, p)
		if err != nil {
			return err
		}
		statuses := []*unifiedfs.FileStatus{st}
		if st.IsDir && !o.dirAsFile {
			if statuses, err = c.list(p, o.recursive, o.force); err != nil {
				return err
			}
		}
		sort.SliceStable(statuses, func(i, j int) bool {
			if o.reverse {
				return less(statuses[j], statuses[i])
			}
			return less(statuses[i], statuses[j])
		})
		for _, s := range statuses {
			if o.pinned && !s.Pinned {
				continue
			}
			lsLine(c.stdout, s, o.human)
		}
	}
	return nil
}

// statOptions are stat's flags.
type statOptions struct {
	format string // "": the full status
}

func cmdStat(c *cli, o *statOptions, args []string) error {
	paths, err := c.expand(args)
	if err != nil {
		return err
	}
	for _, p := range paths {
		st, err := c.fsys.GetStatus(c.ctx, p)
		if err != nil {
			return err
		}
		if o.format != "" {
			fmt.Fprintln(c.stdout, statFormat(o.format, st, c.blocks))
			continue
		}
		kind := "file"
		if st.IsDir {
			kind = "directory"
		}
		fmt.Fprintf(c.stdout, "%s is a %s path.\n", st.Path, kind)
		w := c.stdout
		fmt.Fprintf(w, "  path:              %s\n", st.Path)
		fmt.Fprintf(w, "  name:              %s\n", st.Name)
		fmt.Fprintf(w, "  folder:            %t\n", st.IsDir)
		fmt.Fprintf(w, "  length:            %d\n", st.Size)
		fmt.Fprintf(w, "  mode:              %s\n", permString(st))
		fmt.Fprintf(w, "  owner:             %s\n", st.Owner)
		fmt.Fprintf(w, "  group:             %s\n", st.Group)
		fmt.Fprintf(w, "  lastModified:      %s\n", alluxioTime(st.ModTime))
		fmt.Fprintf(w, "  persistenceState:  %s\n", st.PersistState)
		if !st.IsDir {
			fmt.Fprintf(w, "  inAlluxio:         %d bytes (%d%%)\n", st.CachedBytes, cachedPercent(st))
		}
		fmt.Fprintf(w, "  ufsPath:           %s\n", st.UFSPath)
		fmt.Fprintf(w, "  mountPoint:        %s (this entry is the mount point: %t)\n", st.MountPoint, st.IsMountPoint)
		fmt.Fprintf(w, "  readOnly:          %t\n", st.ReadOnly)
		if st.Fingerprint != "" {
			fmt.Fprintf(w, "  ufsFingerprint:    %s\n", st.Fingerprint)
		}
		if st.Incomplete {
			fmt.Fprintf(w, "  completed:         false\n")
		}
		fmt.Fprintf(w, "  pinned:            %t\n", st.Pinned)
		if st.TTL > 0 {
			fmt.Fprintf(w, "  ttl:               %d ms\n", st.TTL.Milliseconds())
			fmt.Fprintf(w, "  ttlAction:         %s\n", st.TTLAction)
		}
		if !st.IsDir {
			fmt.Fprintf(w, "  blocks:            %d\n", c.blocks(st.Size))
		}
	}
	return nil
}

// statFormat expands stat -f directives: %N name, %z size, %u owner, %g group,
// %y modification time, %Y modification time in ms, %b the number of cache blocks of
// a file (0 for a directory), %% a percent sign.
func statFormat(format string, st *unifiedfs.FileStatus, blocks func(int64) int64) string {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		if format[i] != '%' || i+1 == len(format) {
			b.WriteByte(format[i])
			continue
		}
		i++
		switch format[i] {
		case 'N':
			b.WriteString(st.Name)
		case 'z':
			b.WriteString(strconv.FormatInt(st.Size, 10))
		case 'u':
			b.WriteString(st.Owner)
		case 'g':
			b.WriteString(st.Group)
		case 'y':
			b.WriteString(alluxioTime(st.ModTime))
		case 'Y':
			b.WriteString(strconv.FormatInt(st.ModTime.UnixMilli(), 10))
		case 'b':
			n := int64(0)
			if !st.IsDir {
				n = blocks(st.Size)
			}
			b.WriteString(strconv.FormatInt(n, 10))
		case '%':
			b.WriteByte('%')
		default:
			b.WriteByte('%')
			b.WriteByte(format[i])
		}
	}
	return b.String()
}

// tree returns the status of p and, for a directory, of everything below it.
func (c *cli) tree(p string) ([]*unifiedfs.FileStatus, error) {
	st, err := c.fsys.GetStatus(c.ctx, p)
	if err != nil {
		return nil, err
	}
	out := []*unifiedfs.FileStatus{st}
	if st.IsDir {
		sub, err := c.list(p, true, false)
		if err != nil {
			return nil, err
		}
		out = append(out, sub...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// Alluxio's DuCommand format: size, in-Alluxio size and percentage, (in-memory size and
// percentage,) path.
const duFormat = "%-13s %-16s %s\n"

// duOptions are du's flags.
type duOptions struct {
	human, summary, memory bool
}

func cmdDu(c *cli, o *duOptions, args []string) error {
	paths, err := c.expand(args)
	if err != nil {
		return err
	}
	human := o.human
	cached := func(n, total int64) string {
		pct := int64(0)
		if total > 0 {
			pct = n * 100 / total
		}
		return fmt.Sprintf("%s (%d%%)", sizeString(n, human), pct)
	}
	line := func(size, in, mem int64, p string) {
		if o.memory {
			fmt.Fprintf(c.stdout, "%-13s %-16s %-16s %s\n", sizeString(size, human), cached(in, size), cached(mem, size), p)
			return
		}
		fmt.Fprintf(c.stdout, duFormat, sizeString(size, human), cached(in, size), p)
	}
	if o.memory {
		fmt.Fprintf(c.stdout, "%-13s %-16s %-16s %s\n", "File Size", "In Alluxio", "In Memory", "Path")
	} else {
		fmt.Fprintf(c.stdout, duFormat, "File Size", "In Alluxio", "Path")
	}
	for _, p := range paths {
		all, err := c.tree(p)
		if err != nil {
			return err
		}
		var total, inCache, inMem int64
		for _, st := range all {
			if st.IsDir {
				continue
			}
			in, mem := min(st.CachedBytes, st.Size), int64(0)
			if o.memory {
				if mem, err = c.memBytes(st.Path); err != nil {
					return err
				}
			}
			if o.summary {
				total += st.Size
				inCache += in
				inMem += mem
				continue
			}
			line(st.Size, in, mem, st.Path)
		}
		if o.summary {
			line(total, inCache, inMem, p)
		}
	}
	return nil
}

func cmdCount(c *cli, human bool, args []string) error {
	paths, err := c.expand(args)
	if err != nil {
		return err
	}
	const format = "%-25s%-25s%-15s\n"
	fmt.Fprintf(c.stdout, format, "File Count", "Folder Count", "Folder Size")
	for _, p := range paths {
		all, err := c.tree(p)
		if err != nil {
			return err
		}
		var files, dirs, size int64
		for _, st := range all {
			if st.IsDir {
				dirs++
			} else {
				files++
				size += st.Size
			}
		}
		fmt.Fprintf(c.stdout, format, strconv.FormatInt(files, 10), strconv.FormatInt(dirs, 10), sizeString(size, human))
	}
	return nil
}

// since formats an elapsed time for progress lines.
func since(t time.Time) string { return time.Since(t).Round(100 * time.Millisecond).String() }
