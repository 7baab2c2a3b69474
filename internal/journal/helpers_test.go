package journal

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// payload is the deterministic data of entry seq.
func payload(seq uint64) []byte {
	return []byte(fmt.Sprintf("entry-%06d-%s", seq, strings.Repeat("x", int(seq%7))))
}

// logRecorder collects Logf lines.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (l *logRecorder) Logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *logRecorder) joined() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func mustOpen(t *testing.T, st Storage, opts Options) (*Journal, *Recovered) {
	t.Helper()
	j, rec, err := Open(st, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return j, rec
}

// appendWait appends entries from..to (inclusive) and waits for the last one.
func appendWait(t *testing.T, j *Journal, from, to uint64) {
	t.Helper()
	var last Ticket
	for s := from; s <= to; s++ {
		last = j.Append(payload(s))
		if last.Seq() != s {
			t.Fatalf("Append got seq %d, want %d", last.Seq(), s)
		}
	}
	if last != nil {
		if err := last.Wait(); err != nil {
			t.Fatalf("Wait: %v", err)
		}
	}
}

// checkEntries asserts that rec holds exactly the entries from..to with their payloads.
func checkEntries(t *testing.T, rec *Recovered, from, to uint64) {
	t.Helper()
	if want := int(to - from + 1); to < from && len(rec.Entries) != 0 || to >= from && len(rec.Entries) != want {
		t.Fatalf("recovered %d entries, want %d..%d", len(rec.Entries), from, to)
	}
	for i, r := range rec.Entries {
		seq := from + uint64(i)
		if r.Seq != seq || string(r.Data) != string(payload(seq)) {
			t.Fatalf("entry %d: seq %d data %q, want seq %d data %q", i, r.Seq, r.Data, seq, payload(seq))
		}
	}
}

func closeJ(t *testing.T, j *Journal) {
	t.Helper()
	if err := j.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

var errCrash = errors.New("simulated crash")

// wrapStorage wraps a Storage to count fsyncs, slow them down, fail them, or simulate a
// crash: after budget mutating operations every further one fails (the crashing Write
// first writes half its bytes, a torn write).
type wrapStorage struct {
	Storage
	syncs     atomic.Int64
	writes    atomic.Int64
	syncDelay time.Duration
	failSync  atomic.Bool
	// failCreate makes Append create the file and then fail, the worst case for a roll.
	failCreate atomic.Bool

	mu      sync.Mutex
	limited bool
	budget  int
	crashed bool
}

// step consumes one mutating operation; false means the process is "dead".
func (w *wrapStorage) step() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.limited {
		return true
	}
	if w.budget == 0 {
		w.crashed = true
		return false
	}
	w.budget--
	return true
}

func (w *wrapStorage) Append(name string) (AppendFile, error) {
	if !w.step() {
		return nil, errCrash
	}
	f, err := w.Storage.Append(name)
	if err != nil {
		return nil, err
	}
	if w.failCreate.Load() {
		f.Close()
		return nil, errors.New("injected append failure")
	}
	return &wrapFile{AppendFile: f, w: w}, nil
}

func (w *wrapStorage) WriteAtomic(name string, data []byte) error {
	if !w.step() {
		return errCrash
	}
	return w.Storage.WriteAtomic(name, data)
}

func (w *wrapStorage) Truncate(name string, size int64) error {
	if !w.step() {
		return errCrash
	}
	return w.Storage.Truncate(name, size)
}

func (w *wrapStorage) Remove(name string) error {
	if !w.step() {
		return errCrash
	}
	return w.Storage.Remove(name)
}

type wrapFile struct {
	AppendFile
	w *wrapStorage
}

func (f *wrapFile) Write(p []byte) (int, error) {
	if !f.w.step() {
		n, _ := f.AppendFile.Write(p[:len(p)/2])
		return n, errCrash
	}
	f.w.writes.Add(1)
	return f.AppendFile.Write(p)
}

func (f *wrapFile) Sync() error {
	if !f.w.step() {
		return errCrash
	}
	if f.w.failSync.Load() {
		return errors.New("injected fsync failure")
	}
	f.w.syncs.Add(1)
	if f.w.syncDelay > 0 {
		time.Sleep(f.w.syncDelay) // deliberate: injected fsync latency
	}
	return f.AppendFile.Sync()
}
