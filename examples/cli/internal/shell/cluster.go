package shell

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/unifiedfs/unifiedfs"
)

// cmdMaster runs one member of a highly available namespace in the foreground, as
// Alluxio's master process: its state (disk cache) under the state directory
// ($UNIFIEDFS_HOME), the journal and the root UFS from the properties. SIGTERM or SIGINT
// closes it cleanly, handing leadership over.
func cmdMaster(c *cli, debug bool) error {
	if err := c.loadConfig(); err != nil {
		return err
	}
	cfg := c.cfg
	if !cfg.HA.Enabled() {
		return usagef("master runs a member of a highly available namespace: set alluxio.zookeeper.enabled=true, alluxio.zookeeper.address, alluxio.master.journal.folder, alluxio.master.hostname and unifiedfs.cluster.secret (--conf FILE or -D)")
	}
	level := slog.LevelInfo
	if debug {
		level = slog.LevelDebug
	}
	cfg.Logger = slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(c.ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	fsys, err := unifiedfs.New(c.ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "unifiedfs master %s (pid %d): %s\n", cfg.HA.Address, os.Getpid(), fsys.Role().Role)
	<-ctx.Done()
	fmt.Fprintf(c.stdout, "unifiedfs master %s: shutting down\n", cfg.HA.Address)
	return fsys.Close()
}

// cmdLeader prints the leader's address, as Alluxio's "fs leader".
func cmdLeader(c *cli, _ []string) error {
	ri := c.fsys.Role()
	if ri.LeaderAddress == "" && ri.Role == unifiedfs.Leader {
		ri.LeaderAddress = ri.Address
	}
	if ri.Role == unifiedfs.Single {
		fmt.Fprintln(c.stdout, "(single process: no leader election)")
		return nil
	}
	if ri.LeaderAddress == "" {
		return fmt.Errorf("no leader is known: %w", unifiedfs.ErrNoLeader)
	}
	fmt.Fprintln(c.stdout, ri.LeaderAddress)
	return nil
}

// cmdMasterInfo prints the leader and the journal position, as Alluxio's "fs masterInfo".
func cmdMasterInfo(c *cli, _ []string) error {
	ri := c.fsys.Role()
	if ri.Role == unifiedfs.Single {
		fmt.Fprintln(c.stdout, "Current leader master: (single process)")
		return nil
	}
	leader := ri.LeaderAddress
	if leader == "" && ri.Role == unifiedfs.Leader {
		leader = ri.Address
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Current leader master: %s\n", leader)
	fmt.Fprintf(&b, "Leader epoch: %d\n", ri.Epoch)
	fmt.Fprintf(&b, "Journal sequence: %d\n", ri.JournalSeq)
	fmt.Fprint(c.stdout, b.String())
	return nil
}
