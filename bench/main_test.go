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
	old := "# B\n\n<!-- bench:begin -->\nMeasured 2020-01-01 on h.\n\n" + tableHeader +
		"| R1 | a | | | 1 | | ✔ | |\n| R4 | old | | | 0.5 | | ✘ | |\n| R10 | c | | | 3 | | ✘ | |\n<!-- bench:end -->\n\nnotes\n"
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
		if strings.HasPrefix(line, "| R") {
			ids = append(ids, rowID(line))
		}
	}
	if strings.Join(ids, " ") != "R1 R4 R4c R10" || strings.Contains(got, "old") || !strings.Contains(got, "| R4 | new") {
		t.Fatalf("rows %v in:\n%s", ids, got)
	}
	if !strings.Contains(got, "Measured 2020-01-01 on h.\nR4, R4c measured again") || !strings.HasSuffix(got, "<!-- bench:end -->\n\nnotes\n") {
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
