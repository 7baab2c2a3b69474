//go:build unix

package main

import (
	"context"
	"fmt"
	"io"
	"math/rand"
	"runtime"
	"testing"
	"time"

	"github.com/unifiedfs/unifiedfs"
	_ "github.com/unifiedfs/unifiedfs/driver/kodo"
	"github.com/unifiedfs/unifiedfs/driver/kodo/kodotest"
	_ "github.com/unifiedfs/unifiedfs/driver/oss"
	"github.com/unifiedfs/unifiedfs/driver/oss/osstest"
	_ "github.com/unifiedfs/unifiedfs/driver/s3"
	"github.com/unifiedfs/unifiedfs/driver/s3/s3test"
	"github.com/unifiedfs/unifiedfs/ufs"
)

func init() {
	register(metric{id: "R4", name: "first read of a 256 MiB object from the OSS fake through the FS", baseline: "one GET of the whole object from the same fake (the same signed client, no checksum)", goal: "≥ 0.8",
		run: func(p int) ([]float64, string, error) { return runFirstRead(p, "oss") }, ok: func(m float64) bool { return m >= 0.8 }})
	register(metric{id: "R4b", name: "same from the Kodo fake", baseline: "same", goal: "≥ 0.8",
		run: func(p int) ([]float64, string, error) { return runFirstRead(p, "kodo") }, ok: func(m float64) bool { return m >= 0.8 }})
	register(metric{id: "R4c", name: "same from the S3 peer (s3test, SigV4 over loopback HTTP)", baseline: "one plain GET of the whole object from the same peer (the same signed client)", goal: "≥ 0.8",
		run: func(p int) ([]float64, string, error) { return runFirstRead(p, "s3") }, ok: func(m float64) bool { return m >= 0.8 }})
}

// objectPeer is a 256 MiB object in a fake object store (oss, kodo or s3), with a
// client of it that bypasses the FS.
type objectPeer struct {
	kind   string
	uri    string
	opts   map[string]string
	direct ufs.UFS
	size   int64
	buf    []byte     // the reader's 1 MiB buffer, on both sides
	gets   func() int // GET requests the fake served so far (OSS only; nil elsewhere)
}

// newObjectPeer starts the fake of kind holding data/big. The fakes need a testing.TB.
func newObjectPeer(tb testing.TB, kind string) (*objectPeer, error) {
	data := make([]byte, 256*mib)
	rand.New(rand.NewSource(3)).Read(data)
	p := &objectPeer{kind: kind, size: int64(len(data)), buf: make([]byte, mib)}
	switch kind {
	case "oss":
		srv := osstest.NewServer(tb, osstest.WithBuckets("bench"))
		srv.PutObject("bench", "data/big", data)
		p.uri, p.opts = srv.URI("bench", "data"), srv.Options()
		p.gets = func() int { return srv.Requests("GetObject") }
	case "kodo":
		tb.Setenv("TMPDIR", tb.TempDir())
		srv := kodotest.NewServer(tb, kodotest.WithBuckets("bench"))
		srv.Put("bench", "data/big", data)
		p.uri, p.opts = "kodo://bench/data", srv.Options("bench")
	case "s3":
		srv := s3test.NewServer(tb, s3test.WithBuckets("bench"))
		srv.PutObject("bench", "data/big", data)
		p.uri, p.opts = srv.URI("bench", "data"), srv.Options()
	default:
		return nil, fmt.Errorf("no object peer %q", kind)
	}
	var err error
	p.direct, err = ufs.Open(context.Background(), p.uri, p.opts)
	return p, err
}

// pair times one GET of the whole object (the baseline); the same GET keeping what it
// reads in new 1 MiB buffers (stored: the least any cache that stores a first read
// does, a bound for ours); a first read of the object through a new FS (ours); and, in
// the same FS, a read after Free dropped its blocks (freed: the cold read of an FS
// that has cached before, whose block buffers are recycled).
func (p *objectPeer) pair() (base, stored, ours, freed time.Duration, err error) {
	ctx := context.Background()
	runtime.GC() // the previous FS's cache is garbage now: collect it outside the timings
	base = timeBase(func() { p.get(ctx, func([]byte) []byte { return p.buf }) })
	runtime.GC()
	var kept [][]byte
	stored = timeProfiled("stored", func() {
		p.get(ctx, func(full []byte) []byte {
			if full != nil {
				kept = append(kept, full)
			}
			return make([]byte, mib)
		})
	})
	kept = nil
	fsys, err := unifiedfs.New(ctx, unifiedfs.Config{RootUFS: p.uri, RootOptions: p.opts, CacheCapacity: 512 * mib})
	if err != nil {
		return 0, 0, 0, 0, err
	}
	defer fsys.Close()
	runtime.GC()
	ours = timeOurs(func() { p.readFS(fsys) })
	if err := fsys.Free(ctx, "/big"); err != nil {
		return 0, 0, 0, 0, err
	}
	runtime.GC()
	freed = timeProfiled("freed", func() { p.readFS(fsys) })
	return base, stored, ours, freed, nil
}

// get reads the whole object with one GET, each MiB into the buffer next returns (it
// is given the buffer just filled, nil at first).
func (p *objectPeer) get(ctx context.Context, next func(full []byte) []byte) {
	// OSS and Kodo: a range of the whole object, so that the driver does not add the
	// whole-object CRC check a plain GET would not do. S3: no Range header at all.
	length := p.size
	if p.kind == "s3" {
		length = -1
	}
	r, err := p.direct.OpenRange(ctx, "big", 0, length)
	if err != nil {
		panic(err)
	}
	defer r.Close()
	var total int64
	for buf := next(nil); ; buf = next(buf) {
		n, err := io.ReadFull(r, buf)
		total += int64(n)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			panic(err)
		}
	}
	if total != p.size {
		panic(fmt.Sprintf("baseline read %d", total))
	}
}

// readFS reads the object through fsys.
func (p *objectPeer) readFS(fsys *unifiedfs.FS) {
	f, err := fsys.Open("big")
	if err != nil {
		panic(err)
	}
	if n := drain(f, p.buf); n != p.size {
		panic(fmt.Sprintf("read %d", n))
	}
	f.Close()
}

// inBenchmark runs fn inside testing.Benchmark, which gives the fakes the testing.TB
// they need outside `go test`.
func inBenchmark(fn func(tb testing.TB)) {
	done := false
	testing.Benchmark(func(b *testing.B) {
		if !done {
			done = true
			fn(b)
		}
	})
}

func runFirstRead(pairs int, kind string) ([]float64, string, error) {
	var ratios, afterFree, cpu, storing, vsStoring []float64
	var warmup float64
	var runErr error
	inBenchmark(func(tb testing.TB) {
		p, err := newObjectPeer(tb, kind)
		if err != nil {
			runErr = err
			return
		}
		defer p.direct.Close()
		// One pair more, first and not counted: the process's heap grows to hold a
		// cache for the first time (page faults), the clients open their connections.
		for i := -1; i < pairs; i++ {
			base, stored, ours, freed, err := p.pair()
			if err != nil {
				runErr = err
				return
			}
			logPair(kind, i, base, ours)
			if i < 0 {
				warmup = float64(base) / float64(ours)
				continue
			}
			ratios = append(ratios, float64(base)/float64(ours))
			cpu = append(cpu, float64(lastCPU["base"])/float64(lastCPU["ours"]))
			afterFree = append(afterFree, float64(base)/float64(freed))
			storing = append(storing, float64(base)/float64(stored))
			vsStoring = append(vsStoring, float64(stored)/float64(ours))
		}
	})
	fm, flo, fhi := stats(afterFree)
	cm, clo, chi := stats(cpu)
	sm, slo, shi := stats(storing)
	vm, vlo, vhi := stats(vsStoring)
	return ratios, fmt.Sprintf("(throughput ratio; CPU time ratio, fakes included: %.2f, %.2f – %.2f; the same GET keeping its bytes in new 1 MiB buffers, the least a storing cache does: %.2f, %.2f – %.2f, and the FS against that: %.2f, %.2f – %.2f; read again after Free in the same FS: %.2f, %.2f – %.2f; warm-up pair, not counted: %.2f)",
		cm, clo, chi, sm, slo, shi, vm, vlo, vhi, fm, flo, fhi, warmup), runErr
}
