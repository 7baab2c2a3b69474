package unifiedfs_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"testing"

	"github.com/unifiedfs/unifiedfs"
	"github.com/unifiedfs/unifiedfs/ufs/ufstest"
)

var ctx = context.Background()

// env is a namespace over in-memory stores: "root" (mounted at /) and any added later.
type env struct {
	t      *testing.T
	stores *ufstest.Stores
	fs     *unifiedfs.FS
	root   *ufstest.MemFS
}

func newEnv(t *testing.T, cfg unifiedfs.Config, rootFlavor ufstest.Flavor) *env {
	t.Helper()
	e := &env{t: t, stores: &ufstest.Stores{}}
	e.root = e.stores.Add("root", rootFlavor)
	cfg.RootUFS = "mem://root/"
	cfg.Registry = e.stores.Registry()
	fsys, err := unifiedfs.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fsys.Close() })
	e.fs = fsys
	return e
}

func (e *env) write(p, data string, wt unifiedfs.WriteType) {
	e.t.Helper()
	if err := e.fs.WriteFile(ctx, p, []byte(data), unifiedfs.CreateOptions{WriteType: wt}); err != nil {
		e.t.Fatalf("write %s: %v", p, err)
	}
}

func (e *env) read(p string) string {
	e.t.Helper()
	b, err := fs.ReadFile(e.fs, p)
	if err != nil {
		e.t.Fatalf("read %s: %v", p, err)
	}
	return string(b)
}

func (e *env) status(p string) *unifiedfs.FileStatus {
	e.t.Helper()
	return statusOf(e.t, e.fs, p)
}

// statusOf returns the status of p in fsys, failing t when there is none.
func statusOf(t testing.TB, fsys *unifiedfs.FS, p string) *unifiedfs.FileStatus {
	t.Helper()
	st, err := fsys.GetStatus(ctx, p)
	if err != nil {
		t.Fatalf("status %s: %v", p, err)
	}
	return st
}

func (e *env) mount(at, uri string, opts unifiedfs.MountOptions) {
	e.t.Helper()
	if err := e.fs.Mount(ctx, at, uri, opts); err != nil {
		e.t.Fatalf("mount %s %s: %v", at, uri, err)
	}
}

// wantErr fails unless err satisfies errors.Is with target and is a *fs.PathError (or a
// *unifiedfs.RenameError).
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: nil error, want %v", what, target)
	}
	var pe *fs.PathError
	var re *unifiedfs.RenameError
	if !errors.As(err, &pe) && !errors.As(err, &re) {
		t.Errorf("%s: %v (%T) is not a *fs.PathError", what, err, err)
	}
	if !errors.Is(err, target) {
		t.Fatalf("%s: %v, want errors.Is %v", what, err, target)
	}
}

func newTextLogger(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }
