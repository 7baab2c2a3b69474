package journal

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestLockSameProcess(t *testing.T) {
	forEachStorage(t, func(t *testing.T, newStorage func(*testing.T) *testStore) {
		st := newStorage(t)
		j, _ := mustOpen(t, st, Options{})
		for name, other := range map[string]Storage{"another open": st.reopen(t), "the same storage": st} {
			if _, _, err := Open(other, Options{}); !errors.Is(err, ErrLocked) {
				t.Fatalf("second Open through %s: %v, want ErrLocked", name, err)
			} else if !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
				t.Fatalf("error %q does not name the holder", err)
			}
		}
		appendWait(t, j, 1, 2)
		closeJ(t, j)
		j, rec := mustOpen(t, st.reopen(t), Options{})
		defer closeJ(t, j)
		checkEntries(t, rec, 1, 2)
	})
}

// A failed Open (corrupt journal) must not keep the lock.
func TestFailedOpenReleasesLock(t *testing.T) {
	forEachStorage(t, func(t *testing.T, newStorage func(*testing.T) *testStore) {
		full, _ := buildSegment(t, newStorage, 4)
		full[recordHeader+1] ^= 1 // damage record 1: corruption before good records
		st, _, _, _, err := openDamaged(t, newStorage, full)
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Open: %v, want ErrCorrupt", err)
		}
		unlock, err := st.reopen(t).Lock()
		if err != nil {
			t.Fatalf("lock still held after a failed Open: %v", err)
		}
		if err := unlock(); err != nil {
			t.Fatal(err)
		}
	})
}

const lockChildEnv = "JOURNAL_TEST_LOCK_CHILD"

// TestLockChildProcess is the child side of TestLockAcrossProcesses: it opens the
// journal its environment names (openSpec), makes 50 entries durable, says "ready" and
// waits to be killed.
func TestLockChildProcess(t *testing.T) {
	spec := os.Getenv(lockChildEnv)
	if spec == "" {
		t.Skip("helper process for TestLockAcrossProcesses")
	}
	st, err := openSpec(spec)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	j, _, err := Open(st, Options{})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	for s := uint64(1); s <= 50; s++ {
		if err := j.Append(payload(s)).Wait(); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
	}
	fmt.Println("ready")
	time.Sleep(time.Minute) // deliberate: the parent kills this process
	os.Exit(2)
}

// TestLockAcrossProcesses: while a child process holds the journal another Open fails
// naming it; once the child is killed (-9) the lock frees: at once where the kernel held
// it (flock), after the lease's soft limit on HDFS; and everything the child synced is
// recovered.
func TestLockAcrossProcesses(t *testing.T) {
	forEachStorage(t, func(t *testing.T, newStorage func(*testing.T) *testStore) {
		st := newStorage(t)
		cmd := exec.Command(os.Args[0], "-test.run=^TestLockChildProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), lockChildEnv+"="+st.spec)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Process.Kill()
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil || strings.TrimSpace(line) != "ready" {
			t.Fatalf("child said %q, %v", line, err)
		}
		_, _, err = Open(st, Options{})
		if !errors.Is(err, ErrLocked) {
			t.Fatalf("Open while the child holds the lock: %v, want ErrLocked", err)
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("pid %d", cmd.Process.Pid)) {
			t.Fatalf("error %q does not name the child's pid %d", err, cmd.Process.Pid)
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		killed := time.Now()
		deadline := killed.Add(30 * time.Second)
		var j *Journal
		var rec *Recovered
		for attempts := 1; ; attempts++ {
			j, rec, err = Open(st, Options{})
			if err == nil {
				t.Logf("the dead child's lock was taken %v after the kill, at attempt %d", time.Since(killed).Round(time.Millisecond), attempts)
				break
			}
			if !errors.Is(err, ErrLocked) || st.kernelLock() || time.Now().After(deadline) {
				t.Fatalf("Open after the holder was killed (attempt %d): %v", attempts, err)
			}
			time.Sleep(50 * time.Millisecond) // polling interval while the lease expires
		}
		defer closeJ(t, j)
		checkEntries(t, rec, 1, 50)
	})
}
