package shell

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

var servingRE = regexp.MustCompile(`^Serving the web UI of unifiedfs\{.*\} at (http://127\.0\.0\.1:\d+/) \(interrupt to stop\)$`)

// TestWeb runs `unifiedfs web` on a state directory with files, reads pages and the
// metrics from it, and stops it with an interrupt.
func TestWeb(t *testing.T) {
	e := newCLI(t)
	local := filepath.Join(t.TempDir(), "sales.csv")
	if err := os.WriteFile(local, []byte("region,total\neast,12\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.ok("mkdir", "/reports")
	e.ok("copyFromLocal", local, "/reports/sales.csv")
	e.ok("-Dmem.secret.key=hunter2-secret", "touch", "/reports/draft")

	cmd := exec.Command(bin, "--state", e.state, "web", "--listen", "127.0.0.1:0")
	cmd.Env = e.env
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	lines := make(chan string, 4)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		exited <- cmd.Wait()
	}()
	defer cmd.Process.Kill()
	var base string
	select {
	case line := <-lines:
		m := servingRE.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("first line %q does not say where the UI is; stderr: %s", line, stderr.String())
		}
		base = m[1]
	case <-time.After(30 * time.Second): // a deadline, not a delay
		t.Fatalf("unifiedfs web printed nothing in 30s; stderr: %s", stderr.String())
	}

	fetch := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	status, body := fetch("browse?path=/reports")
	if status != 200 {
		t.Fatalf("browse: %d\n%s", status, body)
	}
	contains(t, "browse /reports", body, "sales.csv", "draft", "PERSISTED", "NOT_PERSISTED", "pinned")
	status, body = fetch("browse?path=/reports/sales.csv")
	contains(t, "file page", body, "region,total", "east,12")
	if status, body = fetch("healthz"); status != 200 || body != "ok\n" {
		t.Errorf("healthz: %d %q", status, body)
	}
	status, body = fetch("metrics")
	contains(t, "metrics", body, "unifiedfs_mounts 1", `unifiedfs_files{persist_state="NOT_PERSISTED"} 1`, "unifiedfs_journal_sequence")
	status, body = fetch("config")
	contains(t, "config", body, "JournalDir", filepath.Join(e.state, "journal"))
	if resp, err := http.Post(base+"browse?path=/reports", "text/plain", strings.NewReader("")); err != nil || resp.StatusCode != 405 {
		t.Errorf("POST: %v %v", resp, err)
	}

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("unifiedfs web exited with %v; stderr: %s", err, stderr.String())
		}
	case <-time.After(30 * time.Second): // a deadline, not a delay
		t.Fatal("unifiedfs web did not stop on an interrupt")
	}
	if strings.Contains(stderr.String(), "hunter2") {
		t.Errorf("stderr shows a secret: %s", stderr.String())
	}
	// The namespace is intact and usable again once the UI stopped.
	if out := e.ok("ls", "/reports"); !strings.Contains(out, "/reports/sales.csv") || !strings.Contains(out, "/reports/draft") {
		t.Errorf("ls after web: %s", out)
	}
}

func TestWebBadListen(t *testing.T) {
	e := newCLI(t)
	e.fails(1, "cannot listen on 256.0.0.1:1", "web", "--listen", "256.0.0.1:1")
	e.fails(2, "usage: unifiedfs web", "web", "extra")
}
