package shell

import (
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/unifiedfs/unifiedfs"
	"github.com/unifiedfs/unifiedfs/ufs"
)

// openFile opens a namespace file for reading (not a directory).
func (c *cli) openFile(p string) (*unifiedfs.File, error) {
	f, err := c.fsys.OpenFile(c.ctx, p, unifiedfs.OpenOptions{})
	if err != nil {
		return nil, err
	}
	file, ok := f.(*unifiedfs.File)
	if !ok {
		f.Close()
		return nil, &fs.PathError{Op: "open", Path: p, Err: unifiedfs.ErrIsDir}
	}
	return file, nil
}

func cmdCat(c *cli, args []string) error {
	paths, err := c.expand(args)
	if err != nil {
		return err
	}
	for _, p := range paths {
		f, err := c.openFile(p)
		if err != nil {
			return err
		}
		_, err = io.Copy(c.stdout, f)
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// openArg opens head's and tail's file argument.
func (c *cli) openArg(arg string) (*unifiedfs.File, error) {
	p, err := nsPath(arg)
	if err != nil {
		return nil, err
	}
	return c.openFile(p)
}

func cmdHead(c *cli, n int64, args []string) error {
	f, err := c.openArg(args[0])
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(c.stdout, io.LimitReader(f, n))
	return err
}

func cmdTail(c *cli, n int64, args []string) error {
	f, err := c.openArg(args[0])
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	off := max(fi.Size()-n, 0)
	_, err = io.Copy(c.stdout, io.NewSectionReader(f, off, fi.Size()-off))
	return err
}

func cmdChecksum(c *cli, args []string) error {
	paths, err := c.expand(args)
	if err != nil {
		return err
	}
	for _, p := range paths {
		f, err := c.openFile(p)
		if err != nil {
			return err
		}
		h := md5.New()
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return err
		}
		if len(paths) > 1 {
			fmt.Fprintf(c.stdout, "%s: ", p)
		}
		fmt.Fprintf(c.stdout, "md5sum: %x\n", h.Sum(nil))
	}
	return nil
}

func cmdMkdir(c *cli, args []string) error {
	for _, a := range args {
		p, err := nsPath(a)
		if err != nil {
			return err
		}
		if st, err := c.fsys.GetStatus(c.ctx, p); err == nil {
			kind := "file"
			if st.IsDir {
				kind = "directory"
			}
			return &fs.PathError{Op: "mkdir", Path: p, Err: fmt.Errorf("%w: a %s is already there", fs.ErrExist, kind)}
		}
		if err := c.fsys.MkdirAll(c.ctx, p); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "Successfully created directory %s\n", p)
	}
	return nil
}

func cmdTouch(c *cli, args []string) error {
	// The seed's walkthrough: a touched file lives only in the namespace until persisted.
	wt := unifiedfs.MustCache
	if c.writeTypeSet() {
		wt = unifiedfs.WriteDefault
	}
	for _, a := range args {
		p, err := nsPath(a)
		if err != nil {
			return err
		}
		if err := c.fsys.WriteFile(c.ctx, p, nil, unifiedfs.CreateOptions{WriteType: wt}); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "%s has been created\n", p)
	}
	return nil
}

// rmOptions are rm's flags.
type rmOptions struct {
	recursive, alluxioOnly bool
	// skipUFSCheck is -U: Alluxio skips checking that a persisted directory's UFS content
	// is in sync before deleting it. Delete here removes what the namespace lists and what
	// the UFS holds below it without such a pre-check, so -U changes nothing.
	skipUFSCheck     bool
	deleteMountPoint bool
}

func cmdRm(c *cli, o *rmOptions, args []string) error {
	paths, err := c.expand(args)
	if err != nil {
		return err
	}
	for _, p := range paths {
		st, err := c.fsys.GetStatus(c.ctx, p)
		if err != nil {
			return err
		}
		if st.IsDir && !o.recursive {
			return &fs.PathError{Op: "rm", Path: p, Err: fmt.Errorf("%w: use rm -R to remove a directory", unifiedfs.ErrIsDir)}
		}
		opts := unifiedfs.DeleteOptions{Recursive: o.recursive, NamespaceOnly: o.alluxioOnly, Unmount: o.deleteMountPoint}
		if err := c.fsys.Delete(c.ctx, p, opts); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "%s has been removed\n", p)
	}
	return nil
}

// into returns dst, or dst/base(src) when dst is an existing directory.
func (c *cli) into(src, dst string) string {
	if st, err := c.fsys.GetStatus(c.ctx, dst); err == nil && st.IsDir {
		return path.Join(dst, path.Base(src))
	}
	return dst
}

func cmdMv(c *cli, args []string) error {
	src, err := nsPath(args[0])
	if err != nil {
		return err
	}
	dst, err := nsPath(args[1])
	if err != nil {
		return err
	}
	dst = c.into(src, dst)
	if err := c.fsys.Rename(c.ctx, src, dst); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Renamed %s to %s\n", src, dst)
	return nil
}

// localPath strips a file:// prefix; ok says whether there was one.
func localPath(arg string) (string, bool) {
	if rest, ok := strings.CutPrefix(arg, "file://"); ok {
		return rest, true
	}
	return arg, false
}

// cpOptions are the flags of cp, copyFromLocal and copyToLocal.
type cpOptions struct {
	recursive bool
	threads   int   // files copied in parallel
	bufSize   int64 // read buffer per file
	preserve  bool  // -p: mode, owner, group (and on local disk the modification time)
}

func (o *cpOptions) declare(fs *flagSet, preserve bool) {
	fs.Int(&o.threads, "thread", "N", "files copied in parallel (default twice the cores)")
	fs.Size(&o.bufSize, "buffersize", "bytes", "read buffer size per file (default 8MB)")
	if preserve {
		fs.Bool(&o.preserve, "p|preserve", "keep mode, owner and group where permitted (and a local copy's modification time)")
	}
}

// defaultCopyThreads is Alluxio's default: twice the cores.
var defaultCopyThreads = 2 * runtime.NumCPU()

// copyJob is one file to copy.
type copyJob struct {
	src, dst string
	st       *unifiedfs.FileStatus // the namespace source, or nil for a local one
	local    fs.FileInfo           // the local source, or nil
}

// copyFiles copies the jobs o.threads at a time with copyOne, counting them on prog.
func (c *cli) copyFiles(o *cpOptions, jobs []copyJob, prog *progress, copyOne func(copyJob, []byte) error) error {
	return parallel(c.ctx, o.threads, jobs, func(_ context.Context, j copyJob) error {
		if err := copyOne(j, make([]byte, max(o.bufSize, 4096))); err != nil {
			return err
		}
		prog.add(1, 0)
		return nil
	})
}

// preserveIn gives the namespace file dst the mode, owner and group of its source, where
// possible: an owner or group the UFS refuses to give away (a non-root process on local
// disk) is reported on stderr and skipped. The modification time is not settable in the
// namespace.
func (c *cli) preserveIn(dst string, mode fs.FileMode, owner, group string) error {
	mode = mode.Perm()
	if err := c.fsys.SetAttribute(c.ctx, dst, unifiedfs.SetAttributeOptions{Mode: &mode}); err != nil {
		return err
	}
	st, err := c.fsys.GetStatus(c.ctx, dst)
	if err != nil {
		return err
	}
	if owner == "" || owner == st.Owner && group == st.Group {
		return nil
	}
	opts := unifiedfs.SetAttributeOptions{Owner: &owner}
	if group != "" {
		opts.Group = &group
	}
	if err := c.fsys.SetAttribute(c.ctx, dst, opts); errors.Is(err, fs.ErrPermission) {
		fmt.Fprintf(c.stderr, "unifiedfs: warning: %s keeps owner %s:%s: %s\n", dst, st.Owner, st.Group, oneLine(err))
	} else if err != nil {
		return err
	}
	return nil
}

func cmdCp(c *cli, o *cpOptions, args []string) error {
	srcLocal, fromLocal := localPath(args[0])
	dstLocal, toLocal := localPath(args[1])
	switch {
	case fromLocal && toLocal:
		return usagef("one side must be a namespace path (use your shell's cp for local copies)")
	case fromLocal:
		return c.copyFromLocal(srcLocal, args[1], o)
	case toLocal:
		return c.copyToLocal(args[0], dstLocal, o)
	}
	src, err := nsPath(args[0])
	if err != nil {
		return err
	}
	dst, err := nsPath(args[1])
	if err != nil {
		return err
	}
	all, err := c.tree(src)
	if err != nil {
		return err
	}
	if all[0].IsDir && !o.recursive {
		return &fs.PathError{Op: "cp", Path: src, Err: fmt.Errorf("%w: use cp -R to copy a directory", unifiedfs.ErrIsDir)}
	}
	dst = c.into(src, dst)
	if ufs.IsWithin(strings.TrimPrefix(dst, "/"), strings.TrimPrefix(src, "/")) && src != "/" {
		return usagef("cannot copy %s into itself (%s)", src, dst)
	}
	prog := c.newProgress("cp", countFiles(all), sumSizes(all))
	defer prog.done()
	var jobs []copyJob
	for _, st := range all {
		target := dst
		if rel := strings.TrimPrefix(st.Path, src); rel != "" {
			target = path.Join(dst, rel)
		}
		if st.IsDir { // parents first: all is sorted by path
			if err := c.fsys.MkdirAll(c.ctx, target); err != nil {
				return err
			}
			continue
		}
		jobs = append(jobs, copyJob{src: st.Path, dst: target, st: st})
	}
	err = c.copyFiles(o, jobs, prog, func(j copyJob, buf []byte) error {
		if err := c.copyWithin(j.src, j.dst, buf, prog); err != nil {
			return err
		}
		if o.preserve {
			return c.preserveIn(j.dst, j.st.Mode, j.st.Owner, j.st.Group)
		}
		return nil
	})
	if err != nil {
		return err
	}
	prog.printf("Copied %s to %s\n", src, dst)
	return nil
}

func countFiles(all []*unifiedfs.FileStatus) int {
	n := 0
	for _, st := range all {
		if !st.IsDir {
			n++
		}
	}
	return n
}

func sumSizes(all []*unifiedfs.FileStatus) int64 {
	var n int64
	for _, st := range all {
		if !st.IsDir {
			n += st.Size
		}
	}
	return n
}

// create starts writing dst with the configured write type; Close completes it.
func (c *cli) create(dst string) (*unifiedfs.Writer, error) {
	return c.fsys.Create(c.ctx, dst, unifiedfs.CreateOptions{})
}

// writeFrom copies r into a new namespace file dst, reading len(buf) bytes at a time.
func (c *cli) writeFrom(dst string, r io.Reader, buf []byte, prog *progress) error {
	w, err := c.create(dst)
	if err != nil {
		return err
	}
	if _, err := io.CopyBuffer(countingWriter{w, prog}, struct{ io.Reader }{r}, buf); err != nil {
		w.Abort()
		return err
	}
	return w.Close()
}

func (c *cli) copyWithin(src, dst string, buf []byte, prog *progress) error {
	f, err := c.openFile(src)
	if err != nil {
		return err
	}
	defer f.Close()
	return c.writeFrom(dst, f, buf, prog)
}

func cmdCopyFromLocal(c *cli, o *cpOptions, args []string) error {
	src, _ := localPath(args[0])
	return c.copyFromLocal(src, args[1], o)
}

func (c *cli) copyFromLocal(src, dstArg string, o *cpOptions) error {
	dst, err := nsPath(dstArg)
	if err != nil {
		return err
	}
	src, err = filepath.Abs(src)
	if err != nil {
		return err
	}
	var files int
	var total int64
	err = filepath.WalkDir(src, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			files++
			total += fi.Size()
		}
		return nil
	})
	if err != nil {
		return err
	}
	dst = c.into(filepath.ToSlash(src), dst)
	prog := c.newProgress("copyFromLocal", files, total)
	defer prog.done()
	var jobs []copyJob
	err = filepath.WalkDir(src, func(lp string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, lp)
		target := dst
		if rel != "." {
			target = path.Join(dst, filepath.ToSlash(rel))
		}
		switch {
		case d.IsDir():
			return c.fsys.MkdirAll(c.ctx, target)
		case d.Type().IsRegular():
			fi, err := d.Info()
			if err != nil {
				return err
			}
			jobs = append(jobs, copyJob{src: lp, dst: target, local: fi})
		}
		return nil
	})
	if err != nil {
		return err
	}
	err = c.copyFiles(o, jobs, prog, func(j copyJob, buf []byte) error {
		f, err := os.Open(j.src)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := c.writeFrom(j.dst, f, buf, prog); err != nil {
			return err
		}
		if o.preserve {
			owner, group := localOwner(j.local)
			return c.preserveIn(j.dst, j.local.Mode(), owner, group)
		}
		return nil
	})
	if err != nil {
		return err
	}
	prog.printf("Copied file://%s to %s\n", filepath.ToSlash(src), dst)
	return nil
}

func cmdCopyToLocal(c *cli, o *cpOptions, args []string) error {
	dst, _ := localPath(args[1])
	return c.copyToLocal(args[0], dst, o)
}

func (c *cli) copyToLocal(srcArg, dst string, o *cpOptions) error {
	src, err := nsPath(srcArg)
	if err != nil {
		return err
	}
	all, err := c.tree(src)
	if err != nil {
		return err
	}
	if all[0].IsDir && !o.recursive {
		return &fs.PathError{Op: "cp", Path: src, Err: fmt.Errorf("%w: use cp -R to copy a directory", unifiedfs.ErrIsDir)}
	}
	if dst, err = filepath.Abs(dst); err != nil {
		return err
	}
	if fi, err := os.Stat(dst); err == nil && fi.IsDir() {
		dst = filepath.Join(dst, path.Base(src))
	}
	prog := c.newProgress("copyToLocal", countFiles(all), sumSizes(all))
	defer prog.done()
	var jobs []copyJob
	for _, st := range all {
		target := dst
		if rel := strings.TrimPrefix(st.Path, src); rel != "" {
			target = filepath.Join(dst, filepath.FromSlash(rel))
		}
		if st.IsDir {
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
			continue
		}
		jobs = append(jobs, copyJob{src: st.Path, dst: target, st: st})
	}
	err = c.copyFiles(o, jobs, prog, func(j copyJob, buf []byte) error {
		if err := c.readTo(j.src, j.dst, buf, prog); err != nil {
			return err
		}
		if o.preserve {
			return c.preserveLocal(j.dst, j.st)
		}
		return nil
	})
	if err != nil {
		return err
	}
	prog.printf("Copied %s to file://%s\n", src, filepath.ToSlash(dst))
	return nil
}

// readTo copies a namespace file to a new local file, removing it on failure.
func (c *cli) readTo(src, dst string, buf []byte, prog *progress) (err error) {
	f, err := c.openFile(src)
	if err != nil {
		return err
	}
	defer f.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(dst)
		}
	}()
	_, err = io.CopyBuffer(countingWriter{out, prog}, struct{ io.Reader }{f}, buf)
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return err
}
