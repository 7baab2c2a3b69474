package alluxioconf_test

import (
	"errors"
	"io/fs"
	"testing"
	"time"

	"github.com/unifiedfs/unifiedfs"
	"github.com/unifiedfs/unifiedfs/alluxioconf"
)

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
