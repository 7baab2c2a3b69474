// Package alluxioconf reads Alluxio's configuration: a Java properties file such as
// conf/alluxio-site.properties (Load, Parse) and the alluxio.* keys it holds, turned into a
// unifiedfs.Config (unifiedfs.Config) and driver options for mounts (UFSOptions). It is how a user
// leaving an Alluxio cluster keeps their site properties; an embedding application that
// builds a unifiedfs.Config in Go does not need it.
package alluxioconf

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/unifiedfs/unifiedfs"
	"github.com/unifiedfs/unifiedfs/ufs"
)

// Property key prefixes understood by unifiedfs.Config.
const (
	// RootOptionPrefix prefixes the root mount's driver options, as Alluxio's
	// alluxio.master.mount.table.root.option.<key>.
	RootOptionPrefix = "alluxio.master.mount.table.root.option."
	// PathSyncIntervalPrefix prefixes a subtree's sync interval (unifiedfs.Config.PathSyncIntervals):
	// unifiedfs.path.sync.interval./data/hot=5min.
	PathSyncIntervalPrefix = "unifiedfs.path.sync.interval."
)

// Load reads a Java properties file such as Alluxio's conf/alluxio-site.properties:
// "key=value", "key: value" or "key value" lines, '#' and '!' comments, backslash line
// continuations and escapes (\t, \n, \uXXXX, ...). A key given twice keeps its last value.
// Errors are *fs.PathError values naming path (and the line, for a syntax error).
func Load(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	props, err := Parse(f)
	if err != nil {
		return nil, &fs.PathError{Op: "load properties", Path: path, Err: err}
	}
	return props, nil
}

// Parse parses Java properties text; see Load. Syntax errors wrap
// fs.ErrInvalid and name the line.
func Parse(r io.Reader) (map[string]string, error) {
	props := map[string]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		start := lineNo
		line := strings.TrimLeft(sc.Text(), " \t\f")
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		for continued(line) && sc.Scan() {
			lineNo++
			line = line[:len(line)-1] + strings.TrimLeft(sc.Text(), " \t\f")
		}
		if continued(line) { // a continuation at end of file
			line = line[:len(line)-1]
		}
		k, v := splitProperty(line)
		key, err := unescapeProperty(k)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", fs.ErrInvalid, start, err)
		}
		val, err := unescapeProperty(v)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: key %s: %v", fs.ErrInvalid, start, key, err)
		}
		props[key] = val
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return props, nil
}

// continued reports whether a line ends with an odd number of backslashes.
func continued(line string) bool {
	n := 0
	for i := len(line) - 1; i >= 0 && line[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// splitProperty splits a logical line at the first unescaped '=', ':' or whitespace.
func splitProperty(line string) (key, value string) {
	i := 0
	for i < len(line) {
		c := line[i]
		if c == '\\' {
			i += 2
			continue
		}
		if c == '=' || c == ':' || c == ' ' || c == '\t' || c == '\f' {
			break
		}
		i++
	}
	if i >= len(line) {
		return line, ""
	}
	key, rest := line[:i], line[i:]
	if rest[0] == '=' || rest[0] == ':' {
		return key, strings.TrimLeft(rest[1:], " \t\f")
	}
	rest = strings.TrimLeft(rest, " \t\f")
	if rest != "" && (rest[0] == '=' || rest[0] == ':') {
		rest = strings.TrimLeft(rest[1:], " \t\f")
	}
	return key, rest
}

// unescapeProperty resolves Java properties escapes.
func unescapeProperty(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			if i+5 > len(s) {
				return "", errors.New(`malformed \uXXXX escape`)
			}
			n, err := strconv.ParseUint(s[i+1:i+5], 16, 16)
			if err != nil {
				return "", errors.New(`malformed \uXXXX escape`)
			}
			b.WriteRune(rune(n))
			i += 4
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), nil
}

// unifiedfs.Config builds a unifiedfs.Config from Alluxio-style properties (Load's
// result, possibly with command-line overrides merged in). It understands:
//
//	alluxio.master.mount.table.root.ufs                 unifiedfs.Config.RootUFS
//	alluxio.master.mount.table.root.option.<key>        unifiedfs.Config.RootOptions[<key>]
//	alluxio.master.mount.table.root.readonly | .shared  RootReadOnly, RootShared
//	alluxio.user.file.metadata.sync.interval            SyncInterval: -1 (or any negative) SyncNever,
//	                                                    0 SyncAlways, else a duration (1m, 5min, 30sec, 60000)
//	alluxio.user.file.metadata.load.type                NEVER or ONCE: SyncNever, ALWAYS: SyncAlways;
//	                                                    ignored (with a warning) when the interval is set
//	alluxio.user.file.metadata.sync.limit               SyncLimit (-1 or 0: no limit)
//	alluxio.master.metadata.sync.traversal.order        SyncTraversal (BFS or DFS)
//	alluxio.user.file.writetype.default                 WriteType (MUST_CACHE, CACHE_THROUGH, THROUGH, ASYNC_THROUGH)
//	alluxio.user.file.readtype.default                  ReadType (NO_CACHE, CACHE, CACHE_PROMOTE)
//	alluxio.master.journal.folder                       JournalDir (a local path or file:// URI); with
//	                                                    ZooKeeper enabled, HA.Journal (file:// or hdfs://)
//	alluxio.zookeeper.enabled                           HA: true makes this process a member of a
//	                                                    highly available namespace
//	alluxio.zookeeper.address                           HA.ZooKeeper (host:port,host:port,...)
//	alluxio.zookeeper.election.path, .leader.path       HA.ElectionPath, HA.LeaderPath
//	alluxio.zookeeper.session.timeout                   HA.SessionTimeout (2s, 60sec, 1min, 60000)
//	alluxio.master.hostname, alluxio.master.rpc.port    HA.Address (host:port; port default 19998)
//	unifiedfs.cluster.secret, .secret.file              HA.Secret (required with ZooKeeper enabled)
//	unifiedfs.cluster.tls.cert, .tls.key, .tls.ca       HA.TLSCert, HA.TLSKey, HA.TLSCA
//	unifiedfs.cluster.forward.timeout                   HA.ForwardTimeout
//	alluxio.user.file.create.ttl, .create.ttl.action    CreateTTL (-1: none), CreateTTLAction (DELETE, FREE)
//	alluxio.master.ttl.checker.interval                 TTLCheckInterval
//	alluxio.master.ufs.active.sync.interval             ActiveSyncInterval
//	alluxio.master.ufs.active.sync.max.activities       ActiveSyncMaxActivities
//	alluxio.master.ufs.active.sync.max.age              ActiveSyncMaxAge
//	alluxio.user.block.size.bytes.default               BlockSize (64MB, 1GB, ...)
//	alluxio.worker.ramdisk.size, alluxio.worker.memory.size,
//	alluxio.worker.tieredstore.level0.dirs.quota        CacheCapacity
//	alluxio.worker.tieredstore.level1.dirs.path         CacheDir
//	alluxio.worker.tieredstore.level1.dirs.quota        CacheDiskCapacity
//
// and the unifiedfs.* keys of this library: unifiedfs.cache.dir, unifiedfs.cache.capacity,
// unifiedfs.cache.disk.capacity, unifiedfs.cache.block.size, unifiedfs.journal.dir,
// unifiedfs.persist.workers, unifiedfs.persist.retry.base, unifiedfs.close.timeout,
// unifiedfs.sync.concurrency and unifiedfs.path.sync.interval.<path> (PathSyncIntervals).
// A unifiedfs.* key wins over the Alluxio key for the same setting.
//
// Keys outside the alluxio.* and unifiedfs.* namespaces (fs.oss.endpoint, fs.kodo.accesskey,
// ...) and alluxio.underfs.* keys are driver options, as in Alluxio's site properties:
// they become defaults of RootOptions (a root.option.<key> wins) and UFSOptions
// returns them for other mounts. Every other alluxio.* or unifiedfs.* key yields a warning
// naming it. Invalid values are errors (joined, each wrapping fs.ErrInvalid) naming the key
// and what it expects; values of secret keys are never quoted. A cache directory without a
// quota gets DefaultCacheDiskCapacity.
func Config(props map[string]string) (unifiedfs.Config, []string, error) {
	p := &propParser{props: props}
	cfg := unifiedfs.Config{}
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	intervalSet := false
	for _, k := range keys {
		v := strings.TrimSpace(props[k])
		if v == "" {
			continue
		}
		switch {
		case isUFSOptionKey(k):
			if cfg.RootOptions == nil {
				cfg.RootOptions = map[string]string{}
			}
			if _, set := props[RootOptionPrefix+k]; !set {
				cfg.RootOptions[k] = v
			}
		case strings.HasPrefix(k, RootOptionPrefix):
			if cfg.RootOptions == nil {
				cfg.RootOptions = map[string]string{}
			}
			cfg.RootOptions[strings.TrimPrefix(k, RootOptionPrefix)] = v
		case strings.HasPrefix(k, PathSyncIntervalPrefix):
			path := strings.TrimPrefix(k, PathSyncIntervalPrefix)
			if _, err := ufs.CleanPath(path); err != nil || !strings.HasPrefix(path, "/") {
				p.fail(k, v, "want unifiedfs.path.sync.interval.</rooted/path>=<interval>")
				continue
			}
			if d, ok := p.interval(k, v); ok {
				if cfg.PathSyncIntervals == nil {
					cfg.PathSyncIntervals = map[string]time.Duration{}
				}
				cfg.PathSyncIntervals[path] = d
			}
		default:
			set, known := propSetters[k]
			if !known {
				p.warn("unknown property %s: ignored", k)
				continue
			}
			if k == "alluxio.user.file.metadata.sync.interval" {
				intervalSet = true
			}
			set(p, &cfg, k, v)
		}
	}
	if lt := strings.TrimSpace(props["alluxio.user.file.metadata.load.type"]); lt != "" {
		if intervalSet {
			p.warn("alluxio.user.file.metadata.load.type is ignored: alluxio.user.file.metadata.sync.interval is set")
		} else {
			switch strings.ToUpper(lt) {
			case "NEVER", "ONCE":
				cfg.SyncInterval = unifiedfs.SyncNever
			case "ALWAYS":
				cfg.SyncInterval = unifiedfs.SyncAlways
			default:
				p.fail("alluxio.user.file.metadata.load.type", lt, "want NEVER, ONCE or ALWAYS")
			}
		}
	}
	// unifiedfs.* keys win over the Alluxio keys for the same setting.
	for _, o := range propOverrides {
		if v := strings.TrimSpace(props[o.key]); v != "" {
			o.set(p, &cfg, o.key, v)
		}
	}
	if cfg.CacheDir != "" && cfg.CacheDiskCapacity == 0 {
		cfg.CacheDiskCapacity = unifiedfs.DefaultCacheDiskCapacity
	}
	p.haConfig(&cfg)
	return cfg, p.warnings, errors.Join(p.errs...)
}

// haKeys configure high availability (with alluxio.zookeeper.enabled).
var haKeys = []string{"alluxio.zookeeper.address", "alluxio.zookeeper.election.path", "alluxio.zookeeper.leader.path",
	"alluxio.zookeeper.session.timeout", "alluxio.master.hostname", "alluxio.master.rpc.port",
	"unifiedfs.cluster.secret", "unifiedfs.cluster.secret.file", "unifiedfs.cluster.tls.cert", "unifiedfs.cluster.tls.key",
	"unifiedfs.cluster.tls.ca", "unifiedfs.cluster.forward.timeout"}

// haConfig fills cfg.HA from the alluxio.zookeeper.* and alluxio.master.* keys when
// alluxio.zookeeper.enabled is true; the journal folder then names the shared journal.
func (p *propParser) haConfig(cfg *unifiedfs.Config) {
	get := func(k string) string { return strings.TrimSpace(p.props[k]) }
	enabled := false
	if on := get("alluxio.zookeeper.enabled"); on != "" {
		var ok bool
		if enabled, ok = p.bool("alluxio.zookeeper.enabled", on); !ok {
			return
		}
	}
	if !enabled {
		for _, k := range haKeys {
			if get(k) != "" {
				p.warn("%s is ignored: it configures high availability, and alluxio.zookeeper.enabled is not true", k)
			}
		}
		return
	}
	ha := unifiedfs.HAConfig{ElectionPath: get("alluxio.zookeeper.election.path"), LeaderPath: get("alluxio.zookeeper.leader.path")}
	for _, a := range strings.Split(get("alluxio.zookeeper.address"), ",") {
		if a = strings.TrimSpace(a); a != "" {
			ha.ZooKeeper = append(ha.ZooKeeper, a)
		}
	}
	if len(ha.ZooKeeper) == 0 {
		p.fail("alluxio.zookeeper.address", "", "want host:port[,host:port...] when alluxio.zookeeper.enabled is true")
	}
	if v := get("alluxio.zookeeper.session.timeout"); v != "" {
		if d, ok := p.duration("alluxio.zookeeper.session.timeout", v); ok {
			ha.SessionTimeout = d
		}
	}
	if j := get("unifiedfs.journal.dir"); j == "" {
		j = get("alluxio.master.journal.folder")
		if j == "" {
			p.fail("alluxio.master.journal.folder", "", "want the shared journal's URI (file:///shared/dir or hdfs://namenode:port/path) when alluxio.zookeeper.enabled is true")
		} else {
			if strings.HasPrefix(j, "/") {
				j = "file://" + j
			}
			ha.Journal = j
		}
	} else {
		p.fail("unifiedfs.journal.dir", j, "a local journal directory is for a single process: set alluxio.master.journal.folder to the shared journal instead")
	}
	cfg.JournalDir = ""
	// A member needs its advertised address (New says so); a client does not.
	if host, port := get("alluxio.master.hostname"), get("alluxio.master.rpc.port"); host != "" {
		if port == "" {
			port = "19998"
		} else if _, ok := p.int("alluxio.master.rpc.port", port, 1); !ok {
			return
		}
		ha.Address = net.JoinHostPort(host, port)
	}
	switch secret, file := get("unifiedfs.cluster.secret"), get("unifiedfs.cluster.secret.file"); {
	case secret != "":
		ha.Secret = []byte(secret)
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			p.fail("unifiedfs.cluster.secret.file", file, "want a readable file holding the cluster secret")
		}
		ha.Secret = []byte(strings.TrimSpace(string(b)))
	default:
		p.fail("unifiedfs.cluster.secret", "", "want the cluster's shared secret (or unifiedfs.cluster.secret.file) when alluxio.zookeeper.enabled is true")
	}
	ha.TLSCert, ha.TLSKey, ha.TLSCA = get("unifiedfs.cluster.tls.cert"), get("unifiedfs.cluster.tls.key"), get("unifiedfs.cluster.tls.ca")
	if v := get("unifiedfs.cluster.forward.timeout"); v != "" {
		if d, ok := p.duration("unifiedfs.cluster.forward.timeout", v); ok {
			ha.ForwardTimeout = d
		}
	}
	cfg.HA = ha
}

// UFSOptions returns the driver options set globally in props: keys outside
// the alluxio.* and unifiedfs.* namespaces (fs.oss.endpoint, fs.kodo.accesskey, ...) and
// alluxio.underfs.* keys. Alluxio applies them to every mount; a mount's own options win.
func UFSOptions(props map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range props {
		if v = strings.TrimSpace(v); v != "" && isUFSOptionKey(k) {
			out[k] = v
		}
	}
	return out
}

func isUFSOptionKey(k string) bool {
	return strings.HasPrefix(k, "alluxio.underfs.") ||
		!strings.HasPrefix(k, "alluxio.") && !strings.HasPrefix(k, "unifiedfs.")
}

// propParser collects warnings and errors while a unifiedfs.Config is built.
type propParser struct {
	props    map[string]string
	warnings []string
	errs     []error
}

func (p *propParser) warn(format string, a ...any) {
	p.warnings = append(p.warnings, fmt.Sprintf(format, a...))
}

// fail records an invalid value; a secret key's value is not quoted.
func (p *propParser) fail(key, value, want string) {
	shown := strconv.Quote(value)
	if ufs.IsSecretKey(key) {
		shown = ufs.Redacted
	}
	p.errs = append(p.errs, fmt.Errorf("%w: property %s=%s: %s", fs.ErrInvalid, key, shown, want))
}

// interval parses an Alluxio sync interval: negative means SyncNever, 0 SyncAlways.
func (p *propParser) interval(key, v string) (time.Duration, bool) {
	d, err := ufs.ParseDuration(v)
	if err != nil {
		p.fail(key, v, "want -1 (never), 0 (always) or a duration such as 30sec, 1m, 5min")
		return 0, false
	}
	switch {
	case d < 0:
		return unifiedfs.SyncNever, true
	case d == 0:
		return unifiedfs.SyncAlways, true
	}
	return d, true
}

func (p *propParser) duration(key, v string) (time.Duration, bool) {
	d, err := ufs.ParseDuration(v)
	if err != nil || d < 0 {
		p.fail(key, v, "want a duration such as 100ms, 30sec, 1m, 5min")
		return 0, false
	}
	return d, true
}

func (p *propParser) size(key, v string) (int64, bool) {
	n, err := ufs.ParseSize(v)
	if err != nil {
		p.fail(key, v, "want a size such as 1048576, 64KB, 8MB, 1GB")
		return 0, false
	}
	return n, true
}

func (p *propParser) int(key, v string, min int) (int, bool) {
	n, err := strconv.Atoi(v)
	if err != nil || n < min {
		p.fail(key, v, fmt.Sprintf("want an integer >= %d", min))
		return 0, false
	}
	return n, true
}

func (p *propParser) bool(key, v string) (bool, bool) {
	b, err := strconv.ParseBool(v)
	if err != nil {
		p.fail(key, v, "want true or false")
		return false, false
	}
	return b, true
}

// localDir accepts an absolute local path or a file:// URI.
func (p *propParser) localDir(key, v string) (string, bool) {
	u, err := ufs.ParseURI(v)
	if err != nil || u.Scheme != "file" || u.Authority != "" && u.Authority != "localhost" {
		p.fail(key, v, "want an absolute local directory or a file:/// URI")
		return "", false
	}
	return filepath.FromSlash(ufs.Rooted(u.Path)), true
}

type propSetter func(p *propParser, cfg *unifiedfs.Config, key, v string)

func setSize(field func(*unifiedfs.Config) *int64) propSetter {
	return func(p *propParser, cfg *unifiedfs.Config, key, v string) {
		if n, ok := p.size(key, v); ok {
			*field(cfg) = n
		}
	}
}

func setDuration(field func(*unifiedfs.Config) *time.Duration) propSetter {
	return func(p *propParser, cfg *unifiedfs.Config, key, v string) {
		if d, ok := p.duration(key, v); ok {
			*field(cfg) = d
		}
	}
}

func setInt(field func(*unifiedfs.Config) *int, min int) propSetter {
	return func(p *propParser, cfg *unifiedfs.Config, key, v string) {
		if n, ok := p.int(key, v, min); ok {
			*field(cfg) = n
		}
	}
}

func setDir(field func(*unifiedfs.Config) *string) propSetter {
	return func(p *propParser, cfg *unifiedfs.Config, key, v string) {
		if d, ok := p.localDir(key, v); ok {
			*field(cfg) = d
		}
	}
}

func ignore(*propParser, *unifiedfs.Config, string, string) {}

var (
	cacheCapacity     = func(c *unifiedfs.Config) *int64 { return &c.CacheCapacity }
	cacheDiskCapacity = func(c *unifiedfs.Config) *int64 { return &c.CacheDiskCapacity }
	blockSize         = func(c *unifiedfs.Config) *int64 { return &c.BlockSize }
	cacheDir          = func(c *unifiedfs.Config) *string { return &c.CacheDir }
	journalDir        = func(c *unifiedfs.Config) *string { return &c.JournalDir }
)

// propSetters handle the keys with one fixed name. unifiedfs.* keys that override an
// Alluxio key are applied after all others (propOverrides), so they are ignored here.
var propSetters = map[string]propSetter{
	"alluxio.master.mount.table.root.ufs": func(p *propParser, cfg *unifiedfs.Config, key, v string) {
		if _, err := ufs.ParseURI(v); err != nil {
			p.fail(key, v, `want a UFS URI such as "hdfs://namenode:8020/data" or "file:///var/data"`)
			return
		}
		cfg.RootUFS = v
	},
	"alluxio.master.mount.table.root.readonly": func(p *propParser, cfg *unifiedfs.Config, key, v string) {
		cfg.RootReadOnly, _ = p.bool(key, v)
	},
	"alluxio.master.mount.table.root.shared": func(p *propParser, cfg *unifiedfs.Config, key, v string) {
		cfg.RootShared, _ = p.bool(key, v)
	},
	"alluxio.user.file.metadata.sync.interval": func(p *propParser, cfg *unifiedfs.Config, key, v string) {
		if d, ok := p.interval(key, v); ok {
			cfg.SyncInterval = d
		}
	},
	"alluxio.user.file.metadata.load.type": ignore, // resolved after the interval
	"alluxio.user.file.metadata.sync.limit": func(p *propParser, cfg *unifiedfs.Config, key, v string) {
		if n, ok := p.int(key, v, -1); ok {
			if n == 0 {
				n = -1 // a written 0 means no limit, not unifiedfs.Config's "zero means the default"
			}
			cfg.SyncLimit = n
		}
	},
	"alluxio.master.metadata.sync.traversal.order": func(p *propParser, cfg *unifiedfs.Config, key, v string) {
		switch strings.ToUpper(v) {
		case "BFS":
			cfg.SyncTraversal = unifiedfs.BFS
		case "DFS":
			cfg.SyncTraversal = unifiedfs.DFS
		default:
			p.fail(key, v, "want BFS or DFS")
		}
	},
	"alluxio.user.file.writetype.default": func(p *propParser, cfg *unifiedfs.Config, key, v string) {
		w, err := unifiedfs.ParseWriteType(v)
		if err != nil {
			p.fail(key, v, "want MUST_CACHE, CACHE_THROUGH, THROUGH or ASYNC_THROUGH")
			return
		}
		cfg.WriteType = w
	},
	"alluxio.user.file.readtype.default": func(p *propParser, cfg *unifiedfs.Config, key, v string) {
		r, err := unifiedfs.ParseReadType(v)
		if err != nil {
			p.fail(key, v, "want NO_CACHE, CACHE or CACHE_PROMOTE")
			return
		}
		cfg.ReadType = r
	},
	"alluxio.master.journal.folder": func(p *propParser, cfg *unifiedfs.Config, key, v string) {
		if on, _ := strconv.ParseBool(strings.TrimSpace(p.props["alluxio.zookeeper.enabled"])); on {
			return // the shared journal's URI: see haConfig
		}
		setDir(journalDir)(p, cfg, key, v)
	},
	"alluxio.user.file.create.ttl": func(p *propParser, cfg *unifiedfs.Config, key, v string) {
		if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil && n < 0 {
			cfg.CreateTTL = 0 // Alluxio's -1: no TTL
			return
		}
		setDuration(func(c *unifiedfs.Config) *time.Duration { return &c.CreateTTL })(p, cfg, key, v)
	},
	"alluxio.user.file.create.ttl.action": func(p *propParser, cfg *unifiedfs.Config, key, v string) {
		a, err := unifiedfs.ParseTTLAction(strings.TrimSpace(v))
		if err != nil {
			p.fail(key, v, "want DELETE or FREE")
			return
		}
		cfg.CreateTTLAction = a
	},
	"alluxio.master.ttl.checker.interval":           setDuration(func(c *unifiedfs.Config) *time.Duration { return &c.TTLCheckInterval }),
	"alluxio.master.ufs.active.sync.interval":       setDuration(func(c *unifiedfs.Config) *time.Duration { return &c.ActiveSyncInterval }),
	"alluxio.master.ufs.active.sync.max.activities": setInt(func(c *unifiedfs.Config) *int { return &c.ActiveSyncMaxActivities }, 1),
	"alluxio.master.ufs.active.sync.max.age":        setInt(func(c *unifiedfs.Config) *int { return &c.ActiveSyncMaxAge }, 1),
	"alluxio.user.block.size.bytes.default":         setSize(blockSize),
	"alluxio.worker.ramdisk.size":                   setSize(cacheCapacity),
	"alluxio.worker.memory.size":                    setSize(cacheCapacity),
	"alluxio.worker.tieredstore.level0.dirs.quota":  setSize(cacheCapacity),
	"alluxio.worker.tieredstore.level1.dirs.path":   setDir(cacheDir),
	"alluxio.worker.tieredstore.level1.dirs.quota":  setSize(cacheDiskCapacity),

	"alluxio.zookeeper.enabled":         ignore, // the HA keys: see haConfig
	"alluxio.zookeeper.address":         ignore,
	"alluxio.zookeeper.election.path":   ignore,
	"alluxio.zookeeper.leader.path":     ignore,
	"alluxio.zookeeper.session.timeout": ignore,
	"alluxio.master.hostname":           ignore,
	"alluxio.master.rpc.port":           ignore,
	"alluxio.master.web.port":           ignore, // the member's web view (unifiedfs master)
	"unifiedfs.cluster.secret":          ignore,
	"unifiedfs.cluster.secret.file":     ignore,
	"unifiedfs.cluster.tls.cert":        ignore,
	"unifiedfs.cluster.tls.key":         ignore,
	"unifiedfs.cluster.tls.ca":          ignore,
	"unifiedfs.cluster.forward.timeout": ignore,

	"unifiedfs.cache.dir":           ignore,
	"unifiedfs.cache.capacity":      ignore,
	"unifiedfs.cache.disk.capacity": ignore,
	"unifiedfs.cache.block.size":    ignore,
	"unifiedfs.journal.dir":         ignore,
	"unifiedfs.persist.workers":     setInt(func(c *unifiedfs.Config) *int { return &c.PersistWorkers }, 1),
	"unifiedfs.persist.retry.base":  setDuration(func(c *unifiedfs.Config) *time.Duration { return &c.PersistRetryBase }),
	"unifiedfs.close.timeout":       setDuration(func(c *unifiedfs.Config) *time.Duration { return &c.CloseTimeout }),
	"unifiedfs.sync.concurrency":    setInt(func(c *unifiedfs.Config) *int { return &c.SyncConcurrency }, 1),
}

var propOverrides = []struct {
	key string
	set propSetter
}{
	{"unifiedfs.cache.dir", setDir(cacheDir)},
	{"unifiedfs.cache.capacity", setSize(cacheCapacity)},
	{"unifiedfs.cache.disk.capacity", setSize(cacheDiskCapacity)},
	{"unifiedfs.cache.block.size", setSize(blockSize)},
	{"unifiedfs.journal.dir", setDir(journalDir)},
}
