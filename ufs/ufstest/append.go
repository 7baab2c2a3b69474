package ufstest

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/unifiedfs/unifiedfs/ufs"
)

// AppendHarness tells RunAppend how to get a store implementing ufs.Appender.
type AppendHarness struct {
	// New returns two independent opens of one fresh, empty location, as two processes
	// would have them (on HDFS: two clients, so two lease holders). RunAppend closes both
	// when the test ends.
	New func(t *testing.T) (ufs.UFS, ufs.UFS)
}

// RunAppend runs the conformance cases of ufs.Appender, and of ufs.Sealer when the store
// implements it, over the stores the harness makes. The second open reads what the first
// wrote, as a standby process would.
func RunAppend(t *testing.T, h AppendHarness) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, a, b ufs.UFS)
	}{
		{"AppendCreates", testAppendCreates},
		{"SyncVisibility", testSyncVisibility},
		{"ReopenAppend", testReopenAppend},
		{"Truncate", testTruncate},
		{"SecondAppenderRefused", testSecondAppender},
		{"ConcurrentAppenders", testConcurrentAppenders},
		{"AppendInvalidPaths", testAppendInvalidPaths},
		{"Seal", testSeal},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := h.New(t)
			t.Cleanup(func() { _ = a.Close(); _ = b.Close() })
			if _, ok := a.(ufs.Appender); !ok {
				t.Skip("the store does not implement ufs.Appender")
			}
			tc.fn(t, a, b)
		})
	}
}

func mustAppend(t *testing.T, u ufs.UFS, p string) ufs.AppendWriter {
	t.Helper()
	w, err := u.(ufs.Appender).Append(bg, p)
	if err != nil {
		t.Fatalf("append %q: %v", p, err)
	}
	return w
}

// writeSync writes data through w and syncs it.
func writeSync(t *testing.T, w ufs.AppendWriter, data []byte) {
	t.Helper()
	if n, err := w.Write(data); err != nil || n != len(data) {
		t.Fatalf("write %d bytes: %d, %v", len(data), n, err)
	}
	if err := w.Sync(); err != nil {
		t.Fatalf("sync: %v", err)
	}
}

// wantContent fails unless the file at p, read through u, holds exactly want.
func wantContent(t *testing.T, u ufs.UFS, p string, want []byte) {
	t.Helper()
	got := mustRead(t, u, p)
	if !bytes.Equal(got, want) {
		t.Fatalf("%s holds %d bytes (%.40q), want %d (%.40q)", p, len(got), got, len(want), want)
	}
	if st := mustStat(t, u, p); st.Size != int64(len(want)) {
		t.Fatalf("stat %s: size %d, want %d", p, st.Size, len(want))
	}
}

func testAppendCreates(t *testing.T, a, b ufs.UFS) {
	w := mustAppend(t, a, "logs/deep/seg")
	if st := mustStat(t, b, "logs/deep"); !st.IsDir {
		t.Fatal("Append did not create the parent directories")
	}
	writeSync(t, w, []byte("hello "))
	wantContent(t, b, "logs/deep/seg", []byte("hello "))
	writeSync(t, w, []byte("world"))
	wantContent(t, b, "logs/deep/seg", []byte("hello world"))
	if _, err := w.Write(nil); err != nil {
		t.Fatalf("empty write: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	wantContent(t, b, "logs/deep/seg", []byte("hello world"))
	st := mustStat(t, b, "logs/deep/seg")
	if a.Capabilities().Owners && st.Mode.Perm() != 0o600 {
		t.Errorf("Append created the file with mode %v, want 0600", st.Mode.Perm())
	}
	if st.ContentHash == "" {
		t.Errorf("appended file has no content hash")
	}
	_, err := w.Write([]byte("late"))
	wantErr(t, "Write after Close", err, fs.ErrClosed)
	wantErr(t, "Sync after Close", w.Sync(), fs.ErrClosed)
	wantErr(t, "second Close", w.Close(), fs.ErrClosed)
	wantContent(t, b, "logs/deep/seg", []byte("hello world"))
	// An empty appended file exists once Append returns.
	w = mustAppend(t, a, "empty")
	if st := mustStat(t, b, "empty"); st.Size != 0 || st.IsDir {
		t.Fatalf("stat of a new appended file: %+v", st)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	wantContent(t, b, "empty", nil)
}

// testSyncVisibility syncs at odd offsets (inside checksum chunks, across blocks on
// HDFS) while a reader of the second open polls: every read is a prefix of what is
// written and at least as long as the last Sync that returned before the read began.
func testSyncVisibility(t *testing.T, a, b ufs.UFS) {
	data := randBytes(7, 300_001)
	cuts := []int{1, 2, 511, 513, 4096, 65_535, 65_536, 65_537, 100_000, 131_072, 131_073, 250_000, len(data)}
	w := mustAppend(t, a, "v/log")
	var synced atomic.Int64
	done := make(chan struct{})
	readerErr := make(chan error, 1)
	go func() { readerErr <- pollPrefix(b, "v/log", data, &synced, done) }()
	prev := 0
	for _, cut := range cuts {
		// Odd write sizes: the store's packets and chunks do not line up with them.
		for off := prev; off < cut; off += 7_777 {
			if _, err := w.Write(data[off:min(cut, off+7_777)]); err != nil {
				t.Fatalf("write: %v", err)
			}
		}
		if err := w.Sync(); err != nil {
			t.Fatalf("sync at %d: %v", cut, err)
		}
		synced.Store(int64(cut))
		got := mustRead(t, b, "v/log")
		if !bytes.Equal(got, data[:cut]) {
			t.Fatalf("after a Sync at %d the second open reads %d bytes (prefix: %v)", cut, len(got), bytes.Equal(got, data[:min(len(got), cut)]))
		}
		prev = cut
	}
	close(done)
	if err := <-readerErr; err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	wantContent(t, b, "v/log", data)
}

// pollPrefix reads p through u until done is closed and checks every read.
func pollPrefix(u ufs.UFS, p string, data []byte, synced *atomic.Int64, done <-chan struct{}) error {
	for reads := 0; ; reads++ {
		select {
		case <-done:
			if reads == 0 {
				return errors.New("the reader never ran")
			}
			return nil
		default:
		}
		floor := synced.Load()
		got, err := ufs.ReadFile(bg, u, p)
		if err != nil {
			return fmt.Errorf("read during appends: %w", err)
		}
		if int64(len(got)) < floor || len(got) > len(data) || !bytes.Equal(got, data[:len(got)]) {
			return fmt.Errorf("read %d bytes after a Sync of %d: not that prefix of what was written", len(got), floor)
		}
	}
}

func testReopenAppend(t *testing.T, a, b ufs.UFS) {
	w := mustAppend(t, a, "r")
	writeSync(t, w, []byte("first,"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// Reopened by the other open (another process), then by the first again.
	w = mustAppend(t, b, "r")
	writeSync(t, w, []byte("second,"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	big := randBytes(8, 70_000)
	w = mustAppend(t, a, "r")
	if _, err := w.Write(big); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil { // Close syncs what was not synced
		t.Fatal(err)
	}
	wantContent(t, b, "r", append([]byte("first,second,"), big...))
	// A file uploaded by Create takes appends too, and its content hash changes.
	mustWrite(t, a, "c", []byte("created"))
	h1 := mustStat(t, a, "c").ContentHash
	w = mustAppend(t, b, "c")
	writeSync(t, w, []byte("+appended"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	wantContent(t, a, "c", []byte("created+appended"))
	if h2 := mustStat(t, a, "c").ContentHash; h2 == h1 {
		t.Errorf("content hash %q unchanged by an append", h1)
	}
}

func testTruncate(t *testing.T, a, b ufs.UFS) {
	ap := a.(ufs.Appender)
	data := randBytes(9, 150_000)
	w := mustAppend(t, a, "t")
	writeSync(t, w, data)
	wantErr(t, "Truncate of a file being appended", ap.Truncate(bg, "t", 10), ufs.ErrBusy)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	wantContent(t, b, "t", data)
	for _, size := range []int{150_000, 131_072, 70_001, 512, 511} {
		if err := ap.Truncate(bg, "t", int64(size)); err != nil {
			t.Fatalf("truncate to %d: %v", size, err)
		}
		wantContent(t, b, "t", data[:size])
	}
	wantErr(t, "Truncate to a larger size", ap.Truncate(bg, "t", 600), fs.ErrInvalid)
	wantErr(t, "Truncate to a negative size", ap.Truncate(bg, "t", -1), fs.ErrInvalid)
	wantContent(t, b, "t", data[:511])
	// Appends continue at the cut.
	w = mustAppend(t, b, "t")
	writeSync(t, w, []byte("after the cut"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	wantContent(t, a, "t", append(bytes.Clone(data[:511]), "after the cut"...))
	if err := ap.Truncate(bg, "t", 0); err != nil {
		t.Fatal(err)
	}
	wantContent(t, b, "t", nil)
	wantErr(t, "Truncate of a missing file", ap.Truncate(bg, "missing", 0), fs.ErrNotExist)
	if err := a.Mkdir(bg, "dir"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "Truncate of a directory", ap.Truncate(bg, "dir", 0), ufs.ErrIsDir)
}

func testSecondAppender(t *testing.T, a, b ufs.UFS) {
	w := mustAppend(t, a, "held")
	writeSync(t, w, []byte("A1,"))
	for name, u := range map[string]ufs.UFS{"the other open": b, "the same open": a} {
		_, err := u.(ufs.Appender).Append(bg, "held")
		wantErr(t, "Append by "+name+" of a file being appended", err, ufs.ErrBusy)
		wantErr(t, "Truncate by "+name+" of a file being appended", u.(ufs.Appender).Truncate(bg, "held", 0), ufs.ErrBusy)
	}
	// The holder is unaffected by the refusals.
	writeSync(t, w, []byte("A2,"))
	wantContent(t, b, "held", []byte("A1,A2,"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w = mustAppend(t, b, "held")
	writeSync(t, w, []byte("B1"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	wantContent(t, a, "held", []byte("A1,A2,B1"))
}

// testConcurrentAppenders runs writers of their own files alongside goroutines racing to
// append one missing file: exactly one of those wins while the others are refused.
func testConcurrentAppenders(t *testing.T, a, b ufs.UFS) {
	const writers, records, racers = 4, 40, 5
	var wg sync.WaitGroup
	errs := make(chan error, writers+racers)
	for g := 0; g < writers; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			u := []ufs.UFS{a, b}[g%2]
			w, err := u.(ufs.Appender).Append(bg, fmt.Sprintf("cc/w%d", g))
			if err != nil {
				errs <- err
				return
			}
			for i := 0; i < records; i++ {
				if _, err := fmt.Fprintf(w, "w%d-r%03d;", g, i); err != nil {
					errs <- err
					return
				}
				if i%3 == 0 {
					if err := w.Sync(); err != nil {
						errs <- err
						return
					}
				}
			}
			errs <- w.Close()
		}(g)
	}
	var won atomic.Int32
	tried := make(chan struct{}, racers)
	allTried := make(chan struct{})
	for r := 0; r < racers; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			u := []ufs.UFS{a, b}[r%2]
			w, err := u.(ufs.Appender).Append(bg, "cc/race")
			tried <- struct{}{}
			if err != nil {
				if !errors.Is(err, ufs.ErrBusy) {
					errs <- fmt.Errorf("racer %d: %w (want success or ErrBusy)", r, err)
				}
				return
			}
			won.Add(1)
			<-allTried // hold the file until every racer has tried
			if _, err := fmt.Fprintf(w, "racer%d", r); err != nil {
				errs <- err
			}
			errs <- w.Close()
		}(r)
	}
	for r := 0; r < racers; r++ {
		<-tried
	}
	close(allTried)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := won.Load(); n != 1 {
		t.Fatalf("%d racers appended the same file at once, want exactly 1", n)
	}
	for g := 0; g < writers; g++ {
		var want bytes.Buffer
		for i := 0; i < records; i++ {
			fmt.Fprintf(&want, "w%d-r%03d;", g, i)
		}
		wantContent(t, []ufs.UFS{b, a}[g%2], fmt.Sprintf("cc/w%d", g), want.Bytes())
	}
	if got := mustRead(t, a, "cc/race"); !bytes.HasPrefix(got, []byte("racer")) || len(got) != 6 {
		t.Fatalf("cc/race holds %q, want one racer's name", got)
	}
}

func testAppendInvalidPaths(t *testing.T, a, _ ufs.UFS) {
	ap := a.(ufs.Appender)
	mustWrite(t, a, "b", []byte("target of a/../b"))
	for _, p := range InvalidPaths {
		_, err := ap.Append(bg, p)
		wantErr(t, fmt.Sprintf("Append(%q)", p), err, fs.ErrInvalid)
		wantErr(t, fmt.Sprintf("Truncate(%q)", p), ap.Truncate(bg, p, 0), fs.ErrInvalid)
		if s, ok := a.(ufs.Sealer); ok {
			wantErr(t, fmt.Sprintf("Seal(%q)", p), s.Seal(bg, p), fs.ErrInvalid)
		}
	}
	_, err := ap.Append(bg, ufs.Root)
	wantErr(t, "Append(Root)", err, fs.ErrInvalid)
	if err := a.Mkdir(bg, "d"); err != nil {
		t.Fatal(err)
	}
	_, err = ap.Append(bg, "d")
	wantErr(t, "Append of a directory", err, ufs.ErrIsDir)
	_, err = ap.Append(bg, "b/below")
	wantErr(t, "Append below a file", err, ufs.ErrNotDir, fs.ErrExist)
	if got := mustRead(t, a, "b"); string(got) != "target of a/../b" {
		t.Fatalf("b changed: %q", got)
	}
	if names := listNames(t, a, ufs.Root); !equalStrings(names, []string{"b", "d/"}) {
		t.Fatalf("root holds %v after invalid calls, want [b d/]", names)
	}
}

func testSeal(t *testing.T, a, b ufs.UFS) {
	sb, ok := b.(ufs.Sealer)
	if !ok {
		t.Skip("the store does not implement ufs.Sealer")
	}
	w := mustAppend(t, a, "s")
	writeSync(t, w, []byte("before the seal;"))
	if err := sb.Seal(bg, "s"); err != nil {
		t.Fatalf("seal: %v", err)
	}
	wantContent(t, b, "s", []byte("before the seal;"))
	// The sealed writer cannot sync or close, and what it writes never lands.
	_, _ = w.Write([]byte("after the seal"))
	if err := w.Sync(); err == nil {
		t.Fatal("Sync of a sealed writer succeeded")
	}
	if err := w.Close(); err == nil {
		t.Fatal("Close of a sealed writer succeeded")
	}
	wantContent(t, b, "s", []byte("before the seal;"))
	// The file is free for the sealer.
	w2 := mustAppend(t, b, "s")
	writeSync(t, w2, []byte("new writer"))
	if err := w2.Close(); err != nil {
		t.Fatal(err)
	}
	wantContent(t, a, "s", []byte("before the seal;new writer"))
	// Sealing a closed file changes nothing; a writer may seal its own file too.
	if err := sb.Seal(bg, "s"); err != nil {
		t.Fatalf("seal of a closed file: %v", err)
	}
	w3 := mustAppend(t, a, "s")
	writeSync(t, w3, []byte("!"))
	if err := a.(ufs.Sealer).Seal(bg, "s"); err != nil {
		t.Fatalf("seal by the writer's own open: %v", err)
	}
	if err := w3.Sync(); err == nil {
		t.Fatal("Sync after the writer's own open sealed the file succeeded")
	}
	wantContent(t, b, "s", []byte("before the seal;new writer!"))
	wantErr(t, "Seal of a missing file", sb.Seal(bg, "missing"), fs.ErrNotExist)
	if err := a.Mkdir(bg, "sd"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "Seal of a directory", sb.Seal(bg, "sd"), ufs.ErrIsDir)
}
