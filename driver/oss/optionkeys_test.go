package oss

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
		keyEndpoint:           {"http://127.0.0.1:9000", "ftp://host"}, keyAccessKeyID: {"id", ""}, keyAccessSecret: {"secret", ""},
		keySecurityToken: {"token", ""}, keyRegion: {"r1", ""}, keySignature: {"v4", "v9"}, keyPathStyle: {"true", "maybe"},
		keyMaxConns: {"10", "0"}, aliasMaxConns: {"10", "0"}, keyThreshold: {"1MB", "-1"}, keyPartSize: {"1MB", "1KB"},
		aliasPartSize: {"1MB", "1KB"}, keyThreads: {"2", "0"}, aliasThreads: {"2", "0"}, keyCopyThreshold: {"1MB", "-1"},
		keyCopyPartSize: {"1MB", "1KB"}, keyCopyThreads: {"2", "0"}, keyPageSize: {"100", "0"},
		keyRetries: {"2", "-1"}, aliasRetries: {"2", "-1"}, keyRetryDelay: {"10ms", "soon"},
		keyConnectTimeout: {"1s", "soon"}, aliasConnectTimeout: {"1s", "soon"}, keySocketTimeout: {"1s", "soon"},
		aliasSocketTimeout: {"1s", "soon"},
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
	if err := parseOSS(all); err != nil {
		t.Fatalf("every key the driver lists: %v", err)
	}
	if unknown := ufs.UnknownKeys(all, keys); len(unknown) != 0 {
		t.Fatalf("unknown keys: %v", unknown)
	}
	for k, v := range values {
		if v[1] == "" {
			continue
		}
		m := map[string]string{keyEndpoint: "http://127.0.0.1:9000", keyAccessKeyID: "id", keyAccessSecret: "s", keyRegion: "r1"}
		m[k] = v[1]
		if err := parseOSS(m); err == nil || !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(k)) {
			t.Errorf("%s=%q: %v, want an error naming the key", k, v[1], err)
		}
	}
	misspelt := map[string]string{"unifiedfs.retry.atempts": "3", "fs.oss.acessKeyId": "x"}
	maps.Copy(misspelt, all)
	if got := ufs.UnknownKeys(misspelt, keys); !slices.Equal(got, []string{"fs.oss.acessKeyId", "unifiedfs.retry.atempts"}) {
		t.Fatalf("unknown keys %v, want the two misspelt ones", got)
	}
}

func parseOSS(m map[string]string) error {
	_, err := parseConfig(ufs.URI{Scheme: "oss", Authority: "bkt", Path: "dir"}, ufs.NewOptions(m))
	return err
}
