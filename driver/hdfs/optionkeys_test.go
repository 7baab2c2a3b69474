package hdfs

import (
	"fmt"
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
		OptConfiguration:      {"", ""}, OptNamenodes: {"127.0.0.1:8020", ""}, OptUser: {"alice", ""},
		OptPrincipal: {"", ""}, OptKeytab: {"", ""}, OptCCache: {"", ""}, OptKrb5Conf: {"", ""}, OptServicePrincipl: {"", ""},
		"alluxio.security.underfs.hdfs.kerberos.client.principal": {"", ""}, "alluxio.master.principal": {"", ""},
		"alluxio.security.underfs.hdfs.kerberos.client.keytab.file": {"", ""}, "alluxio.master.keytab.file": {"", ""},
		OptUseDNHostname: {"false", "maybe"}, "dfs.client.use.datanode.hostname": {"false", "maybe"},
		OptProtection: {"authentication", "bogus"}, "dfs.data.transfer.protection": {"authentication", "bogus"},
		OptConnectTimeout: {"1s", "soon"}, OptCompleteRetries: {"3", "-1"}, "dfs.client.block.write.locatefollowingblock.retries": {"3", "-1"},
		OptCompleteDelay: {"100ms", "soon"}, "dfs.client.block.write.locatefollowingblock.initial.delay.ms": {"100", "soon"},
		OptListCacheTTL: {"10s", "soon"},
	}
	keys := optionKeys(ufs.Options{})
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
	if err := parseHDFS(all); err != nil {
		t.Fatalf("every key the driver lists: %v", err)
	}
	if unknown := ufs.UnknownKeys(all, keys); len(unknown) != 0 {
		t.Fatalf("unknown keys: %v", unknown)
	}
	for k, v := range values {
		if v[1] == "" {
			continue
		}
		m := map[string]string{OptUser: "alice"}
		m[k] = v[1]
		if err := parseHDFS(m); err == nil || !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(k)) {
			t.Errorf("%s=%q: %v, want an error naming the key", k, v[1], err)
		}
	}
	misspelt := map[string]string{"unifiedfs.retry.atempts": "3", "hdfs.usr": "x"}
	maps.Copy(misspelt, all)
	if got := ufs.UnknownKeys(misspelt, keys); !slices.Equal(got, []string{"hdfs.usr", "unifiedfs.retry.atempts"}) {
		t.Fatalf("unknown keys %v, want the two misspelt ones", got)
	}
}

// parseHDFS is parseSettings of the options m gives a value for (the Kerberos keys and the
// configuration files, which need files, are given none here: TestKerberos* cover them).
func parseHDFS(m map[string]string) error {
	given := map[string]string{}
	for k, v := range m {
		if v != "" {
			given[k] = v
		}
	}
	s, err := parseSettings(ufs.URI{Scheme: "hdfs", Authority: "127.0.0.1:8020", Path: "d"}, ufs.NewOptions(given))
	if err == nil {
		// A Hadoop property given is read too.
		given["dfs.replication"] = "2"
		if s, err = parseSettings(ufs.URI{Scheme: "hdfs", Authority: "127.0.0.1:8020", Path: "d"}, ufs.NewOptions(given)); err == nil {
			if unknown := ufs.UnknownKeys(given, s.keys); len(unknown) != 0 {
				return fmt.Errorf("keys of the parsed settings miss %v", unknown)
			}
		}
	}
	return err
}
