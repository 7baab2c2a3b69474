package unifiedfs_test

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/unifiedfs/unifiedfs"
	"github.com/unifiedfs/unifiedfs/ufs/ufstest"
)

// The linearizability check of the namespace: concurrent clients create, overwrite, read,
// rename, remove and stat a few keys with every write type, over a UFS that injects
// latency and faults; each operation's invocation and completion are recorded, and
// porcupine checks the history against a sequential model of the namespace (a map from
// key to content). A read must return the content of one committed write, never bytes
// nobody wrote, never ErrLost for a file that was written; a file being written is not
// there yet; a failed write leaves nothing.

const linKeys = 3

var linKeyNames = [linKeys]string{"/k0", "/k1", "/k2"}

// linState is the model's state: the content of each key, absent when "".
type linState [linKeys]string

type linOpKind int

const (
	opWrite linOpKind = iota // WriteFile, Overwrite or not
	opRead
	opStat
	opRename
	opRemove
)

// linInput is one operation as invoked.
type linInput struct {
	kind      linOpKind
	key, dst  int
	value     string
	overwrite bool
	wt        unifiedfs.WriteType
	// creating[k] is set when some write that may create key k (an incomplete new file,
	// visible as "being written") overlapped this operation: then "exists" or "being
	// written" answers about k carry no information about the model's state.
	creating [linKeys]bool
}

// Outcome classes of an operation.
type linResult int

const (
	resOK         linResult = iota
	resNotExist             // fs.ErrNotExist
	resExist                // fs.ErrExist
	resBusy                 // ErrBusy
	resIncomplete           // ErrIncomplete
	resFailed               // an injected fault or a version change: no information
	resBug                  // anything else: never legal
)

type linOutput struct {
	res   linResult
	value string // opRead
	size  int64  // opStat
	err   error
}

func classify(err error) linResult {
	switch {
	case err == nil:
		return resOK
	case errors.Is(err, unifiedfs.ErrLost):
		return resBug
	case errors.Is(err, unifiedfs.ErrIncomplete):
		return resIncomplete
	case errors.Is(err, unifiedfs.ErrBusy):
		return resBusy
	case errors.Is(err, ufstest.ErrInjected), errors.Is(err, unifiedfs.ErrChanged):
		return resFailed
	case errors.Is(err, fs.ErrNotExist):
		return resNotExist
	case errors.Is(err, fs.ErrExist):
		return resExist
	}
	return resBug
}

// linStep returns the states the model may be in after op, from s; none when the
// outcome is impossible.
func linStep(s linState, in linInput, out linOutput) []linState {
	one := func(t linState) []linState { return []linState{t} }
	k := in.key
	if out.res == resBug {
		return nil
	}
	switch in.kind {
	case opWrite:
		switch out.res {
		case resOK:
			if !in.overwrite && s[k] != "" {
				return nil
			}
			s[k] = in.value
			return one(s)
		case resExist:
			if in.overwrite || s[k] == "" && !in.creating[k] {
				return nil
			}
			return one(s)
		case resBusy, resFailed, resNotExist:
			return one(s) // a failed write (or one whose file was removed meanwhile) leaves nothing
		}
		return nil
	case opRead:
		switch out.res {
		case resOK:
			if s[k] != out.value {
				return nil
			}
			return one(s)
		case resNotExist:
			if s[k] != "" {
				return nil
			}
			return one(s)
		case resIncomplete:
			if s[k] != "" || !in.creating[k] {
				return nil
			}
			return one(s)
		case resFailed:
			return one(s)
		}
		return nil
	case opStat:
		switch out.res {
		case resOK:
			if out.size < 0 { // incomplete: not there yet
				if s[k] != "" || !in.creating[k] {
					return nil
				}
				return one(s)
			}
			if s[k] == "" || int64(len(s[k])) != out.size {
				return nil
			}
			return one(s)
		case resNotExist:
			if s[k] != "" {
				return nil
			}
			return one(s)
		case resFailed:
			return one(s)
		}
		return nil
	case opRename:
		d := in.dst
		applied := s
		applied[d], applied[k] = s[k], ""
		switch out.res {
		case resOK:
			if s[k] == "" || s[d] != "" {
				return nil
			}
			return one(applied)
		case resNotExist:
			if s[k] != "" {
				return nil
			}
			return one(s)
		case resExist:
			if s[d] == "" && !in.creating[d] {
				return nil
			}
			return one(s)
		case resBusy:
			if !in.creating[k] && s[k] == "" {
				return nil
			}
			return one(s)
		case resFailed:
			if s[k] != "" && s[d] == "" {
				return []linState{s, applied} // may or may not have happened
			}
			return one(s)
		}
		return nil
	case opRemove:
		removed := s
		removed[k] = ""
		switch out.res {
		case resOK:
			if s[k] == "" && !in.creating[k] {
				return nil
			}
			return one(removed) // an incomplete new file is removed too
		case resNotExist:
			if s[k] != "" {
				return nil
			}
			return one(s)
		case resFailed:
			return []linState{s, removed}
		}
		return nil
	}
	return nil
}

// stepOf adapts a typed step function to porcupine's untyped Step.
func stepOf[S, I, O any](step func(S, I, O) []S) func(state, input, output interface{}) []interface{} {
	return func(state, input, output interface{}) []interface{} {
		var out []interface{}
		for _, s := range step(state.(S), input.(I), output.(O)) {
			out = append(out, s)
		}
		return out
	}
}

// equalOf is porcupine's Equal for a comparable state type.
func equalOf[S comparable](a, b interface{}) bool { return a.(S) == b.(S) }

var linModel = porcupine.NondeterministicModel{
	Init:  func() []interface{} { return []interface{}{linState{}} },
	Step:  stepOf(linStep),
	Equal: equalOf[linState],
	DescribeOperation: func(input, output interface{}) string {
		in, out := input.(linInput), output.(linOutput)
		var op string
		switch in.kind {
		case opWrite:
			op = fmt.Sprintf("write(%s, %q, %v, overwrite=%v)", linKeyNames[in.key], in.value, in.wt, in.overwrite)
		case opRead:
			op = fmt.Sprintf("read(%s) = %q", linKeyNames[in.key], out.value)
		case opStat:
			op = fmt.Sprintf("stat(%s) = %d", linKeyNames[in.key], out.size)
		case opRename:
			op = fmt.Sprintf("rename(%s, %s)", linKeyNames[in.key], linKeyNames[in.dst])
		case opRemove:
			op = fmt.Sprintf("remove(%s)", linKeyNames[in.key])
		}
		if out.err != nil {
			op += fmt.Sprintf(" -> %v", out.err)
		}
		return op
	},
	DescribeState: func(state interface{}) string { return fmt.Sprintf("%q", state.(linState)) },
}

// linRecorder records the history and which creations overlap which operations.
type linRecorder struct {
	mu       sync.Mutex
	start    time.Time
	ops      []porcupine.Operation
	inflight map[*linInput]struct{}
	creating [linKeys]int // in-flight writes that may create each key
}

func (r *linRecorder) now() int64 { return int64(time.Since(r.start)) }

// begin registers in as invoked and returns its invocation time.
func (r *linRecorder) begin(in *linInput) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, n := range r.creating {
		if n > 0 {
			in.creating[k] = true
		}
	}
	if in.kind == opWrite {
		r.creating[in.key]++
		for other := range r.inflight {
			other.creating[in.key] = true
		}
		in.creating[in.key] = true
	}
	r.inflight[in] = struct{}{}
	return r.now()
}

func (r *linRecorder) end(client int, in *linInput, call int64, out linOutput) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.inflight, in)
	if in.kind == opWrite {
		r.creating[in.key]--
	}
	r.ops = append(r.ops, porcupine.Operation{ClientId: client, Input: *in, Call: call, Output: out, Return: r.now()})
}

// linConfig is one run of the check.
type linConfig struct {
	flavor     ufstest.Flavor
	clients    int
	opsPer     int
	faultProb  float64
	latency    time.Duration
	writeTypes []unifiedfs.WriteType
	seed       int64
}

// runLinearizability drives the workload and returns the history and the env.
func runLinearizability(t *testing.T, c linConfig) ([]porcupine.Operation, *env) {
	t.Helper()
	e := newEnv(t, unifiedfs.Config{PersistRetryBase: time.Millisecond, BlockSize: 8}, c.flavor)
	e.root.Seed(c.seed)
	for _, op := range []ufstest.Op{ufstest.OpRead, ufstest.OpOpen, ufstest.OpCreate, ufstest.OpWrite, ufstest.OpClose, ufstest.OpRename, ufstest.OpRemove, ufstest.OpStat} {
		e.root.Inject(ufstest.Fault{Op: op, Prob: c.faultProb, Latency: c.latency})
	}
	rec := &linRecorder{start: time.Now(), inflight: map[*linInput]struct{}{}}
	var wg sync.WaitGroup
	for client := range c.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewSource(c.seed + int64(client)))
			for i := range c.opsPer {
				in := &linInput{key: rng.Intn(linKeys)}
				switch r := rng.Intn(20); {
				case r < 6:
					in.kind, in.overwrite = opWrite, r < 4
					in.wt = c.writeTypes[rng.Intn(len(c.writeTypes))]
					// Lengths vary, so that bytes of two versions cannot pass for one.
					in.value = fmt.Sprintf("c%d-%d-", client, i) + strings.Repeat("x", rng.Intn(40))
				case r < 13:
					in.kind = opRead
				case r < 15:
					in.kind = opStat
				case r < 18:
					in.kind, in.dst = opRename, rng.Intn(linKeys)
					if in.dst == in.key {
						in.dst = (in.dst + 1) % linKeys
					}
				default:
					in.kind = opRemove
				}
				call := rec.begin(in)
				out := linDo(e.fs, rng, in)
				rec.end(client, in, call, out)
			}
		}()
	}
	wg.Wait()
	return rec.ops, e
}

func linDo(fsys *unifiedfs.FS, rng *rand.Rand, in *linInput) linOutput {
	k := linKeyNames[in.key]
	var out linOutput
	switch in.kind {
	case opWrite:
		out.err = fsys.WriteFile(ctx, k, []byte(in.value), unifiedfs.CreateOptions{WriteType: in.wt, Overwrite: in.overwrite})
	case opRead:
		rt := unifiedfs.Cache
		if rng.Intn(3) == 0 {
			rt = unifiedfs.NoCache
		}
		var f fs.File
		if f, out.err = fsys.OpenFile(ctx, k, unifiedfs.OpenOptions{ReadType: rt}); out.err == nil {
			var b []byte
			b, out.err = io.ReadAll(f)
			f.Close()
			out.value = string(b)
		}
	case opStat:
		var st *unifiedfs.FileStatus
		if st, out.err = fsys.GetStatus(ctx, k); out.err == nil {
			out.size = st.Size
			if st.Incomplete {
				out.size = -1
			}
		}
	case opRename:
		out.err = fsys.Rename(ctx, k, linKeyNames[in.dst])
	case opRemove:
		out.err = fsys.Remove(ctx, k)
	}
	out.res = classify(out.err)
	return out
}

// checkLinearizable fails the test when the history is not linearizable (or has an
// operation whose outcome is never legal), printing the offending operations. A check
// that times out is inconclusive: logged, not failed.
func checkLinearizable(t *testing.T, history []porcupine.Operation) {
	t.Helper()
	checkHistory(t, linModel, history, 30*time.Second, false)
}

// keyedInput is the input of an operation on numbered keys (a rename touches two).
type keyedInput interface {
	opKeys() (kind linOpKind, key, dst int)
}

// resultOutput is the output of an operation, classified.
type resultOutput interface{ result() linResult }

func (in linInput) opKeys() (linOpKind, int, int) { return in.kind, in.key, in.dst }
func (out linOutput) result() linResult           { return out.res }

// checkHistory fails the test when history, whose inputs are keyedInputs and outputs
// resultOutputs, has an outcome that is never legal or is not linearizable against m
// (within timeout; timeoutFails says whether running out of it fails the test too). It
// prints the first operation that cannot be linearized, the ones that overlapped it and
// returned later, and the earlier ones on its keys; with $PORCUPINE_DUMP set, it writes the
// whole history, sorted by completion, to that file.
func checkHistory(t *testing.T, m porcupine.NondeterministicModel, history []porcupine.Operation, timeout time.Duration, timeoutFails bool) {
	t.Helper()
	for _, op := range history {
		if op.Output.(resultOutput).result() == resBug {
			t.Errorf("an operation failed in a way that is never legal: %s", m.DescribeOperation(op.Input, op.Output))
		}
	}
	switch porcupine.CheckOperationsTimeout(m.ToModel(), history, timeout) {
	case porcupine.Illegal:
		t.Errorf("history of %d operations is not linearizable", len(history))
		reportIllegal(t, m, history)
	case porcupine.Unknown:
		if timeoutFails {
			t.Errorf("porcupine timed out on %d operations", len(history))
		} else {
			t.Logf("porcupine timed out on %d operations: inconclusive", len(history))
		}
	}
}

// firstIllegal returns history sorted by completion and the index of the operation that
// ends its shortest prefix m cannot linearize (len(history) when all of it can).
func firstIllegal(m porcupine.Model, history []porcupine.Operation) ([]porcupine.Operation, int) {
	sorted := append([]porcupine.Operation(nil), history...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Return < sorted[j].Return })
	lo, hi := 0, len(sorted)
	for lo < hi {
		mid := (lo + hi) / 2
		if porcupine.CheckOperations(m, sorted[:mid+1]) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return sorted, lo
}

// reportIllegal prints the operations around the shortest illegal prefix of the history
// (see checkHistory).
func reportIllegal(t *testing.T, m porcupine.NondeterministicModel, history []porcupine.Operation) {
	t.Helper()
	sorted, lo := firstIllegal(m.ToModel(), history)
	describe := func(op porcupine.Operation) string {
		return fmt.Sprintf("[%d..%d] client %d: %s", op.Call, op.Return, op.ClientId, m.DescribeOperation(op.Input, op.Output))
	}
	if dump := os.Getenv("PORCUPINE_DUMP"); dump != "" {
		var b strings.Builder
		for _, op := range sorted {
			b.WriteString(describe(op) + "\n")
		}
		if err := os.WriteFile(dump, []byte(b.String()), 0o644); err != nil {
			t.Logf("PORCUPINE_DUMP: %v", err)
		}
	}
	if lo >= len(sorted) {
		return
	}
	bad := sorted[lo]
	kind, key, dst := bad.Input.(keyedInput).opKeys()
	keys := map[int]bool{key: true}
	if kind == opRename {
		keys[dst] = true
	}
	for _, op := range sorted {
		if op.Call <= bad.Return && op.Return >= bad.Call && op.Return > bad.Return {
			t.Logf("  overlapping, returned later: %s", describe(op))
		}
	}
	t.Logf("the first operation that cannot be linearized, and the earlier ones on its keys:")
	n := 0
	for i := lo; i >= 0 && n < 30; i-- {
		kind, key, dst := sorted[i].Input.(keyedInput).opKeys()
		if keys[key] || kind == opRename && keys[dst] {
			n++
			t.Logf("  %s", describe(sorted[i]))
		}
	}
}

// checkUFSMatches checks, once everything settled, that the UFS holds what the namespace
// says is persisted there, and nothing where the namespace has no file.
func checkUFSMatches(t *testing.T, e *env) {
	t.Helper()
	e.root.ClearFaults()
	for _, k := range linKeyNames {
		st, err := e.fs.GetStatus(ctx, k)
		ufsData, inUFS := e.root.Direct().Get(k[1:])
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if inUFS {
				t.Errorf("%s: absent from the namespace, but the UFS holds %q", k, ufsData)
			}
		case err != nil:
			t.Errorf("%s: stat: %v", k, err)
		case st.PersistState == unifiedfs.Persisted:
			got, rerr := fs.ReadFile(e.fs, k[1:])
			if rerr != nil || !inUFS || string(got) != string(ufsData) {
				t.Errorf("%s: namespace reads %q (%v), UFS holds %q (%v)", k, got, rerr, ufsData, inUFS)
			}
		}
	}
}

func TestLinearizability(t *testing.T) {
	all := []unifiedfs.WriteType{unifiedfs.MustCache, unifiedfs.CacheThrough, unifiedfs.Through, unifiedfs.AsyncThrough}
	cacheOnly := []unifiedfs.WriteType{unifiedfs.MustCache, unifiedfs.AsyncThrough}
	for _, c := range []struct {
		name   string
		flavor ufstest.Flavor
		wts    []unifiedfs.WriteType
	}{
		{"filesystem", ufstest.FileSystem, all},
		{"objectstore", ufstest.ObjectStore, all},
		{"cache-only-writes", ufstest.FileSystem, cacheOnly},
	} {
		t.Run(c.name, func(t *testing.T) {
			history, e := runLinearizability(t, linConfig{flavor: c.flavor, clients: 8, opsPer: 120, faultProb: 0.02,
				latency: 100 * time.Microsecond, writeTypes: c.wts, seed: 1})
			checkLinearizable(t, history)
			checkUFSMatches(t, e)
		})
	}
}
