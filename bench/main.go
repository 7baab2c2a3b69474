//go:build unix

// Command bench measures every performance ratio of unifiedfs against a baseline
// measured in the same process, interleaved pair by pair (these machines are noisy), and
// prints a table of medians with min and max. With -write it also rewrites the results
// table in BENCHMARKS.md; with -json it saves the run (commit, every metric's values) and
// with -compare it prints every metric against such a saved run.
//
//	go run ./bench                          # every metric
//	go run ./bench -only R5,R8              # some
//	go run ./bench -json /tmp/new.json      # save the run
//	go run ./bench -compare /tmp/old.json   # run, then one table: old, new, change, goal met
//	go run ./bench -compare old.json -from new.json   # compare two saved runs, measure nothing
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"syscall"
	"time"
)

// metric is one row of the report.
type metric struct {
	id, name, baseline, goal string
	// run measures pairs times and returns one ratio per pair (or one value).
	run func(pairs int) ([]float64, string, error)
	// ok says whether a median meets the goal.
	ok func(median float64) bool
}

var metrics []metric

// cleanups run when the harness ends (temporary trees shared by several metrics).
var cleanups []func()

func runCleanups() {
	for _, c := range cleanups {
		c()
	}
	cleanups = nil
}

func register(m metric) { metrics = append(metrics, m) }

func main() {
	only := flag.String("only", "", "comma-separated metric ids to run (default: all)")
	pairs := flag.Int("pairs", 10, "baseline/metric pairs per ratio")
	write := flag.String("write", "", "rewrite the results table in this markdown file (e.g. BENCHMARKS.md)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.BoolVar(&verbose, "v", false, "print every pair's timings to stderr")
	flag.StringVar(&timedProfile, "cpuprofile-timed", "", "write a CPU profile of each timed run (not the setup) of the metrics that support it to PREFIX-ours-<n>.prof and PREFIX-base-<n>.prof (the baseline); `go tool pprof` merges them")
	jsonOut := flag.String("json", "", "save the run (commit, every metric's median, min, max, values) as JSON to this file")
	compare := flag.String("compare", "", "after the run, print every metric against the run saved in this JSON file")
	from := flag.String("from", "", "with -compare: compare against this saved run instead of measuring")
	flag.Parse()
	if *from != "" {
		if *compare == "" {
			fmt.Fprintln(os.Stderr, "bench: -from needs -compare")
			os.Exit(2)
		}
		old, err := loadReport(*compare)
		var cur *report
		if err == nil {
			cur, err = loadReport(*from)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(2)
		}
		writeComparison(os.Stdout, old, cur)
		return
	}
	var old *report
	if *compare != "" {
		var err error
		if old, err = loadReport(*compare); err != nil { // fail before measuring for minutes
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(2)
		}
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(2)
		}
		defer pprof.StopCPUProfile()
	}
	runtime.GOMAXPROCS(2)
	want := map[string]bool{}
	for _, id := range strings.Split(*only, ",") {
		if id != "" {
			want[strings.ToLower(strings.TrimSpace(id))] = true
		}
	}
	sort.SliceStable(metrics, func(i, j int) bool { return idOrder(metrics[i].id) < idOrder(metrics[j].id) })
	var rows []string
	failed := 0
	start := time.Now()
	rep := newReport(*pairs)
	for _, m := range metrics {
		if len(want) > 0 && !want[strings.ToLower(m.id)] {
			continue
		}
		t0 := time.Now()
		vals, note, err := m.run(*pairs)
		res := result{ID: m.id, Name: m.name, Baseline: m.baseline, Goal: m.goal, Note: note}
		var row string
		if err == nil && len(vals) == 0 {
			err = fmt.Errorf("no values")
		}
		if err != nil {
			failed++
			res.Error = err.Error()
			row = fmt.Sprintf("| %s | %s | %s | %s | error: %v | | ✘ | |", m.id, m.name, m.baseline, m.goal, err)
		} else {
			med, lo, hi := stats(vals)
			res.Median, res.Min, res.Max, res.Values, res.Met = med, lo, hi, vals, m.ok(med)
			verdict := "✔"
			if !res.Met {
				verdict = "✘"
			}
			row = fmt.Sprintf("| %s | %s | %s | %s | %.3g | %.3g – %.3g | %s | %s |", m.id, m.name, m.baseline, m.goal, med, lo, hi, verdict, note)
		}
		res.Seconds = time.Since(t0).Seconds()
		rep.Metrics = append(rep.Metrics, res)
		fmt.Fprintf(os.Stderr, "%s done in %v\n", m.id, time.Since(t0).Round(time.Millisecond))
		fmt.Println(row)
		rows = append(rows, row)
	}
	runCleanups()
	fmt.Fprintf(os.Stderr, "all done in %v\n", time.Since(start).Round(time.Second))
	rep.Seconds = time.Since(start).Seconds()
	if *jsonOut != "" {
		if err := saveReport(*jsonOut, rep); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
	}
	if old != nil {
		fmt.Println()
		writeComparison(os.Stdout, old, rep)
	}
	if *write != "" {
		if err := writeTable(*write, rows, len(want) > 0); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
	}
	if failed > 0 {
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

// idOrder is the sort key of a metric id: its letter, then its number, then its suffix
// (R5 before R5b before R10 before W1).
func idOrder(id string) string {
	n := strings.TrimLeft(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
	digits := strings.TrimRight(n, "abcdefghijklmnopqrstuvwxyz")
	return fmt.Sprintf("%s%03s%s", id[:len(id)-len(n)], digits, n[len(digits):])
}

// stats returns the median, min and max.
func stats(v []float64) (med, lo, hi float64) {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		med = s[n/2]
	} else {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return med, s[0], s[n-1]
}

const tableHeader = "| # | metric | baseline in the same run | goal | median | min – max | met | notes |\n|---|---|---|---|---|---|---|---|\n"

// writeTable replaces the text between the results markers of path with the rows. With
// only (some metrics were run), the other rows of the table there and the paragraph
// above it are kept, and a line says which rows were measured again when (replacing an
// earlier such line).
func writeTable(path string, rows []string, only bool) error {
	const begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	s := string(old)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	host, _ := os.Hostname()
	date := time.Now().UTC().Format("2006-01-02")
	intro := fmt.Sprintf("Measured %s on %s (%s/%s, %d CPUs, GOMAXPROCS=2, %s) with `go run ./bench`.",
		date, host, runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
	if only && i >= 0 && j > i {
		kept := map[string]string{}
		var ids, lines, introLines []string
		for _, line := range strings.Split(s[i+len(begin):j], "\n") {
			switch id := rowID(line); {
			case strings.HasPrefix(line, "|"):
				if id != "#" && !strings.HasPrefix(id, "---") {
					kept[id] = line
				}
			case strings.Contains(line, " measured again "), strings.TrimSpace(line) == "":
			default:
				introLines = append(introLines, line)
			}
		}
		if len(introLines) > 0 {
			intro = strings.Join(introLines, "\n")
		}
		for _, r := range rows {
			kept[rowID(r)] = r
			ids = append(ids, rowID(r))
		}
		keys := make([]string, 0, len(kept))
		for id := range kept {
			keys = append(keys, id)
		}
		sort.Slice(keys, func(a, b int) bool { return idOrder(keys[a]) < idOrder(keys[b]) })
		for _, id := range keys {
			lines = append(lines, kept[id])
		}
		rows = lines
		intro = fmt.Sprintf("%s\n%s measured again %s with `go run ./bench -only %s`.", intro,
			strings.Join(ids, ", "), date, strings.Join(ids, ","))
	}
	body := fmt.Sprintf("%s\n%s\n\n%s%s\n%s", begin, intro, tableHeader, strings.Join(rows, "\n"), end)
	if i < 0 || j < i {
		s = s + "\n" + body + "\n"
	} else {
		s = s[:i] + body + s[j+len(end):]
	}
	return os.WriteFile(path, []byte(s), 0o644)
}

// rowID returns the metric id of a table row.
func rowID(row string) string {
	return strings.TrimSpace(strings.SplitN(strings.TrimPrefix(row, "|"), "|", 2)[0])
}

// timeIt returns the duration of fn.
func timeIt(fn func()) time.Duration {
	t := time.Now()
	fn()
	return time.Since(t)
}

var verbose bool // -v

// logPair prints one pair's timings with -v, with the process's CPU time (user and
// system, every goroutine: fakes included) and page faults of each side.
func logPair(id string, i int, base, ours time.Duration) {
	if verbose {
		fmt.Fprintf(os.Stderr, "%s pair %d: baseline %v (cpu %v, %d page faults), ours %v (cpu %v, %d page faults), ratio %.3f\n", id, i,
			base.Round(time.Microsecond), lastCPU["base"].Round(time.Millisecond), lastFaults["base"],
			ours.Round(time.Microsecond), lastCPU["ours"].Round(time.Millisecond), lastFaults["ours"], float64(base)/float64(ours))
	}
}

// lastCPU holds the process CPU time of the last timeBase and timeOurs, lastFaults
// its page faults.
var (
	lastCPU    = map[string]time.Duration{}
	lastFaults = map[string]int64{}
)

func cpuTime() (time.Duration, int64) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), ru.Minflt + ru.Majflt
}

var (
	timedProfile string // -cpuprofile-timed
	timedRuns    int
)

// timeOurs is timeIt for the measured side of a pair: with -cpuprofile-timed it profiles
// fn alone (profiling starts before the clock and stops after it).
func timeOurs(fn func()) time.Duration { return timeProfiled("ours", fn) }

// timeBase is timeOurs for the baseline of a pair.
func timeBase(fn func()) time.Duration { return timeProfiled("base", fn) }

func timeProfiled(side string, fn func()) time.Duration {
	c0, f0 := cpuTime()
	defer func() {
		c1, f1 := cpuTime()
		lastCPU[side], lastFaults[side] = c1-c0, f1-f0
	}()
	if timedProfile == "" {
		return timeIt(fn)
	}
	timedRuns++
	f, err := os.Create(fmt.Sprintf("%s-%s-%03d.prof", timedProfile, side, timedRuns))
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		// -cpuprofile (the whole run) and -cpuprofile-timed exclude each other.
		fmt.Fprintln(os.Stderr, "bench: -cpuprofile-timed:", err)
		os.Exit(2)
	}
	d := timeIt(fn)
	pprof.StopCPUProfile()
	f.Close()
	return d
}
