//go:build unix

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"time"
)

// result is one metric's outcome in a saved run (-json).
type result struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	Baseline string    `json:"baseline"`
	Goal     string    `json:"goal"`
	Median   float64   `json:"median"`
	Min      float64   `json:"min"`
	Max      float64   `json:"max"`
	Values   []float64 `json:"values,omitempty"`
	Met      bool      `json:"met"`
	Note     string    `json:"note,omitempty"`
	Error    string    `json:"error,omitempty"`
	Seconds  float64   `json:"seconds"`
}

// report is one run of the harness as -json saves it and -compare reads it.
type report struct {
	Commit    string    `json:"commit"` // git rev-parse HEAD, with "-dirty" when the tree had changes
	Date      time.Time `json:"date"`
	Host      string    `json:"host"`
	GoVersion string    `json:"go"`
	CPUs      int       `json:"cpus"`
	Pairs     int       `json:"pairs"`
	Seconds   float64   `json:"seconds"`
	Metrics   []result  `json:"metrics"`
}

// gitCommit returns the commit of the working tree, "-dirty" appended when tracked or
// untracked files differ from it, or "unknown" outside a git checkout.
func gitCommit() string {
	out, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "status", "--porcelain").Output(); err != nil || len(strings.TrimSpace(string(st))) > 0 {
		c += "-dirty"
	}
	return c
}

func newReport(pairs int) *report {
	host, _ := os.Hostname()
	return &report{Commit: gitCommit(), Date: time.Now().UTC().Truncate(time.Second), Host: host,
		GoVersion: runtime.Version(), CPUs: runtime.NumCPU(), Pairs: pairs}
}

func saveReport(path string, r *report) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func loadReport(path string) (*report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

// higherIsBetter says which way a goal points: "≥ 0.8" up, "≤ 2×" down. Goals with
// neither (none today) count as lower-is-better, like times.
func higherIsBetter(goal string) bool {
	ge, le := strings.Index(goal, "≥"), strings.Index(goal, "≤")
	return ge >= 0 && (le < 0 || ge < le)
}

// comparison is one row of -compare.
type comparison struct {
	ID, Name, Goal string
	Old, New       *result // nil when the metric is missing from that run
	// Change is new ÷ old of the medians (0 when either is missing or failed).
	Change float64
	// Better says whether the change moves towards the goal (meaningless when Change is 0).
	Better bool
}

// compareReports pairs the metrics of two runs by id, in id order; metrics that only one
// run has are kept with the other side nil.
func compareReports(old, cur *report) []comparison {
	byID := map[string]*comparison{}
	var ids []string
	add := func(r *result, isNew bool) {
		c := byID[r.ID]
		if c == nil {
			c = &comparison{ID: r.ID}
			byID[r.ID] = c
			ids = append(ids, r.ID)
		}
		// The current run's name and goal win: goals may have been changed since.
		if isNew || c.Name == "" {
			c.Name, c.Goal = r.Name, r.Goal
		}
		if isNew {
			c.New = r
		} else {
			c.Old = r
		}
	}
	for i := range old.Metrics {
		add(&old.Metrics[i], false)
	}
	for i := range cur.Metrics {
		add(&cur.Metrics[i], true)
	}
	sort.Slice(ids, func(a, b int) bool { return idOrder(ids[a]) < idOrder(ids[b]) })
	out := make([]comparison, 0, len(ids))
	for _, id := range ids {
		c := byID[id]
		if c.Old != nil && c.New != nil && c.Old.Error == "" && c.New.Error == "" && c.Old.Median != 0 {
			c.Change = c.New.Median / c.Old.Median
			if higherIsBetter(c.Goal) {
				c.Better = c.Change > 1
			} else {
				c.Better = c.Change < 1
			}
		}
		out = append(out, *c)
	}
	return out
}

func cell(r *result) string {
	switch {
	case r == nil:
		return "—"
	case r.Error != "":
		return "error"
	case r.Min == r.Max:
		return fmt.Sprintf("%.3g", r.Median)
	}
	return fmt.Sprintf("%.3g (%.3g – %.3g)", r.Median, r.Min, r.Max)
}

func metCell(r *result) string {
	switch {
	case r == nil:
		return "—"
	case r.Met:
		return "✔"
	}
	return "✘"
}

// writeComparison prints the -compare table: every metric of either run with the old and
// new median (min – max), new ÷ old, and whether each run met the goal.
func writeComparison(w io.Writer, old, cur *report) {
	fmt.Fprintf(w, "old: %s (%s, %s)\nnew: %s (%s, %s)\n\n", old.Commit, old.Date.Format(time.RFC3339), old.Host,
		cur.Commit, cur.Date.Format(time.RFC3339), cur.Host)
	fmt.Fprintln(w, "| # | metric | goal | old | new | new ÷ old | met old → new |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	for _, c := range compareReports(old, cur) {
		change := "—"
		if c.Change != 0 {
			dir := "worse"
			if c.Better {
				dir = "better"
			}
			if c.Change > 0.995 && c.Change < 1.005 {
				dir = "same"
			}
			change = fmt.Sprintf("%.3g (%s)", c.Change, dir)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s → %s |\n", c.ID, c.Name, c.Goal, cell(c.Old), cell(c.New), change, metCell(c.Old), metCell(c.New))
	}
}
