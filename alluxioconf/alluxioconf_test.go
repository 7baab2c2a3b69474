package alluxioconf_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/unifiedfs/unifiedfs"
	"github.com/unifiedfs/unifiedfs/alluxioconf"
	_ "github.com/unifiedfs/unifiedfs/driver/local"
	"github.com/unifiedfs/unifiedfs/internal/testpeer"
)

func TestParseProperties(t *testing.T) {
	text := "# comment\n" +
		"! another comment\n" +
		"   \n" +
		"a=1\n" +
		"b = two words  \n" +
		"c: colon\n" +
		"d spaced value\n" +
		"e\n" +
		"f=long \\\n    continued \\\n  line\n" +
		"g=tab\\there \\u0041\\\\\n" +
		"key\\=with\\:seps=v\n" +
		"a=last wins\n" +
		"h==starts with equals\n"
	got, err := alluxioconf.Parse(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"a": "last wins", "b": "two words  ", "c": "colon", "d": "spaced value", "e": "",
		"f": "long continued line", "g": "tab\there A\\", "key=with:seps": "v", "h": "=starts with equals",
	}
	if !maps.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}

	_, err = alluxioconf.Parse(strings.NewReader("ok=1\nbad=\\u12\n"))
	if !errors.Is(err, fs.ErrInvalid) || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("malformed escape: %v, want fs.ErrInvalid naming line 2", err)
	}

	_, err = alluxioconf.Load(filepath.Join(t.TempDir(), "missing.properties"))
	var pe *fs.PathError
	if !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &pe) {
		t.Errorf("missing file: %v, want a *fs.PathError with fs.ErrNotExist", err)
	}
}

// writeSite writes an alluxio-site.properties file and loads it.
func writeSite(t *testing.T, text string) map[string]string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "alluxio-site.properties")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	props, err := alluxioconf.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return props
}

// A real-looking site file: root UFS with options, sync interval 1m, limit, DFS.
const siteTemplate = `# Alluxio site properties of a small deployment
alluxio.master.hostname=localhost
alluxio.master.mount.table.root.ufs=file://ROOT
alluxio.master.mount.table.root.option.local.fsync=false
alluxio.master.mount.table.root.option.fs.oss.accessKeySecret=TOPSECRET-VALUE
alluxio.user.file.metadata.sync.interval=1m
alluxio.user.file.metadata.sync.limit=3
alluxio.master.metadata.sync.traversal.order=DFS
alluxio.user.file.metadata.load.type=ALWAYS
alluxio.user.file.writetype.default=MUST_CACHE
alluxio.user.file.readtype.default=NO_CACHE
alluxio.master.journal.folder=STATE/journal
alluxio.master.ufs.active.sync.interval=30sec
alluxio.master.ufs.active.sync.max.activities=100
alluxio.master.ufs.active.sync.max.age=5
alluxio.user.block.size.bytes.default=1MB
alluxio.worker.ramdisk.size=64MB
alluxio.security.authorization.permission.enabled=false
# Kodo credentials set site-wide, as the Kodo page shows
fs.kodo.accesskey=AK
fs.kodo.secretkey=SK-SECRET
alluxio.underfs.kodo.endpoint=iovip.qbox.me
unifiedfs.cache.dir=STATE/cache
unifiedfs.path.sync.interval./hot=5min
unifiedfs.no.such.key=1
`

func TestConfigFromProperties(t *testing.T) {
	root, state := t.TempDir(), t.TempDir()
	text := strings.NewReplacer("ROOT", root, "STATE", state).Replace(siteTemplate)
	cfg, warnings, err := alluxioconf.Config(writeSite(t, text))
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, got, want any) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	check("RootUFS", cfg.RootUFS, "file://"+root)
	check("RootOptions[local.fsync]", cfg.RootOptions["local.fsync"], "false")
	check("RootOptions[fs.oss.accessKeySecret]", cfg.RootOptions["fs.oss.accessKeySecret"], "TOPSECRET-VALUE")
	check("RootOptions[fs.kodo.accesskey]", cfg.RootOptions["fs.kodo.accesskey"], "AK")
	check("RootOptions[alluxio.underfs.kodo.endpoint]", cfg.RootOptions["alluxio.underfs.kodo.endpoint"], "iovip.qbox.me")
	check("SyncInterval", cfg.SyncInterval, time.Minute)
	check("SyncLimit", cfg.SyncLimit, 3)
	check("SyncTraversal", cfg.SyncTraversal, unifiedfs.DFS)
	check("WriteType", cfg.WriteType, unifiedfs.MustCache)
	check("ReadType", cfg.ReadType, unifiedfs.NoCache)
	check("JournalDir", cfg.JournalDir, filepath.Join(state, "journal"))
	check("ActiveSyncInterval", cfg.ActiveSyncInterval, 30*time.Second)
	check("ActiveSyncMaxActivities", cfg.ActiveSyncMaxActivities, 100)
	check("ActiveSyncMaxAge", cfg.ActiveSyncMaxAge, 5)
	check("BlockSize", cfg.BlockSize, int64(1<<20))
	check("CacheCapacity", cfg.CacheCapacity, int64(64<<20))
	check("CacheDir", cfg.CacheDir, filepath.Join(state, "cache"))
	check("CacheDiskCapacity", cfg.CacheDiskCapacity, int64(unifiedfs.DefaultCacheDiskCapacity))
	check("PathSyncIntervals[/hot]", cfg.PathSyncIntervals["/hot"], 5*time.Minute)

	all := strings.Join(warnings, "\n")
	for _, want := range []string{"alluxio.master.hostname", "alluxio.security.authorization.permission.enabled",
		"unifiedfs.no.such.key", "alluxio.user.file.metadata.load.type is ignored"} {
		if !strings.Contains(all, want) {
			t.Errorf("warnings %q do not mention %s", warnings, want)
		}
	}
	if len(warnings) != 4 {
		t.Errorf("%d warnings, want 4: %q", len(warnings), warnings)
	}
	if strings.Contains(all, "SECRET") {
		t.Errorf("warnings print a secret: %q", warnings)
	}

	ufsOpts := alluxioconf.UFSOptions(writeSite(t, text))
	want := map[string]string{"fs.kodo.accesskey": "AK", "fs.kodo.secretkey": "SK-SECRET", "alluxio.underfs.kodo.endpoint": "iovip.qbox.me"}
	if !maps.Equal(ufsOpts, want) {
		t.Errorf("UFSOptions = %q, want %q", ufsOpts, want)
	}
}

func TestConfigFromPropertiesIntervals(t *testing.T) {
	for _, tc := range []struct {
		props map[string]string
		want  time.Duration
	}{
		{map[string]string{"alluxio.user.file.metadata.sync.interval": "-1"}, unifiedfs.SyncNever},
		{map[string]string{"alluxio.user.file.metadata.sync.interval": "0"}, unifiedfs.SyncAlways},
		{map[string]string{"alluxio.user.file.metadata.sync.interval": "1m"}, time.Minute},
		{map[string]string{"alluxio.user.file.metadata.sync.interval": "5min"}, 5 * time.Minute},
		{map[string]string{"alluxio.user.file.metadata.sync.interval": "30sec"}, 30 * time.Second},
		{map[string]string{"alluxio.user.file.metadata.sync.interval": "60000"}, time.Minute},
		{map[string]string{"alluxio.user.file.metadata.load.type": "NEVER"}, unifiedfs.SyncNever},
		{map[string]string{"alluxio.user.file.metadata.load.type": "ONCE"}, unifiedfs.SyncNever},
		{map[string]string{"alluxio.user.file.metadata.load.type": "ALWAYS"}, unifiedfs.SyncAlways},
		{map[string]string{"alluxio.user.file.metadata.load.type": "ALWAYS", "alluxio.user.file.metadata.sync.interval": "-1"}, unifiedfs.SyncNever},
		{map[string]string{"alluxio.user.file.metadata.load.type": "NEVER", "alluxio.user.file.metadata.sync.interval": "0"}, unifiedfs.SyncAlways},
	} {
		t.Run(fmt.Sprint(tc.props), func(t *testing.T) {
			cfg, _, err := alluxioconf.Config(tc.props)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.SyncInterval != tc.want {
				t.Errorf("SyncInterval %v, want %v", cfg.SyncInterval, tc.want)
			}
		})
	}
}

func TestConfigFromPropertiesErrors(t *testing.T) {
	props := map[string]string{
		"alluxio.user.file.metadata.sync.interval":                      "soon",
		"alluxio.user.file.metadata.sync.limit":                         "many",
		"alluxio.master.metadata.sync.traversal.order":                  "RANDOM",
		"alluxio.user.file.writetype.default":                           "CACHE",
		"alluxio.master.journal.folder":                                 "hdfs://nn:8020/journal",
		"alluxio.user.block.size.bytes.default":                         "big",
		"alluxio.master.mount.table.root.ufs":                           "not a uri",
		"alluxio.master.mount.table.root.option.fs.oss.accessKeySecret": "s3cr3t",
	}
	_, _, err := alluxioconf.Config(props)
	if !errors.Is(err, fs.ErrInvalid) {
		t.Fatalf("err = %v, want fs.ErrInvalid", err)
	}
	for k := range props {
		if !strings.Contains(k, "root.option") && !strings.Contains(err.Error(), k) {
			t.Errorf("error does not name %s: %v", k, err)
		}
	}
	if strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("error prints a secret: %v", err)
	}
}

// The Config built from the site file behaves as the properties say: MUST_CACHE writes
// stay out of the UFS, out-of-band files appear once the 1m interval has passed, and a
// recursive sync past the limit of 3 fails with ErrSyncLimit.
func TestConfigFromPropertiesBehaviour(t *testing.T) {
	root, state := t.TempDir(), t.TempDir()
	text := strings.NewReplacer("ROOT", root, "STATE", state).Replace(siteTemplate)
	cfg, _, err := alluxioconf.Config(writeSite(t, text))
	if err != nil {
		t.Fatal(err)
	}
	clk := testpeer.NewClock(time.Now())
	cfg.Clock = clk.Now
	fsys, err := unifiedfs.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer fsys.Close()

	// Write type MUST_CACHE: the file is only in the namespace.
	if err := fsys.WriteFile(ctx, "/cached", []byte("x"), unifiedfs.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "cached")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("MUST_CACHE default: the UFS has /cached (stat: %v)", err)
	}

	// Sync interval 1m: a file added out of band shows up only after a minute.
	if _, err := fsys.ReadDir("."); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "outofband"), []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	clk.Add(30 * time.Second)
	if _, err := fsys.Stat("outofband"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("30s after the listing, with a 1m interval: stat outofband = %v, want not synced yet", err)
	}
	clk.Add(31 * time.Second)
	if _, err := fsys.Stat("outofband"); err != nil {
		t.Errorf("61s after the listing, with a 1m interval: %v, want the file synced", err)
	}

	// Sync limit 3: a recursive sync of five entries is aborted.
	big := filepath.Join(root, "big")
	if err := os.Mkdir(big, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		if err := os.WriteFile(filepath.Join(big, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	err = fsys.LoadMetadata(ctx, "/big", unifiedfs.LoadMetadataOptions{Recursive: true, Force: true})
	var le *unifiedfs.SyncLimitError
	if !errors.Is(err, unifiedfs.ErrSyncLimit) || !errors.As(err, &le) || le.Limit != 3 {
		t.Errorf("LoadMetadata past the limit: %v, want a *SyncLimitError with limit 3", err)
	}
	// -n (no limit) loads it.
	if err := fsys.LoadMetadata(ctx, "/big", unifiedfs.LoadMetadataOptions{Recursive: true, Force: true, Limit: -1}); err != nil {
		t.Errorf("LoadMetadata without limit: %v", err)
	}
}

func TestConfigFromPropertiesReadOnlyRoot(t *testing.T) {
	root := t.TempDir()
	cfg, _, err := alluxioconf.Config(map[string]string{
		"alluxio.master.mount.table.root.ufs":      "file://" + root,
		"alluxio.master.mount.table.root.readonly": "true",
		"alluxio.master.mount.table.root.shared":   "true",
	})
	if err != nil {
		t.Fatal(err)
	}
	fsys, err := unifiedfs.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer fsys.Close()
	err = fsys.WriteFile(ctx, "/x", nil, unifiedfs.CreateOptions{})
	if !errors.Is(err, unifiedfs.ErrReadOnly) {
		t.Errorf("write under a read-only root: %v, want ErrReadOnly", err)
	}
	if m := fsys.Mounts(); len(m) != 1 || !m[0].ReadOnly || !m[0].Shared {
		t.Errorf("root mount %+v, want read-only and shared", m)
	}
}

// Any text parses without a panic, and what parses yields a Config or an error
// (go test -fuzz FuzzProperties).
func FuzzProperties(f *testing.F) {
	f.Add(siteTemplate)
	f.Add("a=\\u00")
	f.Add("k\\\n")
	f.Add("alluxio.user.file.metadata.sync.interval=-9999999999999999999")
	f.Fuzz(func(t *testing.T, text string) {
		props, err := alluxioconf.Parse(strings.NewReader(text))
		if err != nil {
			return
		}
		_, _, _ = alluxioconf.Config(props)
	})
}

var ctx = context.Background()

// The TTL properties set their Config fields; -1 means no TTL; a bad action is an error.
func TestTTLProperties(t *testing.T) {
	root := t.TempDir()
	cfg, _, err := alluxioconf.Config(map[string]string{
		"alluxio.master.mount.table.root.ufs": "file://" + root,
		"alluxio.user.file.create.ttl":        "10min", "alluxio.user.file.create.ttl.action": "free",
		"alluxio.master.ttl.checker.interval": "30sec"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.CreateTTL != 10*time.Minute || cfg.CreateTTLAction != unifiedfs.TTLFree || cfg.TTLCheckInterval != 30*time.Second {
		t.Fatalf("got %v %v %v", cfg.CreateTTL, cfg.CreateTTLAction, cfg.TTLCheckInterval)
	}
	cfg, _, err = alluxioconf.Config(map[string]string{"alluxio.master.mount.table.root.ufs": "file://" + root, "alluxio.user.file.create.ttl": "-1"})
	if err != nil || cfg.CreateTTL != 0 {
		t.Fatalf("-1: %v %v", cfg.CreateTTL, err)
	}
	_, _, err = alluxioconf.Config(map[string]string{"alluxio.master.mount.table.root.ufs": "file://" + root, "alluxio.user.file.create.ttl.action": "explode"})
	if !errors.Is(err, fs.ErrInvalid) {
		t.Fatalf("bad action: %v", err)
	}
	if a, err := unifiedfs.ParseTTLAction("DeLeTe"); err != nil || a != unifiedfs.TTLDelete || a.String() != "DELETE" {
		t.Fatalf("ParseTTLAction: %v %v", a, err)
	}
}
