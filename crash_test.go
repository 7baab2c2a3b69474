package unifiedfs_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/unifiedfs/unifiedfs"
	_ "github.com/unifiedfs/unifiedfs/driver/local"
	"github.com/unifiedfs/unifiedfs/internal/testpeer"
)

// The crash test: a child process (this test binary again) runs a workload and logs,
// fsynced, each operation's intent before it and its acknowledgement after it returned;
// the parent kills it with SIGKILL at a random moment, opens the same journal, and checks
// that everything acknowledged survived.

type crashDirs struct{ state, root, mnt, log string }

func crashConfig(d crashDirs) unifiedfs.Config {
	return unifiedfs.Config{RootUFS: "file://" + d.root, JournalDir: filepath.Join(d.state, "journal"),
		CacheDir: filepath.Join(d.state, "cache"), CacheDiskCapacity: 1 << 30, PersistRetryBase: time.Millisecond,
		CloseTimeout: 5 * time.Second, JournalCheckpointBytes: 32 << 10}
}

var crashTypes = []unifiedfs.WriteType{unifiedfs.MustCache, unifiedfs.CacheThrough, unifiedfs.Through, unifiedfs.AsyncThrough}

func crashContent(p string) []byte {
	n, _ := strconv.Atoi(p[strings.LastIndexAny(p, "fr")+1:])
	return bytes.Repeat([]byte(p+";"), 1+n%97*11)
}

// crashState is what the log says: live files (path -> write type) and the last intent
// that has no acknowledgement.
type crashState struct {
	live    map[string]unifiedfs.WriteType
	origin  map[string]string // live path -> path it was created at
	mounted bool
	next    int
	pending []string        // fields of the unacknowledged intent
	unsure  map[string]bool // paths named by intents never acknowledged (killed mid-way)
}

func readCrashLog(path string) crashState {
	s := crashState{live: map[string]unifiedfs.WriteType{}, origin: map[string]string{}, unsure: map[string]bool{}}
	settle := func() {
		for _, f := range s.pending {
			if strings.HasPrefix(f, "/") {
				s.unsure[f] = true
			}
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return s
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		if fields[0] == "intent" {
			settle()
			s.pending = fields[1:]
			if n, err := strconv.Atoi(fields[1]); err == nil && n >= s.next {
				s.next = n + 1
			}
			continue
		}
		s.pending = nil
		switch fields[1] {
		case "create":
			wt, _ := strconv.Atoi(fields[3])
			s.live[fields[2]] = unifiedfs.WriteType(wt)
			s.origin[fields[2]] = fields[2]
		case "rename":
			s.live[fields[3]], s.origin[fields[3]] = s.live[fields[2]], s.origin[fields[2]]
			delete(s.live, fields[2])
		case "delete":
			delete(s.live, fields[2])
		case "persist":
			s.live[fields[2]] = unifiedfs.CacheThrough
		case "mount":
			s.mounted = true
		}
		if n, err := strconv.Atoi(fields[0]); err == nil && n >= s.next {
			s.next = n + 1
		}
	}
	settle()
	return s
}

func TestCrashChild(t *testing.T) {
	env := os.Getenv("UNIFIEDFS_CRASH")
	if env == "" {
		t.Skip("run by TestCrashRecovery")
	}
	parts := strings.Split(env, "|")
	d := crashDirs{parts[0], parts[1], parts[2], parts[3]}
	seed, _ := strconv.ParseInt(parts[4], 10, 64)
	rng := rand.New(rand.NewSource(seed))
	fsys, err := unifiedfs.New(context.Background(), crashConfig(d))
	if err != nil {
		t.Fatal(err)
	}
	logf, err := os.OpenFile(d.log, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	st := readCrashLog(d.log)
	say := func(line string) {
		fmt.Fprintln(logf, line)
		logf.Sync()
	}
	ctx := context.Background()
	if !st.mounted {
		say("intent mount")
		if err := fsys.Mount(ctx, "/m", "file://"+d.mnt, unifiedfs.MountOptions{Options: map[string]string{"local.fsync": "true"}}); err != nil {
			t.Fatal(err)
		}
		say("0 mount")
	}
	var liveList []string
	for p := range st.live {
		if !st.unsure[p] {
			liveList = append(liveList, p)
		}
	}
	for i := st.next; ; i++ {
		op := rng.Intn(10)
		if len(liveList) == 0 || op < 6 {
			dir := []string{"/w", "/m"}[i%2]
			p := fmt.Sprintf("%s/f%d", dir, i)
			wt := crashTypes[rng.Intn(len(crashTypes))]
			say(fmt.Sprintf("intent %d create %s %d", i, p, wt))
			if err := fsys.WriteFile(ctx, p, crashContent(p), unifiedfs.CreateOptions{WriteType: wt, Recursive: true}); err != nil {
				t.Fatal(err)
			}
			say(fmt.Sprintf("%d create %s %d", i, p, wt))
			liveList = append(liveList, p)
			continue
		}
		k := rng.Intn(len(liveList))
		p := liveList[k]
		switch op {
		case 6, 7:
			dst := fmt.Sprintf("%s/r%d", p[:2], i)
			say(fmt.Sprintf("intent %d rename %s %s", i, p, dst))
			if err := fsys.Rename(ctx, p, dst); err != nil {
				t.Fatal(err)
			}
			say(fmt.Sprintf("%d rename %s %s", i, p, dst))
			liveList[k] = dst
		case 8:
			say(fmt.Sprintf("intent %d delete %s", i, p))
			if err := fsys.Remove(ctx, p); err != nil {
				t.Fatal(err)
			}
			say(fmt.Sprintf("%d delete %s", i, p))
			liveList = append(liveList[:k], liveList[k+1:]...)
		case 9:
			say(fmt.Sprintf("intent %d persist %s", i, p))
			if err := fsys.Persist(ctx, p); err != nil {
				t.Fatal(err)
			}
			say(fmt.Sprintf("%d persist %s", i, p))
		}
	}
}

func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary and kills it repeatedly")
	}
	base := t.TempDir()
	d := crashDirs{filepath.Join(base, "state"), filepath.Join(base, "root"), filepath.Join(base, "mnt"), filepath.Join(base, "ops.log")}
	for _, p := range []string{d.state, d.root, d.mnt} {
		os.MkdirAll(p, 0o755)
	}
	rng := rand.New(rand.NewSource(20261121))
	const kills = 8
	for iter := 0; iter < kills; iter++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
		cmd.Env = append(os.Environ(), fmt.Sprintf("UNIFIEDFS_CRASH=%s|%s|%s|%s|%d", d.state, d.root, d.mnt, d.log, rng.Int63()))
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(150+rng.Intn(500)) * time.Millisecond) // a random moment of the child's work (deliberate)
		cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("child exited on its own (%v):\n%s", err, out.String())
		}
		verifyCrash(t, iter, d)
	}
	if st := readCrashLog(d.log); len(st.live) < 10 {
		t.Fatalf("the workload did too little: %d live files", len(st.live))
	}
}

func verifyCrash(t *testing.T, iter int, d crashDirs) {
	t.Helper()
	st := readCrashLog(d.log)
	fsys, err := unifiedfs.New(context.Background(), crashConfig(d))
	if err != nil {
		t.Fatalf("kill %d: reopen: %v", iter, err)
	}
	defer func() {
		if err := fsys.Close(); err != nil {
			t.Errorf("kill %d: close: %v", iter, err)
		}
	}()
	ambiguous := st.unsure
	if st.mounted {
		if ms := fsys.Mounts(); len(ms) != 2 || ms[1].Path != "/m" || ms[1].UFS != "file://"+strings.TrimPrefix(d.mnt, "/") && ms[1].UFS != "file://"+d.mnt {
			t.Fatalf("kill %d: mounts %+v", iter, ms)
		}
	}
	ufsFile := func(p string) string {
		if strings.HasPrefix(p, "/m/") {
			return filepath.Join(d.mnt, p[3:])
		}
		return filepath.Join(d.root, p[1:])
	}
	for p, wt := range st.live {
		if ambiguous[p] {
			continue
		}
		want := crashContent(st.origin[p])
		got, err := fs.ReadFile(fsys, p[1:])
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("kill %d: %s (%v) acknowledged but reads %d bytes, %v", iter, p, wt, len(got), err)
		}
		if wt == unifiedfs.CacheThrough || wt == unifiedfs.Through {
			if onDisk, err := os.ReadFile(ufsFile(p)); err != nil || !bytes.Equal(onDisk, want) {
				t.Fatalf("kill %d: %s (%v) acknowledged but the UFS holds %d bytes, %v", iter, p, wt, len(onDisk), err)
			}
		}
	}
	// No entry refers to a missing parent: a full walk succeeds.
	if err := fs.WalkDir(fsys, ".", func(p string, de fs.DirEntry, err error) error { return err }); err != nil {
		t.Fatalf("kill %d: walk: %v", iter, err)
	}
	// Queued persists complete.
	deadline := time.Now().Add(10 * time.Second)
	for p, wt := range st.live {
		if wt != unifiedfs.AsyncThrough || ambiguous[p] {
			continue
		}
		testpeer.WaitFor(t, fmt.Sprintf("kill %d: %s persisted after the restart", iter, p), time.Until(deadline), func() bool {
			s, err := fsys.GetStatus(context.Background(), p)
			return err == nil && s.PersistState == unifiedfs.Persisted
		})
		if onDisk, err := os.ReadFile(ufsFile(p)); err != nil || !bytes.Equal(onDisk, crashContent(st.origin[p])) {
			t.Fatalf("kill %d: async %s persisted with %d bytes, %v", iter, p, len(onDisk), err)
		}
	}
}
