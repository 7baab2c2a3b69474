package ufstest

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"sync"

	"github.com/unifiedfs/unifiedfs/ufs"
)

// Stores is a set of named MemFS stores reachable as "mem://<name>/<path>" through
// Opener, for namespace tests that mount several fake UFSs. A URI whose store was not
// added fails to open with fs.ErrNotExist; a store added with a password requires the
// option "mem.password" to match (fs.ErrPermission otherwise).
type Stores struct {
	mu     sync.Mutex
	stores map[string]*MemFS
	pass   map[string]string
}

// Add creates (or returns) the store name of the given flavor.
func (s *Stores) Add(name string, flavor Flavor) *MemFS {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stores == nil {
		s.stores, s.pass = map[string]*MemFS{}, map[string]string{}
	}
	if m, ok := s.stores[name]; ok {
		return m
	}
	m := New(flavor)
	s.stores[name] = m
	return m
}

// SetPassword makes opening store name require the option mem.password=pw.
func (s *Stores) SetPassword(name, pw string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pass[name] = pw
}

// Get returns the store name, or nil.
func (s *Stores) Get(name string) *MemFS {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stores[name]
}

// Registry returns a registry with the "mem" scheme bound to these stores (and nothing
// else registered).
func (s *Stores) Registry() *ufs.Registry {
	r := &ufs.Registry{}
	r.Register("mem", s.Open)
	return r
}

// Open is the ufs.Opener of "mem://<store>/<dir>": the root dir must exist in the store
// (except the store root itself).
func (s *Stores) Open(ctx context.Context, uri ufs.URI, opts ufs.Options) (ufs.UFS, error) {
	m := s.Get(uri.Authority)
	if m == nil {
		return nil, ufs.OpenError(uri, fmt.Errorf("%w: no store %q", fs.ErrNotExist, uri.Authority))
	}
	s.mu.Lock()
	pw := s.pass[uri.Authority]
	s.mu.Unlock()
	if got, _ := opts.Get("mem.password"); pw != "" && got != pw {
		return nil, ufs.OpenError(uri, fmt.Errorf("%w: wrong mem.password", fs.ErrPermission))
	}
	if uri.Path == ufs.Root {
		return &Prefixed{M: m, Root: ufs.Root}, nil
	}
	st, err := m.Stat(ctx, uri.Path)
	if err != nil {
		return nil, ufs.OpenError(uri, err)
	}
	if !st.IsDir {
		return nil, ufs.OpenError(uri, ufs.ErrNotDir)
	}
	return &Prefixed{M: m, Root: uri.Path}, nil
}

// Prefixed is a MemFS seen from one of its directories (a UFS rooted at Root).
type Prefixed struct {
	M    *MemFS
	Root string
}

func (p *Prefixed) path(op, q string) (string, error) {
	c, err := ufs.CheckPath(op, q)
	if err != nil {
		return "", err
	}
	return ufs.Join(p.Root, c), nil
}

// Stat implements ufs.UFS.
func (p *Prefixed) Stat(ctx context.Context, q string) (ufs.Status, error) {
	full, err := p.path("stat", q)
	if err != nil {
		return ufs.Status{}, err
	}
	st, err := p.M.Stat(ctx, full)
	if c, _ := ufs.CleanPath(q); err == nil && c == ufs.Root {
		st.Name = ufs.Root
	}
	return st, err
}

// List implements ufs.UFS.
func (p *Prefixed) List(ctx context.Context, dir string, o ufs.ListOptions) (ufs.ListPage, error) {
	full, err := p.path("list", dir)
	if err != nil {
		return ufs.ListPage{}, err
	}
	return p.M.List(ctx, full, o)
}

// OpenRange implements ufs.UFS.
func (p *Prefixed) OpenRange(ctx context.Context, q string, off, n int64) (io.ReadCloser, error) {
	full, err := p.path("open", q)
	if err != nil {
		return nil, err
	}
	return p.M.OpenRange(ctx, full, off, n)
}

// OpenVersion implements ufs.VersionReader.
func (p *Prefixed) OpenVersion(ctx context.Context, q, hash string, off, n int64) (io.ReadCloser, error) {
	full, err := p.path("open", q)
	if err != nil {
		return nil, err
	}
	return p.M.OpenVersion(ctx, full, hash, off, n)
}

// Create implements ufs.UFS.
func (p *Prefixed) Create(ctx context.Context, q string, o ufs.CreateOptions) (ufs.Writer, error) {
	c, err := ufs.CheckPath("create", q)
	if err != nil {
		return nil, err
	}
	if c == ufs.Root {
		return nil, &fs.PathError{Op: "create", Path: q, Err: fs.ErrInvalid}
	}
	return p.M.Create(ctx, ufs.Join(p.Root, c), o)
}

// Mkdir implements ufs.UFS.
func (p *Prefixed) Mkdir(ctx context.Context, q string) error {
	full, err := p.path("mkdir", q)
	if err != nil {
		return err
	}
	return p.M.Mkdir(ctx, full)
}

func (p *Prefixed) rootCheck(op, q string) (string, error) {
	c, err := ufs.CheckPath(op, q)
	if err != nil {
		return "", err
	}
	if c == ufs.Root {
		return "", &fs.PathError{Op: op, Path: q, Err: fmt.Errorf("%w: cannot %s the root", fs.ErrInvalid, op)}
	}
	return ufs.Join(p.Root, c), nil
}

// Remove implements ufs.UFS.
func (p *Prefixed) Remove(ctx context.Context, q string) error {
	full, err := p.rootCheck("remove", q)
	if err != nil {
		return err
	}
	return p.M.Remove(ctx, full)
}

// RemoveAll implements ufs.UFS.
func (p *Prefixed) RemoveAll(ctx context.Context, q string) error {
	full, err := p.rootCheck("removeall", q)
	if err != nil {
		return err
	}
	return p.M.RemoveAll(ctx, full)
}

// Rename implements ufs.UFS.
func (p *Prefixed) Rename(ctx context.Context, src, dst string) error {
	s, err := p.rootCheck("rename", src)
	if err != nil {
		return err
	}
	d, err := p.rootCheck("rename", dst)
	if err != nil {
		return err
	}
	return p.M.Rename(ctx, s, d)
}

// Capabilities implements ufs.UFS.
func (p *Prefixed) Capabilities() ufs.Capabilities { return p.M.Capabilities() }

// Close implements ufs.UFS; the store stays open for other mounts.
func (p *Prefixed) Close() error { return nil }

// ChangesSince implements ufs.ChangeCounter.
func (p *Prefixed) ChangesSince(ctx context.Context, dir string, cursor uint64) (int, uint64, error) {
	full, err := p.path("changes", dir)
	if err != nil {
		return 0, 0, err
	}
	return p.M.ChangesSince(ctx, full, cursor)
}

// OptionKeys implements ufs.OptionKeyer: the one option a store reads.
func (p *Prefixed) OptionKeys() []string { return []string{"mem.password"} }
