package journal_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/unifiedfs/unifiedfs/internal/journal"
)

// The caller appends under its apply lock, waits outside it, and checkpoints when the
// journal has grown.
func Example() {
	dir, _ := os.MkdirTemp("", "journal-example")
	defer os.RemoveAll(dir)
	st, _ := journal.NewDirStorage(filepath.Join(dir, "j"))

	j, rec, err := journal.Open(st, journal.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("recovered", len(rec.Entries), "entries")

	var apply sync.Mutex
	state := []string{}
	mutate := func(op string) error {
		apply.Lock()
		t := j.Append([]byte(op)) // sequence order = apply order
		state = append(state, op)
		apply.Unlock()
		return t.Wait() // durable before the caller is told it is done
	}
	mutate("mkdir /a")
	mutate("create /a/b")

	apply.Lock()
	snapshot, seq := fmt.Sprint(state), j.LastSeq()
	apply.Unlock()
	if err := j.Checkpoint([]byte(snapshot), seq); err != nil {
		fmt.Println(err)
	}
	mutate("remove /a/b")
	j.Close()

	j, rec, _ = journal.Open(st, journal.Options{})
	defer j.Close()
	fmt.Printf("checkpoint at %d: %s\n", rec.CheckpointSeq, rec.Checkpoint)
	for _, e := range rec.Entries {
		fmt.Printf("replay %d: %s\n", e.Seq, e.Data)
	}
	// Output:
	// recovered 0 entries
	// checkpoint at 2: [mkdir /a create /a/b]
	// replay 3: remove /a/b
}
