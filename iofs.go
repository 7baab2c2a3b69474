package unifiedfs

import (
	"context"
	"errors"
	"io"
	"io/fs"

	"github.com/unifiedfs/unifiedfs/ufs"
)

// The io/fs interfaces the FS and its views implement.
var (
	_ fs.FS         = (*FS)(nil)
	_ fs.StatFS     = (*FS)(nil)
	_ fs.ReadDirFS  = (*FS)(nil)
	_ fs.ReadFileFS = (*FS)(nil)
	_ fs.SubFS      = (*FS)(nil)
	_ fs.GlobFS     = (*FS)(nil)
	_ fs.StatFS     = (*View)(nil)
	_ fs.ReadDirFS  = (*View)(nil)
	_ fs.ReadFileFS = (*View)(nil)
)

// ioPath validates an io/fs name (fs.ValidPath: "a/b", "." for the root; not the rooted
// form, nor a trailing slash).
func ioPath(op, name string) (string, error) {
	if name == "" || name[0] == '/' || name[len(name)-1] == '/' {
		return "", &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	return ufs.CheckPath(op, name)
}

// Open implements fs.FS with the FS's base context and default read type.
func (f *FS) Open(name string) (fs.File, error) { return f.WithContext(f.ctx).Open(name) }

// Stat implements fs.StatFS.
func (f *FS) Stat(name string) (fs.FileInfo, error) { return f.WithContext(f.ctx).Stat(name) }

// ReadDir implements fs.ReadDirFS: the entries sorted by name.
func (f *FS) ReadDir(name string) ([]fs.DirEntry, error) { return f.WithContext(f.ctx).ReadDir(name) }

// ReadFile implements fs.ReadFileFS.
func (f *FS) ReadFile(name string) ([]byte, error) { return f.WithContext(f.ctx).ReadFile(name) }

// Sub implements fs.SubFS.
func (f *FS) Sub(dir string) (fs.FS, error) { return f.WithContext(f.ctx).Sub(dir) }

// Glob implements fs.GlobFS.
func (f *FS) Glob(pattern string) ([]string, error) { return f.WithContext(f.ctx).Glob(pattern) }

// WithContext returns an io/fs view of the namespace whose operations use ctx.
func (f *FS) WithContext(ctx context.Context) *View { return &View{f: f, ctx: ctx} }

// View is an io/fs view of an FS bound to a context (see FS.WithContext).
type View struct {
	f   *FS
	ctx context.Context
	lo  lookupOpts
}

// Open implements fs.FS.
func (v *View) Open(name string) (fs.File, error) {
	p, err := ioPath("open", name)
	if err != nil {
		return nil, err
	}
	return v.f.open(v.ctx, p, OpenOptions{}, v.lo)
}

// Stat implements fs.StatFS; Sys() of the result is a *FileStatus.
func (v *View) Stat(name string) (fs.FileInfo, error) {
	p, err := ioPath("stat", name)
	if err != nil {
		return nil, err
	}
	return v.f.stat(v.ctx, p, v.lo)
}

// ReadDir implements fs.ReadDirFS.
func (v *View) ReadDir(name string) ([]fs.DirEntry, error) {
	p, err := ioPath("readdir", name)
	if err != nil {
		return nil, err
	}
	return v.f.readDir(v.ctx, p, v.lo)
}

// ReadFile implements fs.ReadFileFS.
func (v *View) ReadFile(name string) ([]byte, error) {
	p, err := ioPath("readfile", name)
	if err != nil {
		return nil, err
	}
	return v.f.readFile(v.ctx, p, v.lo)
}

// Sub implements fs.SubFS.
func (v *View) Sub(dir string) (fs.FS, error) {
	if _, err := ioPath("sub", dir); err != nil {
		return nil, err
	}
	return fs.Sub(viewOnly{v}, dir)
}

// Glob implements fs.GlobFS.
func (v *View) Glob(pattern string) ([]string, error) { return fs.Glob(viewOnly{v}, pattern) }

// viewOnly hides Sub and Glob so fs.Sub and fs.Glob use their generic versions.
type viewOnly struct{ v *View }

func (o viewOnly) Open(name string) (fs.File, error)          { return o.v.Open(name) }
func (o viewOnly) Stat(name string) (fs.FileInfo, error)      { return o.v.Stat(name) }
func (o viewOnly) ReadDir(name string) ([]fs.DirEntry, error) { return o.v.ReadDir(name) }
func (o viewOnly) ReadFile(name string) ([]byte, error)       { return o.v.ReadFile(name) }

func (f *FS) stat(ctx context.Context, p string, lo lookupOpts) (fs.FileInfo, error) {
	if err := f.check(ctx, "stat", p); err != nil {
		return nil, err
	}
	if f.remote != nil {
		st, err := f.remoteStat(ctx, p)
		if err != nil {
			return nil, err
		}
		return remoteInfo{st}, nil
	}
	ns := f.ns()
	applied := ns.Applied()
	r, err := f.resolve(ctx, "stat", p, lo)
	if err != nil {
		return nil, err
	}
	fi, err := f.stableInfo(&r, ns, applied)
	if err != nil {
		return nil, err
	}
	return fi, nil
}

func (f *FS) readDir(ctx context.Context, p string, lo lookupOpts) ([]fs.DirEntry, error) {
	if err := f.check(ctx, "readdir", p); err != nil {
		return nil, err
	}
	if f.remote != nil {
		return f.remoteList(ctx, p)
	}
	r, err := f.resolve(ctx, "readdir", p, lo)
	if err != nil {
		return nil, err
	}
	if !r.node.IsDir() {
		return nil, pathErr("readdir", p, ErrNotDir)
	}
	if err := f.syncDirIfDue(ctx, "readdir", &r, lo); err != nil {
		return nil, err
	}
	return f.entries(&r), nil
}

// readFile reads the whole file at p. A file found changed in the UFS (ErrChanged) was
// synced again by the failed read, so it is read once more, as its new version.
func (f *FS) readFile(ctx context.Context, p string, lo lookupOpts) ([]byte, error) {
	b, err := f.readFileOnce(ctx, p, lo)
	if errors.Is(err, ErrChanged) {
		b, err = f.readFileOnce(ctx, p, lo)
	}
	return b, err
}

func (f *FS) readFileOnce(ctx context.Context, p string, lo lookupOpts) ([]byte, error) {
	fl, err := f.open(ctx, p, OpenOptions{}, lo)
	if err != nil {
		return nil, err
	}
	defer fl.Close()
	if file, ok := fl.(*File); ok && file.remote != nil {
		buf := make([]byte, file.remote.st.Size)
		n, err := file.ReadAt(buf, 0)
		if err != nil && err != io.EOF {
			return nil, err
		}
		return buf[:n], nil
	}
	file, ok := fl.(*File)
	if !ok {
		return nil, pathErr("readfile", p, ErrIsDir)
	}
	buf := make([]byte, file.r.node.Size)
	n, err := file.ReadAt(buf, 0)
	if err != nil && err != io.EOF {
		return nil, err
	}
	return buf[:n], nil
}

// GetStatus returns the status of path (either path form), loading metadata as needed.
func (f *FS) GetStatus(ctx context.Context, path string) (*FileStatus, error) {
	p, err := clean("stat", path)
	if err != nil {
		return nil, err
	}
	fi, err := f.stat(ctx, p, lookupOpts{})
	if err != nil {
		return nil, err
	}
	return fi.Sys().(*FileStatus), nil
}

// ListStatus returns the entries of the directory at path (either form), sorted by name.
// Each entry's Info().Sys() is a *FileStatus.
func (f *FS) ListStatus(ctx context.Context, path string) ([]fs.DirEntry, error) {
	p, err := clean("readdir", path)
	if err != nil {
		return nil, err
	}
	return f.readDir(ctx, p, lookupOpts{})
}
