package ufs

import (
	"context"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"sync"
)

// Opener opens a UFS rooted at uri with the given options. It should check that the
// location can be reached with those options (Alluxio mounts missing buckets silently;
// we do not), and return errors satisfying errors.Is with fs.ErrNotExist (missing bucket or
// root) or fs.ErrPermission (bad credentials).
type Opener func(ctx context.Context, uri URI, opts Options) (UFS, error)

// Registry maps URI schemes to Openers. The zero value is empty and ready to use; most
// programs use the process-wide Default through Register and Open.
type Registry struct {
	mu      sync.RWMutex
	openers map[string]Opener
}

// Default is the registry drivers add themselves to in init.
var Default = &Registry{}

// Register adds scheme to the Default registry. It panics on a nil opener or a scheme that
// is already registered, like database/sql.Register: both are programming errors.
func Register(scheme string, open Opener) { Default.Register(scheme, open) }

// Open opens uri with the Default registry. See Registry.Open.
func Open(ctx context.Context, uri string, opts map[string]string) (UFS, error) {
	return Default.Open(ctx, uri, opts)
}

// Register adds scheme (matched case-insensitively). It panics on a nil opener or a
// duplicate scheme.
func (r *Registry) Register(scheme string, open Opener) {
	if open == nil {
		panic("ufs: Register opener is nil for scheme " + scheme)
	}
	scheme = strings.ToLower(scheme)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.openers == nil {
		r.openers = map[string]Opener{}
	}
	if _, dup := r.openers[scheme]; dup {
		panic("ufs: Register called twice for scheme " + scheme)
	}
	r.openers[scheme] = open
}

// Schemes returns the registered schemes, sorted.
func (r *Registry) Schemes() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.openers))
	for s := range r.openers {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// Open parses uri, finds its scheme's Opener and returns a ready UFS rooted at the URI's
// path, guarded (see Guard). An unknown scheme is an error wrapping ErrNotSupported that lists the registered
// schemes and reminds the caller to blank-import the driver. Errors from parsing wrap
// fs.ErrInvalid. Options are matched case-insensitively (see Options).
func (r *Registry) Open(ctx context.Context, uri string, opts map[string]string) (UFS, error) {
	u, err := ParseURI(uri)
	if err != nil {
		return nil, err
	}
	r.mu.RLock()
	open := r.openers[u.Scheme]
	r.mu.RUnlock()
	if open == nil {
		pkg := u.Scheme
		if pkg == "file" {
			pkg = "local"
		}
		return nil, fmt.Errorf("%w: no UFS driver for scheme %q in %q (registered: %s); "+
			`import its driver, e.g. _ "github.com/unifiedfs/unifiedfs/driver/%s"`,
			ErrNotSupported, u.Scheme, u.String(), strings.Join(r.Schemes(), ", "), pkg)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d, err := open(ctx, u, NewOptions(opts))
	if err != nil {
		return nil, err
	}
	return Guard(d), nil
}

// OpenError wraps a failure to reach uri so that the message names the location. The
// chain keeps err (and its sentinels).
func OpenError(uri URI, err error) error {
	return &fs.PathError{Op: "open ufs", Path: uri.String(), Err: err}
}
