package shell

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/unifiedfs/unifiedfs"
	"github.com/unifiedfs/unifiedfs/alluxioconf"
)

// siteFile is the properties file read from the state directory when --conf is not given.
const siteFile = "alluxio-site.properties"

// cli is one invocation: its streams, its state directory, its configuration and, once a
// verb needs it, the open namespace.
type cli struct {
	ctx    context.Context
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	tty    bool // stdout is a terminal: progress lines are drawn

	stateDir  string
	confFile  string            // --conf, or "" for $UNIFIEDFS_CONF or <state>/alluxio-site.properties
	overrides map[string]string // -D key=value

	props       map[string]string // file + overrides
	cfg         unifiedfs.Config
	ufsDefaults map[string]string // global driver options (fs.oss.*, ...) for every mount
	fsys        *unifiedfs.FS
	keepOpen    bool // the demo runs several verbs on one FS
	ignoreSite  bool // the demo reads no properties file
}

// defaultStateDir is $UNIFIEDFS_HOME, else ~/.unifiedfs.
func defaultStateDir() (string, error) {
	if d := os.Getenv("UNIFIEDFS_HOME"); d != "" {
		return d, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no state directory: set UNIFIEDFS_HOME or pass --state DIR (%v)", err)
	}
	return filepath.Join(home, ".unifiedfs"), nil
}

// loadConfig reads the properties (file, then -D overrides) and fills in the embedded
// defaults: the root UFS is <state>/root, the journal <state>/journal, the disk cache
// <state>/cache. Warnings go to stderr.
func (c *cli) loadConfig() error {
	if c.props != nil {
		return nil
	}
	abs, err := filepath.Abs(c.stateDir)
	if err != nil {
		return err
	}
	c.stateDir = abs
	props := map[string]string{}
	file, explicit := c.confFile, c.confFile != ""
	if file == "" {
		file, explicit = os.Getenv("UNIFIEDFS_CONF"), os.Getenv("UNIFIEDFS_CONF") != ""
	}
	if file == "" {
		file = filepath.Join(c.stateDir, siteFile)
	}
	fromFile := false
	if !c.ignoreSite {
		loaded, err := alluxioconf.Load(file)
		switch {
		case err == nil:
			props, fromFile = loaded, true
		case explicit || !errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("%w (fix or remove the properties file)", err)
		}
	}
	for k, v := range c.overrides {
		props[k] = v
	}
	cfg, warnings, err := alluxioconf.Config(props)
	for _, w := range warnings {
		fmt.Fprintf(c.stderr, "unifiedfs: warning: %s\n", w)
	}
	if err != nil {
		where := "the -D options"
		if fromFile {
			where = file + " or the -D options"
		}
		return fmt.Errorf("%s (fix it in %s)", oneLine(err), where)
	}
	if err := os.MkdirAll(c.stateDir, 0o700); err != nil {
		return err
	}
	if cfg.RootUFS == "" {
		root := filepath.Join(c.stateDir, "root")
		if err := os.MkdirAll(root, 0o755); err != nil {
			return err
		}
		cfg.RootUFS = "file://" + filepath.ToSlash(root)
	}
	if cfg.JournalDir == "" && !cfg.HA.Enabled() {
		cfg.JournalDir = filepath.Join(c.stateDir, "journal")
	}
	if cfg.CacheDir == "" {
		cfg.CacheDir = filepath.Join(c.stateDir, "cache")
		if cfg.CacheDiskCapacity == 0 {
			cfg.CacheDiskCapacity = unifiedfs.DefaultCacheDiskCapacity
		}
	}
	for _, d := range []string{cfg.JournalDir, cfg.CacheDir} {
		if d == "" {
			continue
		}
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	cfg.Logger = slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	c.props, c.cfg = props, cfg
	c.ufsDefaults = alluxioconf.UFSOptions(props)
	return nil
}

// writeTypeSet reports whether the properties name a default write type.
func (c *cli) writeTypeSet() bool {
	return strings.TrimSpace(c.props["alluxio.user.file.writetype.default"]) != ""
}

// open returns the namespace, opening it on first use.
func (c *cli) open() (*unifiedfs.FS, error) {
	if c.fsys != nil {
		return c.fsys, nil
	}
	if err := c.loadConfig(); err != nil {
		return nil, err
	}
	if c.cfg.HA.Enabled() {
		// A highly available namespace: this command is a client of its members (which
		// `unifiedfs master` runs), found through ZooKeeper.
		fsys, err := unifiedfs.Dial(c.ctx, c.clientConfig())
		if err != nil {
			return nil, err
		}
		c.fsys = fsys
		return fsys, nil
	}
	fsys, err := unifiedfs.New(c.ctx, c.cfg)
	if err != nil {
		return nil, err
	}
	c.fsys = fsys
	return fsys, nil
}

// clientConfig is the remote client configuration the properties describe.
func (c *cli) clientConfig() unifiedfs.ClientConfig {
	ha := c.cfg.HA
	return unifiedfs.ClientConfig{ZooKeeper: ha.ZooKeeper, ElectionPath: ha.ElectionPath, LeaderPath: ha.LeaderPath,
		SessionTimeout: ha.SessionTimeout, Secret: ha.Secret, TLS: ha.TLSCert != "" || ha.TLSCA != "", TLSCA: ha.TLSCA,
		LeaderTimeout: ha.ForwardTimeout, Logger: c.cfg.Logger}
}

// close closes the namespace (waiting for queued persists) unless the demo keeps it.
func (c *cli) close() error {
	if c.fsys == nil || c.keepOpen {
		return nil
	}
	err := c.fsys.Close()
	c.fsys = nil
	return err
}
