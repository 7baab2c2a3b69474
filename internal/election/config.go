package election

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"
)

// Defaults, as Alluxio's alluxio.zookeeper.election.path, alluxio.zookeeper.leader.path
// and alluxio.zookeeper.session.timeout.
const (
	DefaultElectionPath   = "/alluxio/election"
	DefaultLeaderPath     = "/alluxio/leader"
	DefaultSessionTimeout = 60 * time.Second
)

// ErrInvalidConfig is the error of New and NewWatcher for a configuration they cannot use.
var ErrInvalidConfig = errors.New("election: invalid configuration")

// Config configures an Elector (a member) or a Watcher (a client or standby).
type Config struct {
	// Servers are the ZooKeeper servers, host:port each (alluxio.zookeeper.address split
	// at commas).
	Servers []string
	// ElectionPath is the parent of the candidates' nodes; created if absent.
	ElectionPath string
	// LeaderPath is where the leader publishes {address, epoch}; its parent is created if
	// absent.
	LeaderPath string
	// SessionTimeout is the ZooKeeper session timeout asked for (the server may bound it:
	// minSessionTimeout/maxSessionTimeout). It sets how fast a dead leader is replaced and
	// the leader's lease (see the package documentation).
	SessionTimeout time.Duration
	// Address is this member's advertised host:port, published when it leads. Elector only.
	Address string
	// OpTimeout bounds each ZooKeeper call the elector or watcher makes in the background
	// (default: SessionTimeout, at most 10 s). Calls of the caller are bounded by its ctx.
	OpTimeout time.Duration
	// Logger receives the package's logs; go-zookeeper's own lines go to it at debug
	// level. Default: slog.Default().
	Logger *slog.Logger
}

func (c Config) withDefaults(member bool) (Config, error) {
	if c.ElectionPath == "" {
		c.ElectionPath = DefaultElectionPath
	}
	if c.LeaderPath == "" {
		c.LeaderPath = DefaultLeaderPath
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = DefaultSessionTimeout
	}
	if c.OpTimeout == 0 {
		c.OpTimeout = min(c.SessionTimeout, 10*time.Second)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	bad := func(format string, args ...any) (Config, error) {
		return c, fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	if len(c.Servers) == 0 {
		return bad("no ZooKeeper servers")
	}
	for _, s := range c.Servers {
		if _, _, err := net.SplitHostPort(s); err != nil {
			return bad("ZooKeeper server %q: %v", s, err)
		}
	}
	if c.SessionTimeout < 0 || c.OpTimeout < 0 {
		return bad("negative timeout")
	}
	for _, p := range []string{c.ElectionPath, c.LeaderPath} {
		if err := validPath(p); err != nil {
			return bad("%v", err)
		}
	}
	if c.ElectionPath == c.LeaderPath || strings.HasPrefix(c.LeaderPath, c.ElectionPath+"/") ||
		strings.HasPrefix(c.ElectionPath, c.LeaderPath+"/") {
		return bad("ElectionPath %q and LeaderPath %q overlap", c.ElectionPath, c.LeaderPath)
	}
	if member {
		if _, _, err := net.SplitHostPort(c.Address); err != nil {
			return bad("member Address %q is not host:port: %v", c.Address, err)
		}
	}
	return c, nil
}

// validPath accepts absolute znode paths other than the root, without empty, "." or ".."
// elements.
func validPath(p string) error {
	if !strings.HasPrefix(p, "/") || p == "/" || strings.HasSuffix(p, "/") {
		return fmt.Errorf("znode path %q must be absolute, not the root, without a trailing slash", p)
	}
	for _, el := range strings.Split(p[1:], "/") {
		if el == "" || el == "." || el == ".." || strings.ContainsRune(el, 0) {
			return fmt.Errorf("znode path %q has an invalid element %q", p, el)
		}
	}
	return nil
}

// parent returns the parent of an absolute znode path ("/" for a top-level one).
func parent(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}
