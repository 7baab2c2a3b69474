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
	dir, st := newStorage(t)
	j, _ := mustOpen(t, st, Options{})
	st2, _ := NewDirStorage(dir)
	if _, _, err := Open(st2, Options{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	} else if !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Fatalf("error %q does not name the holder", err)
	}
	appendWait(t, j, 1, 2)
	closeJ(t, j)
	j, rec := mustOpen(t, st2, Options{})
	defer closeJ(t, j)
	checkEntries(t, rec, 1, 2)
}

// A failed Open (corrupt journal) must not keep the lock.
func TestFailedOpenReleasesLock(t *testing.T) {
	full, _ := buildSegment(t, 4)
	full[recordHeader+1] ^= 1 // damage record 1: corruption before good records
	dir, _, _, _, err := openDamaged(t, full)
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open: %v, want ErrCorrupt", err)
	}
	unlock, err := lockFile(dir + "/" + lockName)
	if err != nil {
		t.Fatalf("lock still held after a failed Open: %v", err)
	}
	unlock()
}

const lockChildEnv = "JOURNAL_TEST_LOCK_CHILD"

// TestLockChildProcess is the child side of TestLockAcrossProcesses: it opens the
// journal, makes 50 entries durable, says "ready" and waits to be killed.
func TestLockChildProcess(t *testing.T) {
	dir := os.Getenv(lockChildEnv)
	if dir == "" {
		t.Skip("helper process for TestLockAcrossProcesses")
	}
	st, err := NewDirStorage(dir)
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
	time.Sleep(time.Minute)
	os.Exit(2)
}

func TestLockAcrossProcesses(t *testing.T) {
	dir, st := newStorage(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockChildProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), lockChildEnv+"="+dir)
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
	j, rec := mustOpen(t, st, Options{})
	defer closeJ(t, j)
	checkEntries(t, rec, 1, 50)
}
