package hdfstest

import (
	"strings"
	"sync"
	"time"
)

// namenode holds the namespace, the blocks and the leases; it serves ClientProtocol.
type namenode struct {
	cfg    Config
	poolID string
	key    tokenKey
	dn     *datanode

	mu        sync.Mutex
	root      *inode
	inodes    map[uint64]*inode
	blocks    map[uint64]*blockInfo
	leases    map[string]time.Time // client name -> last renewal
	nextInode uint64
	nextBlock uint64
	nextGS    uint64

	// Block recoveries wait here while paused (Cluster.PauseBlockRecovery).
	recoveryPaused    bool
	pendingRecoveries []recoveryTask

	// Fault injection and observation.
	standby    bool
	dropRenew  bool
	failNext   map[string][]*remoteError
	loseNext   map[string]int // replies to lose, by method
	callCounts map[string]int
}

func newNamenode(cfg Config, dn *datanode) *namenode {
	n := &namenode{cfg: cfg, poolID: "BP-1-127.0.0.1-1", key: tokenKey("hdfstest block key"), dn: dn,
		inodes: map[uint64]*inode{}, blocks: map[uint64]*blockInfo{}, leases: map[string]time.Time{},
		nextInode: 16384, nextBlock: 1073741824, nextGS: 1000,
		failNext: map[string][]*remoteError{}, loseNext: map[string]int{}, callCounts: map[string]int{}}
	n.root = n.newInode("", nil, true, 0o755, cfg.Superuser)
	return n
}

// locked adapts a handler of requests of type R: it parses the call's request and runs h
// with n.mu held.
func locked[R any](n *namenode, h func(c *call, req *R) (any, error)) handler {
	return func(c *call) (any, error) {
		var req R
		if err := c.parse(&req); err != nil {
			return nil, err
		}
		n.mu.Lock()
		defer n.mu.Unlock()
		return h(c, &req)
	}
}

func (n *namenode) methods() map[string]method {
	m := func(name string, h handler) method {
		up := strings.ToUpper(name[:1]) + name[1:]
		return method{reqName: "hadoop.hdfs." + up + "RequestProto", respName: "hadoop.hdfs." + up + "ResponseProto", h: h}
	}
	return map[string]method{
		"getFileInfo":            m("getFileInfo", locked(n, n.getFileInfo)),
		"getListing":             m("getListing", locked(n, n.getListing)),
		"mkdirs":                 m("mkdirs", locked(n, n.mkdirs)),
		"create":                 m("create", locked(n, n.create)),
		"addBlock":               m("addBlock", locked(n, n.addBlock)),
		"updateBlockForPipeline": m("updateBlockForPipeline", locked(n, n.updateBlockForPipeline)),
		"complete":               m("complete", locked(n, n.complete)),
		"getBlockLocations":      m("getBlockLocations", locked(n, n.getBlockLocations)),
		"getServerDefaults":      m("getServerDefaults", n.getServerDefaults),
		"rename2":                m("rename2", locked(n, n.rename2)),
		"delete":                 m("delete", locked(n, n.delete)),
		"renewLease":             m("renewLease", locked(n, n.renewLease)),
		"setPermission":          m("setPermission", locked(n, n.setPermission)),
		"setOwner":               m("setOwner", locked(n, n.setOwner)),
		"append":                 m("append", locked(n, n.appendFile)),
		"fsync":                  m("fsync", locked(n, n.fsync)),
		"truncate":               m("truncate", locked(n, n.truncate)),
		"recoverLease":           m("recoverLease", locked(n, n.recoverLease)),
		"isFileClosed":           m("isFileClosed", locked(n, n.isFileClosed)),
	}
}

// before runs ahead of every call: it counts calls, answers StandbyException in standby
// state and fires injected failures.
func (n *namenode) before(c *call) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.callCounts[c.method]++
	if n.standby {
		return exception(exStandby, "Operation category %s is not supported in state standby", category(c.method))
	}
	if q := n.failNext[c.method]; len(q) > 0 {
		n.failNext[c.method] = q[1:]
		return q[0]
	}
	n.expireLeases()
	return nil
}

// loseReply reports whether the reply to this call of method is to be lost.
func (n *namenode) loseReply(method string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.loseNext[method] > 0 {
		n.loseNext[method]--
		return true
	}
	return false
}

func category(method string) string {
	switch method {
	case "getFileInfo", "getListing", "getBlockLocations", "getServerDefaults", "isFileClosed":
		return "READ"
	}
	return "WRITE"
}

func (n *namenode) getFileInfo(c *call, req *srcReq) (any, error) {
	p, err := n.resolve(req.Src)
	if err != nil {
		return nil, err
	}
	if p.fileAncestor() != "" {
		// FSDirStatAndListingOp.getFileInfo: a path below a file does not exist.
		return fileStatusResp{}, nil
	}
	if err := n.traverse(c.user, p); err != nil {
		return nil, err
	}
	in := p.last()
	if in == nil {
		return fileStatusResp{}, nil
	}
	st := n.status(in, "") // getFileInfo answers with an empty local name
	return fileStatusResp{FS: &st}, nil
}

func (n *namenode) getListing(c *call, req *getListingReq) (any, error) {
	p, err := n.resolve(req.Src)
	if err != nil {
		return nil, err
	}
	if p.fileAncestor() != "" {
		return getListingResp{}, nil
	}
	if err := n.traverse(c.user, p); err != nil {
		return nil, err
	}
	in := p.last()
	if in == nil {
		return getListingResp{}, nil
	}
	if !in.dir {
		return getListingResp{DirList: &directoryListing{PartialListing: []fileStatus{n.status(in, "")}}}, nil
	}
	if err := n.access(c.user, in, permRead|permExec); err != nil {
		return nil, err
	}
	kids := in.sortedChildren()
	start := 0
	for start < len(kids) && compareJavaBytes(kids[start].name, string(req.StartAfter)) <= 0 {
		start++
	}
	end := min(len(kids), start+n.cfg.ListingLimit)
	list := &directoryListing{PartialListing: []fileStatus{}, RemainingEntries: uint32(len(kids) - end)}
	for _, k := range kids[start:end] {
		list.PartialListing = append(list.PartialListing, n.status(k, k.name))
	}
	return getListingResp{DirList: list}, nil
}

func (n *namenode) mkdirs(c *call, req *mkdirsReq) (any, error) {
	p, err := n.lookup(c.user, req.Src)
	if err != nil {
		return nil, err
	}
	if in := p.last(); in != nil {
		if !in.dir {
			return nil, exception(exFileExists, "Path is not a directory: %s", req.Src)
		}
		return resultResp{Result: true}, nil
	}
	if err := checkComponents(p); err != nil {
		return nil, err
	}
	if !req.CreateParent && p.parent() == nil {
		return nil, exception(exFileNotFound, "Parent directory doesn't exist: %s", parentPath(req.Src))
	}
	anc := p.nodes[len(p.nodes)-1]
	if err := n.access(c.user, anc, permWrite|permExec); err != nil {
		return nil, err
	}
	cur := anc
	for i := len(p.nodes) - 1; i < len(p.comps); i++ {
		perm := req.Masked.Perm
		if i < len(p.comps)-1 {
			perm |= 0o300 // implicit u+wx on created parents
		}
		cur = n.newInode(p.comps[i], cur, true, perm, c.user)
	}
	return resultResp{Result: true}, nil
}

func parentPath(src string) string {
	src = strings.TrimSuffix(src, "/")
	i := strings.LastIndexByte(src, '/')
	if i <= 0 {
		return "/"
	}
	return src[:i]
}

const (
	createFlagCreate    = 1
	createFlagOverwrite = 2
	createFlagAppend    = 4
)

func (n *namenode) create(c *call, req *createReq) (any, error) {
	p, err := n.resolve(req.Src)
	if err != nil {
		return nil, err
	}
	if len(p.comps) == 0 {
		return nil, exception(exFileExists, "/ already exists as a directory")
	}
	if err := n.traverse(c.user, p); err != nil {
		return nil, err
	}
	if err := checkComponents(p); err != nil {
		return nil, err
	}
	if req.CreateFlag&(createFlagCreate|createFlagOverwrite|createFlagAppend) == 0 {
		return nil, exception(exIllegalArgument, "CreateFlag must contain CREATE, OVERWRITE or APPEND")
	}
	if req.BlockSize < uint64(n.cfg.MinBlockSize) {
		return nil, exception(exIO, "Specified block size is less than configured minimum value (dfs.namenode.fs-limits.min-block-size): %d < %d",
			req.BlockSize, n.cfg.MinBlockSize)
	}
	if req.BlockSize%uint64(bytesPerChecksum) != 0 {
		return nil, exception(exIO, "Block size %d is not a multiple of bytes per checksum %d", req.BlockSize, bytesPerChecksum)
	}
	if req.Replication < 1 || req.Replication > 512 {
		return nil, exception(exIO, "Requested replication factor of %d is out of the range [1, 512]", req.Replication)
	}
	if old := p.last(); old != nil {
		if old.dir {
			return nil, exception(exFileExists, "%s already exists as a directory", req.Src)
		}
		if _, err := n.recoverLeaseInternal("CREATE_FILE", req.Src, old, req.ClientName, false); err != nil {
			return nil, err
		}
		if req.CreateFlag&createFlagOverwrite == 0 {
			return nil, exception(exFileExists, "%s for client %s already exists", req.Src, req.ClientName)
		}
	}
	parent := p.parent()
	if parent == nil && !req.CreateParent {
		return nil, exception(exFileNotFound, "Parent directory doesn't exist: %s", parentPath(req.Src))
	}
	anc := p.nodes[min(len(p.nodes), len(p.comps))-1]
	if err := n.access(c.user, anc, permWrite|permExec); err != nil {
		return nil, err
	}
	if parent == nil { // createParent: make the missing directories, u+wx as mkdirs does
		parent = anc
		for i := len(p.nodes) - 1; i < len(p.comps)-1; i++ {
			parent = n.newInode(p.comps[i], parent, true, req.Masked.Perm|0o300, c.user)
		}
	}
	if old := p.last(); old != nil {
		n.unlink(old)
	}
	f := n.newInode(p.comps[len(p.comps)-1], parent, false, req.Masked.Perm, c.user)
	f.blockSize, f.replication, f.holder = req.BlockSize, req.Replication, req.ClientName
	n.leases[req.ClientName] = time.Now()
	st := n.status(f, "")
	return fileStatusResp{FS: &st}, nil
}

// fileUnderConstruction finds the file a write call names (by id when given, as the
// NameNode does) and checks that client holds its lease.
func (n *namenode) fileUnderConstruction(src string, fileID uint64, client string) (*inode, error) {
	var f *inode
	if fileID != 0 {
		f = n.inodes[fileID]
	} else if p, err := n.resolve(src); err == nil {
		f = p.last()
	}
	if f == nil || f.dir {
		return nil, exception(exFileNotFound, "File does not exist: %s (inode %d) Holder %s does not have any open files.", src, fileID, client)
	}
	if f.holder == "" {
		return nil, exception(exLeaseExpired, "No lease on %s: File is not open for writing. Holder %s does not have any open files.",
			describe(f), client)
	}
	if f.holder != client {
		return nil, exception(exLeaseExpired, "Lease mismatch on %s owned by %s but is accessed by %s", describe(f), f.holder, client)
	}
	return f, nil
}

func (n *namenode) addBlock(c *call, req *addBlockReq) (any, error) {
	f, err := n.fileUnderConstruction(req.Src, req.FileID, req.ClientName)
	if err != nil {
		return nil, err
	}
	var last *blockInfo
	if len(f.blocks) > 0 {
		last = f.blocks[len(f.blocks)-1]
	}
	// The first block of an append that starts at a block boundary has no previous
	// block: the file's last block is then full and complete (FSDirWriteFileOp case 1).
	appendsAtBoundary := req.Previous == nil && last != nil && last.numBytes >= f.blockSize && last.state == blockComplete
	switch {
	case appendsAtBoundary:
	case last == nil && req.Previous != nil, last != nil && (req.Previous == nil || req.Previous.BlockID != last.id):
		return nil, exception(exIO, "Cannot allocate block in %s: passed 'previous' block %v does not match actual last block in file: %v",
			req.Src, req.Previous, last)
	case last != nil:
		if err := n.commit(last, req.Previous); err != nil {
			return nil, err
		}
	}
	// checkFileProgress: every block but the last must be complete.
	if k := len(f.blocks); k >= 2 && f.blocks[k-2].state != blockComplete {
		return nil, exception(exNotReplicatedYet, "Not replicated yet: %s", req.Src)
	}
	n.nextBlock++
	n.nextGS++
	b := &blockInfo{id: n.nextBlock, gs: n.nextGS, reported: -1, file: f}
	offset := f.length()
	f.blocks = append(f.blocks, b)
	n.blocks[b.id] = b
	return blockResp{Block: n.located(b, offset, c.user, "W", true)}, nil
}

func (n *namenode) located(b *blockInfo, offset uint64, user, modes string, withLocs bool) locatedBlock {
	lb := locatedBlock{
		B:          extendedBlock{PoolID: n.poolID, BlockID: b.id, GenerationStamp: b.gs, NumBytes: b.numBytes},
		Offset:     offset,
		BlockToken: n.key.issue(blockToken{expiry: time.Now().Add(10 * time.Hour).UnixMilli(), user: user, poolID: n.poolID, blockID: b.id, modes: modes}),
	}
	if withLocs {
		lb.Locs = []datanodeInfo{n.dn.info()}
		lb.StorageTypes = []string{"DISK"}
		lb.StorageIDs = []string{n.dn.storageID}
	}
	return lb
}

func (n *namenode) updateBlockForPipeline(c *call, req *updateBlockReq) (any, error) {
	b := n.blocks[req.Block.BlockID]
	switch {
	case b == nil:
		return nil, exception(exIO, "blk_%d does not exist.", req.Block.BlockID)
	case b.state != blockUnderConstruction:
		return nil, exception(exIO, "blk_%d does not exist or is not under Construction", b.id)
	case b.file.holder == "":
		return nil, exception(exIO, "The file %s belonged to does not exist or it is not under construction.", describe(b.file))
	case b.file.holder != req.ClientName:
		return nil, exception(exLeaseExpired, "Lease mismatch on blk_%d used by %s but is accessed by %s", b.id, b.file.holder, req.ClientName)
	}
	n.nextGS++
	lb := n.located(b, 0, c.user, "W", false)
	lb.B.GenerationStamp = n.nextGS
	lb.B.NumBytes = req.Block.NumBytes
	return blockResp{Block: lb}, nil
}

func (n *namenode) complete(c *call, req *completeReq) (any, error) {
	f, err := n.fileUnderConstruction(req.Src, req.FileID, req.ClientName)
	if err != nil {
		return nil, err
	}
	if req.Last != nil {
		if len(f.blocks) == 0 || f.blocks[len(f.blocks)-1].id != req.Last.BlockID {
			return nil, exception(exIO, "complete %s: last block blk_%d is not the file's last block", req.Src, req.Last.BlockID)
		}
		if err := n.commit(f.blocks[len(f.blocks)-1], req.Last); err != nil {
			return nil, err
		}
	}
	for _, b := range f.blocks {
		if b.state != blockComplete {
			return resultResp{Result: false}, nil // the client retries while the block replicates
		}
	}
	n.finalizeFile(f)
	return resultResp{Result: true}, nil
}

func (n *namenode) getBlockLocations(c *call, req *getBlockLocationsReq) (any, error) {
	p, err := n.lookup(c.user, req.Src)
	if err != nil {
		return nil, err
	}
	f := p.last()
	if f == nil {
		return nil, notFound(req.Src)
	}
	if f.dir {
		return nil, exception(exFileNotFound, "Path is not a file: %s", req.Src)
	}
	if err := n.access(c.user, f, permRead); err != nil {
		return nil, err
	}
	size := f.length()
	if req.Offset > size {
		return nil, exception(exIO, "offset %d is past the end of %s (%d bytes)", req.Offset, req.Src, size)
	}
	// As FSDirStatAndListingOp: the file length excludes a last block under
	// construction, whose length (as far as hflush published it) is the block's own; the
	// block itself is listed, and again as lastBlock.
	lbs := &locatedBlocks{FileLength: size, Blocks: []locatedBlock{}, UnderConstruction: f.holder != "", IsLastBlockComplete: true}
	var off uint64
	for i, b := range f.blocks {
		end := off + b.numBytes
		if end > req.Offset && off < req.Offset+req.Length {
			lbs.Blocks = append(lbs.Blocks, n.located(b, off, c.user, "R", true))
		}
		if i == len(f.blocks)-1 {
			last := n.located(b, off, c.user, "R", true)
			lbs.LastBlock = &last
			lbs.IsLastBlockComplete = b.state == blockComplete
			if f.holder != "" && !lbs.IsLastBlockComplete {
				lbs.FileLength = off
			}
		}
		off = end
	}
	f.atime = n.now()
	return getBlockLocationsResp{Locations: lbs}, nil
}

func (n *namenode) getServerDefaults(c *call) (any, error) {
	return getServerDefaultsResp{ServerDefaults: serverDefaults{
		BlockSize: uint64(n.cfg.BlockSize), BytesPerChecksum: bytesPerChecksum, WritePacketSize: 64 << 10,
		Replication: n.cfg.Replication, FileBufferSize: 4096, ChecksumType: "CHECKSUM_CRC32C",
	}}, nil
}

func (n *namenode) rename2(c *call, req *rename2Req) (any, error) {
	sp, err := n.resolve(req.Src)
	if err != nil {
		return nil, err
	}
	dp, err := n.resolve(req.Dst)
	if err != nil {
		return nil, err
	}
	if err := n.traverse(c.user, sp); err != nil {
		return nil, err
	}
	if err := n.traverse(c.user, dp); err != nil {
		return nil, err
	}
	if err := checkComponents(dp); err != nil {
		return nil, err
	}
	src, dst := strings.TrimSuffix(req.Src, "/"), strings.TrimSuffix(req.Dst, "/")
	switch {
	case len(sp.comps) == 0:
		return nil, exception(exIO, "rename source cannot be the root")
	case len(dp.comps) == 0:
		return nil, exception(exIO, "rename destination cannot be the root")
	case src == dst:
		return nil, exception(exFileExists, "The source %s and destination %s are the same", src, dst)
	case strings.HasPrefix(dst, src+"/"):
		return nil, exception(exIO, "Rename destination %s is a directory or file under source %s", dst, src)
	}
	s := sp.last()
	if s == nil {
		return nil, exception(exFileNotFound, "rename source %s is not found.", src)
	}
	if err := n.access(c.user, s.parent, permWrite|permExec); err != nil {
		return nil, err
	}
	dparent := dp.parent()
	if dparent == nil {
		return nil, exception(exFileNotFound, "rename destination parent %s not found.", parentPath(dst))
	}
	if err := n.access(c.user, dparent, permWrite|permExec); err != nil {
		return nil, err
	}
	if d := dp.last(); d != nil {
		switch {
		case !req.OverwriteDest:
			return nil, exception(exFileExists, "rename destination %s already exists", dst)
		case d.dir != s.dir:
			return nil, exception(exIO, "Source %s and destination %s must both be directories", src, dst)
		case d.dir && len(d.children) > 0:
			return nil, exception(exIO, "rename destination directory is not empty: %s", dst)
		}
		n.unlink(d)
	}
	now := n.now()
	delete(s.parent.children, s.name)
	s.parent.mtime = now
	s.name, s.parent = dp.comps[len(dp.comps)-1], dparent
	dparent.children[s.name] = s
	dparent.mtime = now
	return struct{}{}, nil
}

func (n *namenode) delete(c *call, req *deleteReq) (any, error) {
	p, err := n.lookup(c.user, req.Src)
	if err != nil {
		return nil, err
	}
	in := p.last()
	if in == nil || in.parent == nil { // missing, or the root (never deleted)
		return resultResp{Result: false}, nil
	}
	if err := n.access(c.user, in.parent, permWrite|permExec); err != nil {
		return nil, err
	}
	if in.dir && len(in.children) > 0 {
		if !req.Recursive {
			return nil, exception(exNotEmpty, "`%s is non empty': Directory is not empty", req.Src)
		}
		if err := n.subtreeAccess(c.user, in); err != nil {
			return nil, err
		}
	}
	n.unlink(in)
	return resultResp{Result: true}, nil
}

func (n *namenode) renewLease(c *call, req *renewLeaseReq) (any, error) {
	if _, ok := n.leases[req.ClientName]; ok && !n.dropRenew {
		n.leases[req.ClientName] = time.Now()
	}
	return struct{}{}, nil
}

func (n *namenode) setPermission(c *call, req *setPermissionReq) (any, error) {
	in, err := n.owned(c.user, req.Src)
	if err != nil {
		return nil, err
	}
	in.perm = req.Permission.Perm & 0o7777
	return struct{}{}, nil
}

func (n *namenode) setOwner(c *call, req *setOwnerReq) (any, error) {
	in, err := n.owned(c.user, req.Src)
	if err != nil {
		return nil, err
	}
	super := n.isSuper(c.user)
	if req.Username != nil && *req.Username != "" {
		if !super {
			return nil, exception(exAccessControl, "User %s is not a super user (non-super user cannot change owner).", c.user)
		}
		in.owner = *req.Username
	}
	if req.Groupname != nil && *req.Groupname != "" {
		if !super && !contains(n.groupsOf(c.user), *req.Groupname) {
			return nil, exception(exAccessControl, "User %s does not belong to %s", c.user, *req.Groupname)
		}
		in.group = *req.Groupname
	}
	return struct{}{}, nil
}

// owned resolves src and checks that user owns it (or is the superuser).
func (n *namenode) owned(user, src string) (*inode, error) {
	p, err := n.lookup(user, src)
	if err != nil {
		return nil, err
	}
	in := p.last()
	if in == nil {
		return nil, notFound(src)
	}
	if !n.isSuper(user) && in.owner != user {
		return nil, exception(exAccessControl, "Permission denied. user=%s is not the owner of inode=%s", user, in.path())
	}
	return in, nil
}
