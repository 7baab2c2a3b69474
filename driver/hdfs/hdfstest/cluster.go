// Package hdfstest runs a small HDFS cluster in process for tests: one NameNode and one
// DataNode speaking the real wire protocols to the real client
// (github.com/colinmarc/hdfs/v2): Hadoop IPC v9 with ClientProtocol for the namespace,
// DataTransferProtocol v28 (READ_BLOCK, WRITE_BLOCK, CRC32C per 512-byte chunk, pipeline
// acks) for the data.
//
// The NameNode is strict where a real one is: POSIX permissions against the user of the
// connection context (AccessControlException), leases checked on every write call,
// blocks committed and completed as BlockManager does (complete returns false until the
// DataNode has reported the last block; addBlock throws NotReplicatedYetException while
// an earlier block is pending), listings paged at Config.ListingLimit entries in
// signed-byte name order, block access tokens (HMAC) checked by the DataNode. The
// DataNode verifies every chunk checksum on write and serves the stored ones on read, so
// Cluster.CorruptBlock is caught by the client.
//
// Appends and leases (see lease.go): append reopens a partial last block for the
// client's PIPELINE_SETUP_APPEND (the go client keeps the block's generation stamp, as
// the DataNode allows); packets may start inside a checksum chunk after an hflush, and
// the DataNode recomputes that chunk's checksum; a packet with the sync flag is durable
// before its ack (Cluster.SyncedLength); fsync publishes the last block's length to
// readers; truncate cuts whole blocks at once and the last one by block recovery;
// recoverLease, isFileClosed, and leases with a soft limit (another client's append or
// create is refused with AlreadyBeingCreatedException, past it recovery starts:
// RecoveryInProgressException) and a hard limit (the NameNode recovers the lease).
// Recovery bumps the block's generation stamp, stops the writer's pipeline and closes
// the file, so the old writer's later calls fail.
//
// Not implemented: Kerberos/SASL, encrypted data transfer, snapshots, symlinks,
// replication pipelines of more than one DataNode, pipeline recovery
// (updatePipeline).
package hdfstest

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// Config tunes a Cluster. Zero fields take the defaults documented on each field.
type Config struct {
	// BlockSize is the server default block size (dfs.blocksize); default 64 KiB so that
	// small test files span several blocks. Must be a multiple of 512.
	BlockSize int64
	// MinBlockSize is dfs.namenode.fs-limits.min-block-size; default 0.
	MinBlockSize int64
	// Replication is the default replication the server advertises; default 1.
	Replication uint32
	// ListingLimit is the most entries one getListing call returns (dfs.ls.limit);
	// default 1000 as on a real cluster. Tests use a small one to exercise paging.
	ListingLimit int
	// LeaseSoftLimit is how long a writer's lease excludes other writers without
	// renewal: past it, another client's create, append or truncate of the file starts
	// lease recovery. Default 60s (HdfsConstants.LEASE_SOFTLIMIT_PERIOD). The client
	// renews every second, so a limit in tests must be longer than that.
	LeaseSoftLimit time.Duration
	// LeaseHardLimit is how long a writer's lease lives without renewal before the
	// NameNode recovers it on its own; default 1h.
	LeaseHardLimit time.Duration
	// BlockReportDelay delays the DataNode's report of each finalized block to the
	// NameNode: until it arrives, complete returns false. Default 0 (immediate).
	BlockReportDelay time.Duration
	// Superuser (default "hdfs") owns the root and bypasses permission checks, as do
	// members of Supergroup (default "supergroup").
	Superuser, Supergroup string
	// User is the user tests act as (Options); default "alice".
	User string
	// Groups maps users to groups; a user missing from it is in a group of its own name.
	Groups map[string][]string
}

func (c Config) withDefaults() Config {
	if c.BlockSize == 0 {
		c.BlockSize = 64 << 10
	}
	if c.Replication == 0 {
		c.Replication = 1
	}
	if c.ListingLimit == 0 {
		c.ListingLimit = 1000
	}
	if c.LeaseSoftLimit == 0 {
		c.LeaseSoftLimit = time.Minute
	}
	if c.LeaseHardLimit == 0 {
		c.LeaseHardLimit = time.Hour
	}
	if c.Superuser == "" {
		c.Superuser = "hdfs"
	}
	if c.Supergroup == "" {
		c.Supergroup = "supergroup"
	}
	if c.User == "" {
		c.User = "alice"
	}
	return c
}

// Cluster is a running NameNode and DataNode on loopback ports. It stops when the test
// ends.
type Cluster struct {
	cfg     Config
	nn      *namenode
	dn      *datanode
	rpc     *rpcServer
	standby []*rpcServer
}

// NewCluster starts a cluster configured by cfg and registers its shutdown with t.
func NewCluster(t testing.TB, cfg Config) *Cluster {
	t.Helper()
	cfg = cfg.withDefaults()
	if cfg.BlockSize%bytesPerChecksum != 0 {
		t.Fatalf("hdfstest: BlockSize %d is not a multiple of %d", cfg.BlockSize, bytesPerChecksum)
	}
	dln := listen(t)
	nln := listen(t)
	dn := newDatanode(dln, cfg.BlockReportDelay)
	nn := newNamenode(cfg, dn)
	dn.nn = nn
	dn.start()
	c := &Cluster{cfg: cfg, nn: nn, dn: dn}
	c.rpc = newRPCServer(nln, nn.methods(), nn.before)
	c.rpc.loseReply = nn.loseReply
	t.Cleanup(c.Close)
	return c
}

func listen(t testing.TB) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("hdfstest: %v", err)
	}
	return ln
}

// Close stops the servers. It is called automatically when the test ends.
func (c *Cluster) Close() {
	c.rpc.close()
	for _, s := range c.standby {
		s.close()
	}
	c.dn.close()
}

// Addr returns the active NameNode's "host:port".
func (c *Cluster) Addr() string { return c.rpc.ln.Addr().String() }

// User returns the user tests act as (Config.User).
func (c *Cluster) User() string { return c.cfg.User }

// Superuser returns the cluster's superuser.
func (c *Cluster) Superuser() string { return c.cfg.Superuser }

// Options returns mount options for the driver: the user to act as.
func (c *Cluster) Options() map[string]string {
	return map[string]string{"hdfs.user": c.cfg.User}
}

// URI creates the absolute directory dir (and its parents) owned by the test user and
// returns "hdfs://<namenode>/<dir>".
func (c *Cluster) URI(dir string) string {
	dir = "/" + strings.Trim(dir, "/")
	c.MkdirAll(dir, c.cfg.User, 0o755)
	return "hdfs://" + c.Addr() + dir
}

// AddStandby starts another NameNode endpoint in standby state: it answers every call
// with org.apache.hadoop.ipc.StandbyException, as the standby of an HA pair does. It
// returns its address.
func (c *Cluster) AddStandby(t testing.TB) string {
	t.Helper()
	standby := func(cl *call) error {
		return exception(exStandby, "Operation category %s is not supported in state standby", category(cl.method))
	}
	s := newRPCServer(listen(t), c.nn.methods(), standby)
	c.standby = append(c.standby, s)
	return s.ln.Addr().String()
}

// DeadAddr returns a loopback address nothing listens on (a NameNode that is down).
func DeadAddr(t testing.TB) string {
	t.Helper()
	ln := listen(t)
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// SetStandby switches the active NameNode into (true) or out of standby state.
func (c *Cluster) SetStandby(on bool) {
	c.nn.mu.Lock()
	c.nn.standby = on
	c.nn.mu.Unlock()
}

// DropConnections closes every client connection to the active NameNode.
func (c *Cluster) DropConnections() { c.rpc.dropConnections() }

// FailNext makes the next call of method (e.g. "getFileInfo") fail with the Java
// exception class (e.g. "org.apache.hadoop.hdfs.server.namenode.SafeModeException").
func (c *Cluster) FailNext(method, class, msg string) {
	c.nn.mu.Lock()
	defer c.nn.mu.Unlock()
	c.nn.failNext[method] = append(c.nn.failNext[method], &remoteError{class: class, msg: msg})
}

// LoseNextReply makes the NameNode execute the next call of method and close the
// connection instead of answering, as when a reply is lost on the network.
func (c *Cluster) LoseNextReply(method string) {
	c.nn.mu.Lock()
	defer c.nn.mu.Unlock()
	c.nn.loseNext[method]++
}

// DatanodeAddr returns the DataNode's "host:port".
func (c *Cluster) DatanodeAddr() string { return c.dn.ln.Addr().String() }

// AdvertiseDatanode makes block locations name addr ("host:port", a proxy in front of
// DatanodeAddr) as the DataNode's transfer address.
func (c *Cluster) AdvertiseDatanode(addr string) { c.dn.advertise.Store(&addr) }

// Calls returns how many times method has been called.
func (c *Cluster) Calls(method string) int {
	c.nn.mu.Lock()
	defer c.nn.mu.Unlock()
	return c.nn.callCounts[method]
}

// SetBlockReportDelay changes Config.BlockReportDelay.
func (c *Cluster) SetBlockReportDelay(d time.Duration) {
	c.dn.mu.Lock()
	c.dn.reportDelay = d
	c.dn.mu.Unlock()
}

// DropLeaseRenewals makes the NameNode ignore renewLease calls (as if they were lost),
// so leases expire after Config.LeaseHardLimit.
func (c *Cluster) DropLeaseRenewals(on bool) {
	c.nn.mu.Lock()
	c.nn.dropRenew = on
	c.nn.mu.Unlock()
}

// PauseBlockRecovery holds block recoveries (lease recovery, truncate) while on, as a
// DataNode that has not yet heartbeated for its recovery commands would; turning it off
// runs those queued.
func (c *Cluster) PauseBlockRecovery(on bool) {
	n := c.nn
	n.mu.Lock()
	n.recoveryPaused = on
	var tasks []recoveryTask
	if !on {
		tasks, n.pendingRecoveries = n.pendingRecoveries, nil
	}
	n.mu.Unlock()
	for _, t := range tasks {
		c.dn.recover(t)
	}
}

// SyncedLength returns how many bytes of the file at p the DataNode has made durable:
// those of packets sent with the sync flag (hsync), block by block up to the first
// block not synced to its end.
func (c *Cluster) SyncedLength(p string) (int64, error) {
	n := c.nn
	n.mu.Lock()
	ip, err := n.resolve(p)
	if err != nil {
		n.mu.Unlock()
		return 0, err
	}
	in := ip.last()
	if in == nil || in.dir {
		n.mu.Unlock()
		return 0, notFound(p)
	}
	ids := make([]uint64, len(in.blocks))
	for i, b := range in.blocks {
		ids[i] = b.id
	}
	n.mu.Unlock()
	var total int64
	for _, id := range ids {
		synced, size := c.dn.syncedLength(id)
		total += synced
		if synced < size {
			break
		}
	}
	return total, nil
}

// Holder returns the lease holder (client name) of the file at p, "" when it is closed.
func (c *Cluster) Holder(p string) (string, error) {
	n := c.nn
	n.mu.Lock()
	defer n.mu.Unlock()
	ip, err := n.resolve(p)
	if err != nil {
		return "", err
	}
	in := ip.last()
	if in == nil || in.dir {
		return "", notFound(p)
	}
	return in.holder, nil
}

// MkdirAll creates the absolute directory p and its missing parents as the superuser,
// then gives p to owner with mode perm.
func (c *Cluster) MkdirAll(p, owner string, perm uint32) {
	n := c.nn
	n.mu.Lock()
	defer n.mu.Unlock()
	ip, err := n.resolve(p)
	if err != nil || ip.fileAncestor() != "" {
		panic(fmt.Sprintf("hdfstest: MkdirAll(%q): %v", p, err))
	}
	cur := ip.nodes[len(ip.nodes)-1]
	for i := len(ip.nodes) - 1; i < len(ip.comps); i++ {
		cur = n.newInode(ip.comps[i], cur, true, 0o755, n.cfg.Superuser)
	}
	cur.owner, cur.perm = owner, perm
}

// Chmod sets the permission bits of the absolute path p.
func (c *Cluster) Chmod(p string, perm uint32) error {
	return c.modify(p, func(in *inode) { in.perm = perm & 0o7777 })
}

// Chown sets the owner and group of the absolute path p (empty leaves one unchanged).
func (c *Cluster) Chown(p, owner, group string) error {
	return c.modify(p, func(in *inode) {
		if owner != "" {
			in.owner = owner
		}
		if group != "" {
			in.group = group
		}
	})
}

func (c *Cluster) modify(p string, f func(*inode)) error {
	n := c.nn
	n.mu.Lock()
	defer n.mu.Unlock()
	ip, err := n.resolve(p)
	if err != nil {
		return err
	}
	in := ip.last()
	if in == nil {
		return notFound(p)
	}
	f(in)
	return nil
}

// OpenFiles returns the paths of the files under construction (with a lease holder).
func (c *Cluster) OpenFiles() []string {
	n := c.nn
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for _, in := range n.inodes {
		if !in.dir && in.holder != "" {
			out = append(out, in.path())
		}
	}
	return out
}

// Blocks returns the block count and the sizes of the blocks of the file at p.
func (c *Cluster) Blocks(p string) ([]int64, error) {
	n := c.nn
	n.mu.Lock()
	defer n.mu.Unlock()
	ip, err := n.resolve(p)
	if err != nil {
		return nil, err
	}
	in := ip.last()
	if in == nil || in.dir {
		return nil, notFound(p)
	}
	var out []int64
	for _, b := range in.blocks {
		out = append(out, int64(b.numBytes))
	}
	return out, nil
}

// CorruptBlock flips a bit of byte off of block index block of the file at p on the
// DataNode's storage; the stored checksum stays, so readers detect the corruption.
func (c *Cluster) CorruptBlock(p string, block int, off int) error {
	n := c.nn
	n.mu.Lock()
	ip, err := n.resolve(p)
	if err != nil {
		n.mu.Unlock()
		return err
	}
	in := ip.last()
	if in == nil || in.dir || block < 0 || block >= len(in.blocks) {
		n.mu.Unlock()
		return fmt.Errorf("hdfstest: %s has no block %d", p, block)
	}
	id := in.blocks[block].id
	n.mu.Unlock()
	return c.dn.corrupt(id, off)
}
