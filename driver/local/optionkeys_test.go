package local_test

import (
	"context"
	"errors"
	"io/fs"
	"slices"
	"strings"
	"testing"

	"github.com/unifiedfs/unifiedfs/driver/local"
	"github.com/unifiedfs/unifiedfs/ufs"
)

// TestOptionKeys checks OptionKeys against the option parser: the one key parses and is
// known, a bad value of it is refused naming it (so Open reads it), a misspelt key is
// reported.
func TestOptionKeys(t *testing.T) {
	ctx := context.Background()
	all := map[string]string{local.OptFsync: "false"}
	u, err := ufs.Open(ctx, "file://"+t.TempDir(), all)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	keys := u.(ufs.OptionKeyer).OptionKeys()
	if unknown := ufs.UnknownKeys(all, keys); len(unknown) != 0 {
		t.Fatalf("unknown keys: %v", unknown)
	}
	if _, err := ufs.Open(ctx, "file://"+t.TempDir(), map[string]string{local.OptFsync: "maybe"}); !errors.Is(err, fs.ErrInvalid) || !strings.Contains(err.Error(), local.OptFsync) {
		t.Fatalf("a bad %s: %v", local.OptFsync, err)
	}
	if got := ufs.UnknownKeys(map[string]string{"local.fsnyc": "false", local.OptFsync: "true"}, keys); !slices.Equal(got, []string{"local.fsnyc"}) {
		t.Fatalf("unknown keys %v, want the misspelt one", got)
	}
}
