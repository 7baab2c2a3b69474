//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// -write with -only replaces the rows it measured and keeps the others, in id order.
func TestWriteTableMergesRows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "B.md")
	old := "# B\n\n<!-- bench:begin -->\nMeasured 2020-01-01 on h.\nat commit c (idle).\nR9 measured again 2019-12-31.\n\n" + tableHeader +
		"| R1 | a | | | 1 | | ✔ | |\n| R4 | old | | | 0.5 | | ✘ | |\n| R10 | c | | | 3 | | ✘ | |\n| W1 | w | | | 2 | | ✔ | |\n<!-- bench:end -->\n\nnotes\n"
	if err := os.WriteFile(path, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeTable(path, []string{"| R4 | new | | | 0.9 | | ✔ | |", "| R4c | s3 | | | 0.8 | | ✔ | |"}, true); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	got := string(b)
	var ids []string
	for _, line := range strings.Split(got, "\n") {
		if strings.HasPrefix(line, "| R") || strings.HasPrefix(line, "| W") {
			ids = append(ids, rowID(line))
		}
	}
	if strings.Join(ids, " ") != "R1 R4 R4c R10 W1" || strings.Contains(got, "old") || !strings.Contains(got, "| R4 | new") {
		t.Fatalf("rows %v in:\n%s", ids, got)
	}
	if !strings.Contains(got, "Measured 2020-01-01 on h.\nat commit c (idle).\nR4, R4c measured again") || strings.Contains(got, "R9 measured") || !strings.HasSuffix(got, "<!-- bench:end -->\n\nnotes\n") {
		t.Fatalf("header or rest of the file changed:\n%s", got)
	}
	// Without -only the table is replaced whole.
	if err := writeTable(path, []string{"| R5 | x | | | 1 | | ✔ | |"}, false); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(path)
	if strings.Contains(string(b), "| R1 ") || !strings.Contains(string(b), "| R5 ") {
		t.Fatalf("full rewrite kept old rows:\n%s", b)
	}
}

// -compare pairs metrics by id in id order, divides the medians, says whether the change
// moves towards the goal in the goal's direction, and keeps metrics only one run has.
func TestCompareReports(t *testing.T) {
	old := &report{Commit: "aaa", Metrics: []result{
		{ID: "R10", Goal: "≥ 0.8", Median: 0.4, Min: 0.3, Max: 0.5},
		{ID: "R5", Goal: "≤ 2×", Median: 2.2, Min: 2, Max: 2.4},
		{ID: "R4", Goal: "≥ 0.8", Median: 0.7},
		{ID: "R3", Goal: "≥ 0.9", Error: "boom"},
	}}
	cur := &report{Commit: "bbb-dirty", Metrics: []result{
		{ID: "R5", Goal: "≤ 2×", Median: 1.1, Met: true},
		{ID: "R10", Goal: "≥ 0.8", Median: 0.2},
		{ID: "R11", Goal: "≤ 1.5", Median: 1.2, Met: true},
		{ID: "R3", Goal: "≥ 0.9", Median: 1, Met: true},
	}}
	got := compareReports(old, cur)
	var ids []string
	for _, c := range got {
		ids = append(ids, c.ID)
	}
	if strings.Join(ids, " ") != "R3 R4 R5 R10 R11" {
		t.Fatalf("order %v", ids)
	}
	by := map[string]comparison{}
	for _, c := range got {
		by[c.ID] = c
	}
	if c := by["R5"]; c.Change != 0.5 || !c.Better {
		t.Errorf("R5 (lower is better, halved): %+v", c)
	}
	if c := by["R10"]; c.Change != 0.5 || c.Better {
		t.Errorf("R10 (higher is better, halved): %+v", c)
	}
	if c := by["R4"]; c.New != nil || c.Old == nil || c.Change != 0 {
		t.Errorf("R4 only in old: %+v", c)
	}
	if c := by["R11"]; c.Old != nil || c.New == nil || c.Change != 0 {
		t.Errorf("R11 only in new: %+v", c)
	}
	if c := by["R3"]; c.Change != 0 {
		t.Errorf("R3 failed in old, no ratio: %+v", c)
	}
	var b strings.Builder
	writeComparison(&b, old, cur)
	out := b.String()
	for _, want := range []string{"old: aaa", "new: bbb-dirty", "| R5 |  | ≤ 2× | 2.2 (2 – 2.4) | 1.1 | 0.5 (better) | ✘ → ✔ |",
		"| R10 |  | ≥ 0.8 | 0.4 (0.3 – 0.5) | 0.2 | 0.5 (worse) | ✘ → ✘ |", "| R4 |  | ≥ 0.8 | 0.7 | — | — | ✘ → — |",
		"| R3 |  | ≥ 0.9 | error | 1 | — | ✘ → ✔ |"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
}

// A saved run reads back the same, commit included.
func TestReportRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.json")
	r := newReport(3)
	if r.Commit == "" {
		t.Fatal("no commit recorded")
	}
	r.Metrics = []result{{ID: "R1", Goal: "≥ 0.85", Median: 1.01, Min: 0.9, Max: 1.1, Values: []float64{0.9, 1.01, 1.1}, Met: true}}
	if err := saveReport(path, r); err != nil {
		t.Fatal(err)
	}
	back, err := loadReport(path)
	if err != nil {
		t.Fatal(err)
	}
	if back.Commit != r.Commit || len(back.Metrics) != 1 || back.Metrics[0].Median != 1.01 || len(back.Metrics[0].Values) != 3 || !back.Date.Equal(r.Date) {
		t.Fatalf("round trip: %+v", back)
	}
	if _, err := loadReport(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Fatal("missing file loaded")
	}
}
