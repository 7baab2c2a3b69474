package kodo

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/unifiedfs/unifiedfs/ufs"
	"github.com/unifiedfs/unifiedfs/ufs/retry"
)

// TestOptionKeys checks OptionKeys against the option parser: a mount giving every key it
// lists parses (so every listed key is accepted) and has no unknown key; a bad value of each
// typed key is refused naming the key (so the parser reads it); a misspelt key is reported.
func TestOptionKeys(t *testing.T) {
	// A valid and an invalid value of each key; "" when any value is accepted.
	values := map[string][2]string{
		retry.KeyAttempts: {"3", "0"}, retry.KeyBaseDelay: {"10ms", "soon"}, retry.KeyMaxDelay: {"1s", "soon"},
		retry.KeyResumes: {"5", "-1"}, retry.AliasResumes: {"5", "-1"}, retry.KeyConnectTimeout: {"1s", "0"},
		retry.KeyResponseTimeout: {"1s", "0"}, retry.KeyIdleTimeout: {"1s", "0"}, retry.KeyRequestTimeout: {"1s", "0"},
		retry.KeyAbortTimeout: {"1s", "0"},
		OptAccessKey:          {"ak", ""}, OptSecretKey: {"sk", ""}, OptDownloadHost: {"dl.example.com", "a/b"}, OptEndpoint: {"z0", ""},
		OptUCHost: {"uc1,uc2", ""}, OptRSHost: {"rs1", ""}, OptRSFHost: {"rsf1", ""}, OptUPHost: {"up1", ""}, OptAPIHost: {"api1", ""},
		OptHTTPS: {"true", "maybe"}, OptConcurrency: {"4", "0"}, OptPartSize: {"4MB", "1KB"}, OptThreshold: {"4MB", "-1"},
		OptPageSize: {"100", "0"}, OptTokenTTL: {"1h", "soon"}, OptCacheDir: {"/tmp", ""},
		OptConnectTimeout: {"1s", "soon"}, OptResponseTimeout: {"1s", "soon"}, OptRetries: {"2", "-1"}, OptRetryInterval: {"10ms", "soon"},
	}
	keys := slices.Clone(optionKeys)
	all := map[string]string{}
	for _, k := range keys {
		v, ok := values[k]
		if !ok {
			t.Errorf("OptionKeys lists %s, which this test has no value for", k)
			continue
		}
		all[k] = v[0]
	}
	if len(values) != len(all) {
		t.Errorf("%d keys in the test, %d in OptionKeys", len(values), len(all))
	}
	if err := parseKodo(all); err != nil {
		t.Fatalf("every key the driver lists: %v", err)
	}
	if unknown := ufs.UnknownKeys(all, keys); len(unknown) != 0 {
		t.Fatalf("unknown keys: %v", unknown)
	}
	for k, v := range values {
		if v[1] == "" {
			continue
		}
		m := baseOptions()
		m[k] = v[1]
		if err := parseKodo(m); err == nil || !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(k)) {
			t.Errorf("%s=%q: %v, want an error naming the key", k, v[1], err)
		}
	}
	misspelt := map[string]string{"unifiedfs.retry.atempts": "3", "fs.kodo.acesskey": "x"}
	maps.Copy(misspelt, all)
	if got := ufs.UnknownKeys(misspelt, keys); !slices.Equal(got, []string{"fs.kodo.acesskey", "unifiedfs.retry.atempts"}) {
		t.Fatalf("unknown keys %v, want the two misspelt ones", got)
	}
}

func parseKodo(m map[string]string) error {
	_, err := parseConfig(ufs.URI{Scheme: "kodo", Authority: "b", Path: "d"}, ufs.NewOptions(m))
	return err
}
