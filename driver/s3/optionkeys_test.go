package s3

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
		OptAccessKeyID:        {"AK", ""}, OptSecretKey: {"SK", ""}, OptAWSAccessKeyID: {"AK", ""}, OptAWSSecretKey: {"SK", ""},
		OptEndpoint: {"http://127.0.0.1:9000", "http://host/path"}, OptRegion: {"r1", ""}, OptBucketRegion: {"r1", ""},
		OptPathStyle: {"true", "maybe"}, OptSecureHTTP: {"false", "maybe"}, "alluxio.underfs.s3a.secure.http.enabled": {"false", "maybe"},
		OptUploadThreads: {"4", "0"}, OptUploadThreadsMax: {"4", "0"}, OptPartSize: {"16MB", "100"},
		"alluxio.underfs.s3a.streaming.upload.partition.size": {"16MB", "100"}, OptListV1: {"false", "maybe"},
		"alluxio.underfs.s3a.list.objects.v1": {"false", "maybe"}, OptSSE: {"false", "maybe"},
		"alluxio.underfs.s3a.server.side.encryption.enabled": {"false", "maybe"}, OptInheritACL: {"true", "maybe"},
		"alluxio.underfs.s3a.inherit_acl": {"true", "maybe"}, OptMaxErrorRetry: {"3", "-1"}, "alluxio.underfs.s3a.max.error.retry": {"3", "-1"},
		OptRequestTimeout: {"1min", "soon"}, "alluxio.underfs.s3a.request.timeout": {"1min", "soon"},
		"alluxio.underfs.s3a.request.timeout.ms": {"60000", "soon"}, OptSocketTimeout: {"1min", "soon"},
		"alluxio.underfs.s3a.socket.timeout": {"1min", "soon"}, "alluxio.underfs.s3a.socket.timeout.ms": {"60000", "soon"},
		OptCleanup: {"false", "maybe"}, OptUploadCleanAge: {"3day", "-5min"}, "alluxio.underfs.s3a.intermediate.upload.clean.age": {"3day", "soon"},
		OptListingLength: {"1000", "0"}, OptEC2Metadata: {"false", "maybe"}, OptRetryBaseDelay: {"10ms", "soon"},
		OptCopyThreshold: {"1GB", "0"}, OptCopyPartSize: {"256MB", "100"},
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
	if err := parseS3(all); err != nil {
		t.Fatalf("every key the driver lists: %v", err)
	}
	if unknown := ufs.UnknownKeys(all, keys); len(unknown) != 0 {
		t.Fatalf("unknown keys: %v", unknown)
	}
	for k, v := range values {
		if v[1] == "" {
			continue
		}
		m := map[string]string{}
		m[k] = v[1]
		if err := parseS3(m); err == nil || !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(k)) {
			t.Errorf("%s=%q: %v, want an error naming the key", k, v[1], err)
		}
	}
	misspelt := map[string]string{"unifiedfs.retry.atempts": "3", "s3a.acessKeyId": "x"}
	maps.Copy(misspelt, all)
	if got := ufs.UnknownKeys(misspelt, keys); !slices.Equal(got, []string{"s3a.acessKeyId", "unifiedfs.retry.atempts"}) {
		t.Fatalf("unknown keys %v, want the two misspelt ones", got)
	}
}

// parseS3 is ParseOptions, failing on a warning too (a key of S3's namespaces it ignores).
func parseS3(m map[string]string) error {
	_, warnings, err := ParseOptions(ufs.URI{Scheme: "s3", Authority: "bkt", Path: ufs.Root}, ufs.NewOptions(m))
	if err == nil && len(warnings) > 0 {
		return fmt.Errorf("warnings: %v", warnings)
	}
	return err
}
