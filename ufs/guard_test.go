package ufs_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"github.com/unifiedfs/unifiedfs/ufs"
	"github.com/unifiedfs/unifiedfs/ufs/ufstest"
)

// classifying is a driver whose errors need its Classifier: every Stat fails with a code.
type classifying struct {
	*ufstest.MemFS
	seen []error
}

type codeError struct{ code string }

func (e codeError) Error() string { return "code " + e.code }

func (c *classifying) Stat(ctx context.Context, p string) (ufs.Status, error) {
	if p == "mkdir-failure" {
		// An error of another operation stays in the chain, under the guard's.
		return ufs.Status{}, c.MemFS.Mkdir(ctx, "../x")
	}
	return ufs.Status{}, codeError{"NoSuchThing"}
}

func (c *classifying) Classify(err error) error {
	c.seen = append(c.seen, err)
	var ce codeError
	if errors.As(err, &ce) && ce.code == "NoSuchThing" {
		return ufs.WrapErr(fs.ErrNotExist, err)
	}
	return err
}

func TestGuardErrors(t *testing.T) {
	ctx := context.Background()
	d := &classifying{MemFS: ufstest.New(ufstest.FileSystem)}
	u := ufs.Guard(d)
	_, err := u.Stat(ctx, "a/b/")
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Op != "stat" || pe.Path != "/a/b" || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Stat error %v: want a PathError stat /a/b satisfying fs.ErrNotExist", err)
	}
	if len(d.seen) != 1 {
		t.Fatalf("Classify saw %v", d.seen)
	}
	_, err = u.Stat(ctx, "mkdir-failure")
	if got := err.Error(); !strings.HasPrefix(got, "stat /mkdir-failure: mkdir ../x: ") || !errors.Is(err, fs.ErrInvalid) {
		t.Fatalf("error of another op: %q", got)
	}
	// A driver PathError of the same operation is re-rooted, not nested.
	m := ufs.Guard(ufstest.New(ufstest.FileSystem))
	_, err = m.Stat(ctx, "missing")
	if got := err.Error(); got != "stat /missing: file does not exist" {
		t.Fatalf("MemFS error through the guard: %q", got)
	}
	// A done context stays in the chain of any failure.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := m.Stat(cctx, "x"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Stat: %v", err)
	}
	// The guard's own refusals come before the driver.
	for _, c := range []struct {
		name string
		err  error
		want error
	}{
		{"create root", func() error { _, err := m.Create(ctx, "/", ufs.CreateOptions{}); return err }(), fs.ErrInvalid},
		{"remove root", m.Remove(ctx, "."), fs.ErrInvalid},
		{"removeall root", m.RemoveAll(ctx, ""), fs.ErrInvalid},
		{"open root", func() error { _, err := m.OpenRange(ctx, "/", 0, -1); return err }(), ufs.ErrIsDir},
		{"negative offset", func() error { _, err := m.OpenRange(ctx, "f", -1, 1); return err }(), fs.ErrInvalid},
		{"rename into itself", m.Rename(ctx, "a", "a/b"), fs.ErrInvalid},
	} {
		t.Run(c.name, func(t *testing.T) {
			if !errors.As(c.err, &pe) || !errors.Is(c.err, c.want) {
				t.Fatalf("%v, want a PathError satisfying %v", c.err, c.want)
			}
		})
	}
}

func TestGuardWrapsOnceAndUnwraps(t *testing.T) {
	m := ufstest.New(ufstest.ObjectStore)
	u := ufs.Guard(m)
	if ufs.Guard(u) != u || ufs.Unwrap(u) != m || ufs.Unwrap(m) != m {
		t.Fatal("Guard is not idempotent or Unwrap does not return the driver")
	}
	var ops []string
	for _, c := range u.(ufs.CallStats).Calls() {
		ops = append(ops, c.Op)
	}
	// MemFS counts changes but does not append.
	if got := strings.Join(ops, ","); got != "stat,list,open,read,create,write,close,abort,mkdir,remove,removeall,rename,changes" {
		t.Fatalf("operations %s", got)
	}
}

// recordingWriter records what the guard calls on a driver's writer.
type recordingWriter struct {
	calls    *[]string
	writeErr error
}

func (w recordingWriter) Write(p []byte) (int, error) {
	*w.calls = append(*w.calls, "write")
	if w.writeErr != nil {
		return 0, w.writeErr
	}
	return len(p), nil
}
func (w recordingWriter) Close() error { *w.calls = append(*w.calls, "close"); return nil }
func (w recordingWriter) Abort() error { *w.calls = append(*w.calls, "abort"); return nil }

type recordingDriver struct {
	*ufstest.MemFS
	calls    []string
	writeErr error
}

func (d *recordingDriver) Create(context.Context, string, ufs.CreateOptions) (ufs.Writer, error) {
	return recordingWriter{&d.calls, d.writeErr}, nil
}

// TestGuardWriterCallsTheDriver checks what the driver's writer sees: Close at most once,
// never after Abort; Abort once after a failed Write or a done context, never after Close.
func TestGuardWriterCallsTheDriver(t *testing.T) {
	boom := errors.New("boom")
	for _, c := range []struct {
		name     string
		writeErr error
		cancel   bool
		run      func(w ufs.Writer)
		want     string
	}{
		{"close twice", nil, false, func(w ufs.Writer) { w.Write(nil); w.Close(); w.Close(); w.Abort() }, "write,close"},
		{"abort twice", nil, false, func(w ufs.Writer) { w.Abort(); w.Abort(); w.Close(); w.Write(nil) }, "abort"},
		{"failed write", boom, false, func(w ufs.Writer) { w.Write(nil); w.Write(nil); w.Close(); w.Abort() }, "write,abort"},
		{"cancelled write", nil, true, func(w ufs.Writer) { w.Write(nil); w.Close(); w.Abort() }, "abort"},
		{"cancelled close", nil, true, func(w ufs.Writer) { w.Close(); w.Close() }, "abort"},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := &recordingDriver{MemFS: ufstest.New(ufstest.FileSystem), writeErr: c.writeErr}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			w, err := ufs.Guard(d).Create(ctx, "f", ufs.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if c.cancel {
				cancel()
			}
			c.run(w)
			if got := strings.Join(d.calls, ","); got != c.want {
				t.Fatalf("driver saw %s, want %s", got, c.want)
			}
		})
	}
	// The failure of a Write is what Close reports, with the abort's error joined.
	d := &recordingDriver{MemFS: ufstest.New(ufstest.FileSystem), writeErr: boom}
	w, _ := ufs.Guard(d).Create(context.Background(), "dir/f", ufs.CreateOptions{})
	_, werr := w.Write([]byte("x"))
	if cerr := w.Close(); !errors.Is(werr, boom) || cerr != werr || fmt.Sprint(cerr) != "write /dir/f: boom" {
		t.Fatalf("Write %v, Close %v", werr, cerr)
	}
}

// TestGuardWriterIsStatWriterOnlyWhenTheDriversIs checks the writer's one optional
// interface: a guarded writer implements ufs.StatWriter exactly when the driver's does.
func TestGuardWriterIsStatWriterOnlyWhenTheDriversIs(t *testing.T) {
	ctx := context.Background()
	w, err := ufs.Guard(ufstest.New(ufstest.FileSystem)).Create(ctx, "f", ufs.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := w.(ufs.StatWriter); !ok {
		t.Error("the guard hides the StatWriter of MemFS's writer")
	}
	_ = w.Abort()
	w, err = ufs.Guard(&recordingDriver{MemFS: ufstest.New(ufstest.FileSystem)}).Create(ctx, "f", ufs.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := w.(ufs.StatWriter); ok {
		t.Error("the guard claims StatWriter for a writer without Written")
	}
}

// BenchmarkGuard measures what the guard costs on the hottest calls against the same
// MemFS unguarded, in the same run: Stat, and a 64 KiB file read in 4 KiB Reads. Compare
// the Raw and Guarded lines (ns/op).
func BenchmarkGuard(b *testing.B) {
	ctx := context.Background()
	m := ufstest.New(ufstest.ObjectStore)
	m.Direct().Put("d/f", make([]byte, 64<<10))
	for _, v := range []struct {
		name string
		u    ufs.UFS
	}{{"Raw", m}, {"Guarded", ufs.Guard(m)}} {
		b.Run("Stat/"+v.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := v.u.Stat(ctx, "d/f"); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("Read64K/"+v.name, func(b *testing.B) {
			buf := make([]byte, 4<<10)
			b.SetBytes(64 << 10)
			for b.Loop() {
				r, err := v.u.OpenRange(ctx, "d/f", 0, -1)
				if err != nil {
					b.Fatal(err)
				}
				for {
					if _, err := r.Read(buf); err != nil {
						break
					}
				}
				r.Close()
			}
		})
	}
}
