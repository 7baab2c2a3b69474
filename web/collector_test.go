package web

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

// sample returns the value of the series name{labels}, failing when there is none.
func sample(t *testing.T, g prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	v, ok := lookupSample(t, g, name, labels...)
	if !ok {
		t.Fatalf("no series %s%v", name, labels)
	}
	return v
}

func lookupSample(t *testing.T, g prometheus.Gatherer, name string, labels ...string) (float64, bool) {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if have[labels[i]] != labels[i+1] {
					continue next
				}
			}
			return value(m), true
		}
	}
	return 0, false
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	return 0
}

// TestCollectorLint runs client_golang's promtool-style lint over the exposition.
func TestCollectorLint(t *testing.T) {
	fx := newFixture(t, 10)
	problems, err := testutil.CollectAndLint(NewCollector(fx.fsys))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// TestCollectorValues checks the series against what the fixture did, on a pedantic
// registry (every collected metric must be described, consistently).
func TestCollectorValues(t *testing.T) {
	fx := newFixture(t, 10)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewCollector(fx.fsys))

	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"unifiedfs_mounts", nil, 3},
		{"unifiedfs_files", []string{"persist_state", "NOT_PERSISTED"}, 1},
		{"unifiedfs_files", []string{"persist_state", "LOST"}, 0},
		{"unifiedfs_cache_pinned_bytes", nil, float64(len("not persisted yet\n"))},
		{"unifiedfs_cache_block_size_bytes", nil, testBlockSize},
		{"unifiedfs_cache_capacity_bytes", []string{"tier", "disk"}, 1 << 30},
		{"unifiedfs_ufs_retries_total", []string{"mount", "/archive", "kind", "memory"}, 7},
		{"unifiedfs_ufs_throttled_total", []string{"mount", "/archive"}, 2},
		{"unifiedfs_ufs_gave_up_total", []string{"mount", "/archive"}, 0},
		{"unifiedfs_ha_role", []string{"role", "SINGLE"}, 1},
		{"unifiedfs_ha_role", []string{"role", "LEADER"}, 0},
		{"unifiedfs_ha_replay_lag_entries", nil, 0},
	} {
		if got := sample(t, reg, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if _, ok := lookupSample(t, reg, "unifiedfs_ufs_retries_total", "mount", "/data"); ok {
		t.Error("a mount whose driver has no retry policy has retry series")
	}
	// Every mount counts its UFS calls; a Stat of a missing file is a call and an error.
	for _, mount := range []string{"/", "/data", "/archive"} {
		if _, ok := lookupSample(t, reg, "unifiedfs_ufs_calls_total", "mount", mount, "kind", "memory", "op", "list"); !ok {
			t.Errorf("no unifiedfs_ufs_calls_total{op=list} for mount %s", mount)
		}
	}
	calls0 := sample(t, reg, "unifiedfs_ufs_calls_total", "mount", "/data", "op", "stat")
	errs0 := sample(t, reg, "unifiedfs_ufs_errors_total", "mount", "/data", "op", "stat")
	if _, err := fx.fsys.Stat("data/no-such-file"); err == nil {
		t.Fatal("stat of a missing file succeeded")
	}
	if c, e := sample(t, reg, "unifiedfs_ufs_calls_total", "mount", "/data", "op", "stat")-calls0,
		sample(t, reg, "unifiedfs_ufs_errors_total", "mount", "/data", "op", "stat")-errs0; c < 1 || e < 1 || e > c {
		t.Errorf("a missing file's metadata load: %v stat calls, %v errors; want at least one of each", c, e)
	}
	if _, ok := lookupSample(t, reg, "unifiedfs_ufs_calls_total", "mount", "/data", "op", "append"); ok {
		t.Error("a store without ufs.Appender has append series")
	}
	if seq := sample(t, reg, "unifiedfs_journal_sequence", "state", "appended"); seq < 3 {
		t.Errorf("journal sequence %v: the fixture journaled two mounts and a file", seq)
	}
	flushes, entries := sample(t, reg, "unifiedfs_journal_flushes_total"), sample(t, reg, "unifiedfs_journal_flushed_entries_total")
	if flushes < 1 || entries < flushes || entries > sample(t, reg, "unifiedfs_journal_sequence", "state", "durable") ||
		sample(t, reg, "unifiedfs_journal_flush_seconds_total") <= 0 {
		t.Errorf("journal group commits: %v flushes of %v entries: want at least one, of no more entries than are durable, taking time", flushes, entries)
	}

	// A first read fetches the file (one block) from the UFS; a second only returns bytes.
	read0 := sample(t, reg, "unifiedfs_read_bytes_total")
	ufs0 := sample(t, reg, "unifiedfs_ufs_read_bytes_total")
	hits0 := sample(t, reg, "unifiedfs_cache_hits_total", "tier", "memory") + sample(t, reg, "unifiedfs_cache_hits_total", "tier", "disk")
	data, err := fs.ReadFile(fx.fsys, "logs/app.log")
	if err != nil {
		t.Fatal(err)
	}
	n := float64(len(data))
	if r, u := sample(t, reg, "unifiedfs_read_bytes_total")-read0, sample(t, reg, "unifiedfs_ufs_read_bytes_total")-ufs0; r != n || u != n {
		t.Errorf("first read: %v bytes returned, %v from the UFS; want %v and %v", r, u, n, n)
	}
	if _, err := fs.ReadFile(fx.fsys, "logs/app.log"); err != nil {
		t.Fatal(err)
	}
	if r, u := sample(t, reg, "unifiedfs_read_bytes_total")-read0, sample(t, reg, "unifiedfs_ufs_read_bytes_total")-ufs0; r != 2*n || u != n {
		t.Errorf("second read: %v bytes returned, %v from the UFS in all; want %v and %v", r, u, 2*n, n)
	}
	hits := sample(t, reg, "unifiedfs_cache_hits_total", "tier", "memory") + sample(t, reg, "unifiedfs_cache_hits_total", "tier", "disk")
	if hits <= hits0 {
		t.Errorf("cache hits %v → %v after a cached read", hits0, hits)
	}
}

// TestMetricsEndpoint scrapes /metrics as Prometheus would.
func TestMetricsEndpoint(t *testing.T) {
	fx := newFixture(t, 0)
	srv := fx.server(t, Options{})
	status, hdr, body := get(t, srv.URL+"/metrics")
	if status != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics: %d %s", status, hdr.Get("Content-Type"))
	}
	for _, w := range []string{"# TYPE unifiedfs_cache_hits_total counter", "unifiedfs_mounts 3", `unifiedfs_ufs_retries_total{kind="memory",mount="/archive"} 7`, "go_goroutines", "process_"} {
		if !strings.Contains(body, w) {
			t.Errorf("/metrics lacks %q", w)
		}
	}
	if strings.Contains(body, lakeSecret) {
		t.Error("/metrics shows the secret")
	}
}
