package shell

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/unifiedfs/unifiedfs"
)

// testFlags is a flag set with one flag of each kind.
type testFlags struct {
	r, f, alluxioOnly, yes bool
	sort                   string
	threads                int
	buf                    int64
	timeout                time.Duration
	options                []string
}

func newTestFlags() (*flagSet, *testFlags) {
	o := &testFlags{threads: 7}
	fs := &flagSet{}
	fs.Bool(&o.r, "R", "recursive")
	fs.Bool(&o.f, "f", "force")
	fs.Bool(&o.alluxioOnly, "alluxioOnly", "namespace only")
	fs.Bool(&o.yes, "yes|y", "confirm")
	fs.String(&o.sort, "sort", "field", "sort")
	fs.Int(&o.threads, "thread|c", "N", "threads")
	fs.Size(&o.buf, "buffersize", "B", "buffer")
	fs.Duration(&o.timeout, "t", "ms", "timeout")
	fs.Strings(&o.options, "option", "key=value", "options")
	return fs, o
}

func TestParseFlags(t *testing.T) {
	fs, o := newTestFlags()
	args, err := fs.parse("x", []string{"-Rf", "/a", "--alluxioOnly", "--option", "k=v", "--option=k2=v2", "-c", "10",
		"-buffersize", "64KB", "--sort=size", "-t", "1500", "-y", "--", "-notaflag"})
	if err != nil {
		t.Fatal(err)
	}
	if !o.r || !o.f || !o.alluxioOnly || !o.yes {
		t.Errorf("bools: %+v", o)
	}
	if !slices.Equal(o.options, []string{"k=v", "k2=v2"}) {
		t.Errorf("options: %q", o.options)
	}
	if o.threads != 10 || o.buf != 64<<10 || o.sort != "size" || o.timeout != 1500*time.Millisecond {
		t.Errorf("values: %+v", o)
	}
	if !slices.Equal(args, []string{"/a", "-notaflag"}) {
		t.Errorf("args=%q", args)
	}
	// A value with a unit, the last value of a repeated single flag, a combined value flag.
	fs, o = newTestFlags()
	if _, err := fs.parse("x", []string{"-t", "2min", "--thread", "3", "--thread=4", "-Rc", "5"}); err != nil {
		t.Fatal(err)
	}
	if o.timeout != 2*time.Minute || o.threads != 5 || !o.r {
		t.Errorf("second parse: %+v", o)
	}
	// Unset flags keep the option's default.
	fs, o = newTestFlags()
	if _, err := fs.parse("x", []string{"/p"}); err != nil || o.threads != 7 || o.r {
		t.Errorf("defaults: %+v %v", o, err)
	}
	for _, bad := range [][]string{{"-Z"}, {"--option"}, {"-Rz"}, {"--R=1"}, {"---"}, {"-="}, {"--=x"}, {"-Rc"},
		{"--recursive"}, {"--thread", "many"}, {"--buffersize", "lots"}, {"-t", "soon"}, {"-t", "-5"}, {"---R"}, {"-cR", "1"}} {
		fs, _ := newTestFlags()
		if _, err := fs.parse("x", bad); err == nil {
			t.Errorf("%q: no error", bad)
		} else if _, ok := err.(*usageError); !ok {
			t.Errorf("%q: %T, want a usage error", bad, err)
		}
	}
}

// Usage lines and help are generated from the declarations.
func TestFlagSynopsis(t *testing.T) {
	fs, _ := newTestFlags()
	if got, want := fs.synopsis(), "[-R] [-f] [--alluxioOnly] [--yes] [--sort field] [--thread N] [--buffersize B] [-t ms] [--option key=value ...]"; got != want {
		t.Errorf("synopsis %q, want %q", got, want)
	}
	var b bytes.Buffer
	fs.printDefaults(&b)
	for _, want := range []string{"--yes, -y", "--thread, -c N", "--option key=value", "threads"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("defaults lack %q:\n%s", want, b.String())
		}
	}
	// Every verb's declarations are valid (no duplicate names) and its usage starts with its name.
	for _, cmd := range commands {
		if u := cmd.usage(); !strings.HasPrefix(u, cmd.name) {
			t.Errorf("%s: usage %q", cmd.name, u)
		}
	}
}

func TestSplitGlobal(t *testing.T) {
	g, err := splitGlobal([]string{"--state", "/s", "ls", "-R", "-Dalluxio.user.file.metadata.sync.interval=0", "-D", "a.b=c=d", "--conf=/c", "/path"})
	if err != nil {
		t.Fatal(err)
	}
	if g.state != "/s" || g.conf != "/c" || !slices.Equal(g.rest, []string{"ls", "-R", "/path"}) {
		t.Errorf("%+v", g)
	}
	if g.props["alluxio.user.file.metadata.sync.interval"] != "0" || g.props["a.b"] != "c=d" {
		t.Errorf("props %v", g.props)
	}
	if _, err := splitGlobal([]string{"-Dnoequals"}); err == nil {
		t.Error("-Dnoequals: no error")
	}
}

func TestNsPath(t *testing.T) {
	for in, want := range map[string]string{"/": "/", "/a/b/": "/a/b", "alluxio://master:19998/x": "/x", "alluxio:///": "/"} {
		if got, err := nsPath(in); err != nil || got != want {
			t.Errorf("nsPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"rel", "/a/../b", ""} {
		if _, err := nsPath(bad); err == nil {
			t.Errorf("nsPath(%q): no error", bad)
		}
	}
}

func TestHumanSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0B", 5120: "5120B", 5121: "5.00KB", 16000: "15.63KB", 8 << 20: "8.00MB", 3 << 30: "3072.00MB", 6 << 30: "6.00GB"} {
		if got := humanSize(n); got != want {
			t.Errorf("humanSize(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestAlluxioTime(t *testing.T) {
	tm := time.Date(2024, 3, 7, 9, 5, 2, 45_000_000, time.Local)
	if got := alluxioTime(tm); got != "03-07-2024 09:05:02:045" {
		t.Errorf("alluxioTime = %q", got)
	}
}

func TestStatFormat(t *testing.T) {
	st := &unifiedfs.FileStatus{Name: "f", Size: 12, Owner: "u", Group: "g", ModTime: time.UnixMilli(1500)}
	if got := statFormat("%N %z %u:%g %Y %b %% %q", st, func(n int64) int64 { return n / 4 }); got != "f 12 u:g 1500 3 % %q" {
		t.Errorf("statFormat = %q", got)
	}
}

func TestProgress(t *testing.T) {
	var buf bytes.Buffer
	now := time.Unix(100, 0)
	p := &progress{w: &buf, on: true, label: "cp", now: func() time.Time { return now }, every: time.Second, start: now.Add(-2 * time.Second), nf: 4, nb: 8 << 20}
	p.add(1, 4<<20)
	if got := buf.String(); got != "\r\x1b[Kcp: 1/4 files, 4096.00KB/8.00MB, 2048.00KB/s (2s)" {
		t.Errorf("progress line %q", got)
	}
	p.add(1, 0) // within every: not redrawn
	if strings.Count(buf.String(), "\r") != 1 {
		t.Errorf("redrawn too often: %q", buf.String())
	}
	buf.Reset()
	p.printf("line\n")
	if got := buf.String(); got != "\r\x1b[Kline\n" {
		t.Errorf("printf over a progress line: %q", got)
	}
	p.done()

	// Not a terminal: only the normal lines.
	buf.Reset()
	q := &progress{w: &buf, on: false, label: "cp", now: time.Now, every: 0, start: time.Now()}
	q.tick()
	q.add(3, 100)
	q.printf("Copied\n")
	q.done()
	if got := buf.String(); got != "Copied\n" {
		t.Errorf("non-terminal output %q", got)
	}

	// The ticker draws elapsed time until done, and nothing after.
	buf.Reset()
	r := &progress{w: &buf, on: true, label: "loadMetadata /x", now: time.Now, every: time.Millisecond, start: time.Now()}
	r.tick()
	time.Sleep(20 * time.Millisecond) // deliberate: the ticker draws (every ms) while it runs
	r.done()
	n := len(buf.String())
	time.Sleep(10 * time.Millisecond) // deliberate: time in which a stopped ticker must draw nothing
	if !strings.Contains(buf.String(), "loadMetadata /x:") || len(buf.String()) != n || !strings.HasSuffix(buf.String(), "\r\x1b[K") {
		t.Errorf("ticker output %q", buf.String())
	}
}

// The in-process run reports usage errors with exit code 2 without touching a state dir.
func TestRunInProcess(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"--state", t.TempDir(), "help"}, nil, &out, &errb, false); code != 0 || !strings.Contains(out.String(), "Usage:") {
		t.Errorf("help: %d %q %q", code, out.String(), errb.String())
	}
	if code := run(context.Background(), []string{"--state"}, nil, &out, &errb, false); code != 2 {
		t.Errorf("--state without value: exit %d", code)
	}
}

// The demo and runTests also run inside the test process, with a terminal's progress lines.
func TestInProcessDemoAndRunTests(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"--state", t.TempDir(), "demo"}, nil, &out, &errb, true); code != 0 {
		t.Fatalf("demo: exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "every step behaved as documented") {
		t.Errorf("demo output:\n%s", out.String())
	}
	out.Reset()
	state := t.TempDir()
	if code := run(context.Background(), []string{"--state", state, "runTests"}, nil, &out, &errb, true); code != 0 {
		t.Fatalf("runTests: exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	if n := strings.Count(out.String(), "Passed the test!"); n != 24 {
		t.Errorf("%d passed, want 24", n)
	}
	// A terminal run of a copy draws and erases progress lines around the normal output.
	out.Reset()
	local := t.TempDir() + "/f"
	if err := os.WriteFile(local, bytes.Repeat([]byte("x"), 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	if code := run(context.Background(), []string{"--state", state, "copyFromLocal", local, "/f"}, nil, &out, &errb, true); code != 0 {
		t.Fatalf("copyFromLocal: exit %d %s", code, errb.String())
	}
	if !strings.HasSuffix(out.String(), "Copied file://"+local+" to /f\n") {
		t.Errorf("copyFromLocal on a terminal: %q", out.String())
	}
}

// Command lines never panic the parsers (go test -fuzz FuzzCommandLine).
func FuzzCommandLine(f *testing.F) {
	for _, s := range []string{"ls -R /", "-D", "--state", "mount --option k=v /a file:///b", "---", "-=", "-Rc", "-Dk=v -D k2=v2 -- -x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		argv := strings.Fields(line)
		if g, err := splitGlobal(argv); err == nil {
			fs, _ := newTestFlags()
			_, _ = fs.parse("x", g.rest)
		}
		for _, a := range argv {
			_, _ = nsPath(a)
		}
	})
}

// Error lines say each thing once: no repeated hint, no double prefix, no network advice
// for a local error.
func TestReportSaysEachThingOnce(t *testing.T) {
	for _, c := range []struct {
		err       error
		want, not string
	}{
		{&fs.PathError{Op: "create", Path: "/" + strings.Repeat("n", 300), Err: syscall.ENAMETOOLONG}, "file name too long", "reachable"},
		{&fs.PathError{Op: "cat", Path: "/d", Err: unifiedfs.ErrIsDir}, "is a directory; use ls for a directory", "it is a directory"},
		{fmt.Errorf("unifiedfs: journal /j: %w", fs.ErrPermission), "unifiedfs cat: journal /j", "unifiedfs: "},
	} {
		var out bytes.Buffer
		report(&out, "cat", c.err)
		if got := out.String(); !strings.Contains(got, c.want) || strings.Contains(got, c.not) {
			t.Errorf("report(%v) = %q: want %q in it and not %q", c.err, got, c.want, c.not)
		}
	}
}

// parallel runs at most n at once, every item once, and stops at the first error.
func TestParallel(t *testing.T) {
	var mu sync.Mutex
	running, peak, seen := 0, 0, map[int]int{}
	items := make([]int, 40)
	for i := range items {
		items[i] = i
	}
	release := make(chan struct{})
	go func() {
		for range items {
			release <- struct{}{}
		}
	}()
	err := parallel(context.Background(), 3, items, func(_ context.Context, i int) error {
		mu.Lock()
		running++
		peak = max(peak, running)
		seen[i]++
		mu.Unlock()
		<-release
		mu.Lock()
		running--
		mu.Unlock()
		return nil
	})
	if err != nil || peak > 3 || len(seen) != len(items) {
		t.Errorf("err %v, peak %d, %d items seen", err, peak, len(seen))
	}
	for i, n := range seen {
		if n != 1 {
			t.Errorf("item %d ran %d times", i, n)
		}
	}
	boom := errors.New("boom")
	var ran atomic.Int32
	err = parallel(context.Background(), 1, items, func(_ context.Context, i int) error {
		ran.Add(1)
		if i == 2 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || ran.Load() > 4 {
		t.Errorf("after an error: %v, %d ran", err, ran.Load())
	}
}

func TestParseTTL(t *testing.T) {
	for in, want := range map[string]time.Duration{"86400000": 24 * time.Hour, "5s": 5 * time.Second, "2min": 2 * time.Minute, "3 h": 3 * time.Hour, "1day": 24 * time.Hour, "10ms": 10 * time.Millisecond} {
		if got, err := parseTTL(in); err != nil || got != want {
			t.Errorf("parseTTL(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0", "-5", "5y", "soon", "1.5h"} {
		if _, err := parseTTL(bad); err == nil {
			t.Errorf("parseTTL(%q): no error", bad)
		}
	}
}

// The README's command-line table lists every verb with its Alluxio counterpart.
func TestReadmeListsEveryVerb(t *testing.T) {
	readme, err := os.ReadFile("../../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, cmd := range commands {
		if !strings.Contains(string(readme), "| `"+cmd.name+" ") && !strings.Contains(string(readme), "| `"+cmd.name+"` |") {
			t.Errorf("README.md's command-line table lacks %s", cmd.name)
		}
	}
}
