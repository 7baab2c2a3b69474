package hdfstest

import "time"

// Leases and their recovery, as FSNamesystem and LeaseManager do them.
//
// A file under construction has one holder, the client that created, appended or is
// truncating it; the holder renews its lease (per client) with renewLease. Another
// client asking to create, append or truncate the file is refused with
// AlreadyBeingCreatedException while the lease is within its soft limit; past the soft
// limit its call starts lease recovery (RecoveryInProgressException until the file is
// closed). recoverLease starts recovery at once, whatever the lease's age. Past the hard
// limit the NameNode recovers the lease on its own. Recovery of a last block that holds
// data is block recovery: the block gets a new generation stamp (the recovery id), the
// DataNode stops the writer's pipeline and finalizes the replica at the length it holds,
// and reports back (commitBlockSynchronization), which closes the file. The old
// writer's later calls fail: the NameNode no longer knows it as the holder, and the
// DataNode has dropped its connection and refuses its stale generation stamp.

// nnLeaseHolder is the holder of files whose lease the NameNode recovers itself.
const nnLeaseHolder = "HDFS_NameNode"

func (n *namenode) appendFile(c *call, req *appendReq) (any, error) {
	p, err := n.lookup(c.user, req.Src)
	if err != nil {
		return nil, err
	}
	f := p.last()
	switch {
	case f != nil && f.dir:
		return nil, exception(exFileExists, "Cannot append to directory %s; already exists as a directory.", req.Src)
	case f == nil:
		return nil, exception(exFileNotFound, "Failed to append to non-existent file %s for client 127.0.0.1", req.Src)
	}
	if err := n.access(c.user, f, permWrite); err != nil {
		return nil, err
	}
	if _, err := n.recoverLeaseInternal("APPEND_FILE", req.Src, f, req.ClientName, false); err != nil {
		return nil, err
	}
	last := f.lastBlock()
	if last != nil && last.state == blockCommitted {
		return nil, exception(exRetriable, "org.apache.hadoop.hdfs.server.namenode.NotReplicatedYetException: append: lastBlock=blk_%d_%d of src=%s is COMMITTED but not yet COMPLETE.",
			last.id, last.gs, req.Src)
	}
	f.holder = req.ClientName
	n.leases[req.ClientName] = time.Now()
	resp := appendResp{}
	switch {
	case last == nil:
	case req.Flag&createFlagNewBlock != 0:
		// The client continues in a new block after this one (no locations).
		lb := n.located(last, f.length()-last.numBytes, c.user, "W", false)
		resp.Block = &lb
	case last.numBytes < f.blockSize:
		// convertLastBlockToUnderConstruction: the client reopens the last block's
		// pipeline (PIPELINE_SETUP_APPEND) at its current length.
		last.state = blockUnderConstruction
		lb := n.located(last, f.length()-last.numBytes, c.user, "W", true)
		resp.Block = &lb
	}
	st := n.status(f, "")
	resp.Stat = &st
	return resp, nil
}

const createFlagNewBlock = 32

// fsync is hflush/hsync's NameNode half: it checks the lease and publishes the length
// of the last block, so that readers see what the client flushed.
func (n *namenode) fsync(c *call, req *fsyncReq) (any, error) {
	f, err := n.fileUnderConstruction(req.Src, req.FileID, req.Client)
	if err != nil {
		return nil, err
	}
	if last := f.lastBlock(); req.LastBlockLength > 0 && last != nil && last.state != blockComplete {
		last.numBytes = uint64(req.LastBlockLength)
	}
	return struct{}{}, nil
}

func (n *namenode) truncate(c *call, req *truncateReq) (any, error) {
	f, err := n.writableFile(c.user, req.Src)
	if err != nil {
		return nil, err
	}
	if _, err := n.recoverLeaseInternal("TRUNCATE_FILE", req.Src, f, req.ClientName, false); err != nil {
		return nil, err
	}
	size, want := f.length(), req.NewLength
	if want > size {
		return nil, exception(exIllegalArgument, "Cannot truncate to a larger file size. Current size: %d, truncate size: %d.", size, want)
	}
	if want == size {
		return resultResp{Result: true}, nil
	}
	var off uint64
	keep := 0
	for keep < len(f.blocks) && off < want {
		off += f.blocks[keep].numBytes
		keep++
	}
	for _, b := range f.blocks[keep:] {
		delete(n.blocks, b.id)
		n.dn.invalidate(b.id)
	}
	f.blocks = f.blocks[:keep]
	f.mtime = n.now()
	if off == want { // on a block boundary: done at once
		return resultResp{Result: true}, nil
	}
	// In-place truncate of the new last block: the file is under construction for the
	// client until the DataNode has cut the replica.
	last := f.lastBlock()
	last.numBytes -= off - want
	f.holder = req.ClientName
	n.leases[req.ClientName] = time.Now()
	n.startRecovery(last, int64(last.numBytes))
	return resultResp{Result: false}, nil
}

func (n *namenode) recoverLease(c *call, req *recoverLeaseReq) (any, error) {
	f, err := n.writableFile(c.user, req.Src)
	if err != nil {
		return nil, err
	}
	closed, err := n.recoverLeaseInternal("RECOVER_LEASE", req.Src, f, req.ClientName, true)
	if err != nil {
		return nil, err
	}
	return resultResp{Result: closed}, nil
}

func (n *namenode) isFileClosed(c *call, req *srcReq) (any, error) {
	p, err := n.lookup(c.user, req.Src)
	if err != nil {
		return nil, err
	}
	f, err := fileOf(p, req.Src)
	if err != nil {
		return nil, err
	}
	return resultResp{Result: f.holder == ""}, nil
}

// writableFile resolves src to a file (INodeFile.valueOf) that user may write.
func (n *namenode) writableFile(user, src string) (*inode, error) {
	p, err := n.lookup(user, src)
	if err != nil {
		return nil, err
	}
	f, err := fileOf(p, src)
	if err != nil {
		return nil, err
	}
	if err := n.access(user, f, permWrite); err != nil {
		return nil, err
	}
	return f, nil
}

func fileOf(p *iip, src string) (*inode, error) {
	f := p.last()
	switch {
	case f == nil:
		return nil, notFound(src)
	case f.dir:
		return nil, exception(exFileNotFound, "Path is not a file: %s", src)
	}
	return f, nil
}

// recoverLeaseInternal decides what a call of holder that needs f closed (op names it in
// messages) may do while f is under construction, as FSNamesystem.recoverLeaseInternal
// does. It reports whether f is closed; force (recoverLease) starts recovery whatever
// the lease's age.
func (n *namenode) recoverLeaseInternal(op, src string, f *inode, holder string, force bool) (bool, error) {
	if f.holder == "" {
		return true, nil
	}
	refuse := func(class, reason string) error {
		return exception(class, "Failed to %s %s for %s on 127.0.0.1 because %s", op, src, holder, reason)
	}
	if !force && f.holder == holder {
		return false, refuse(exAlreadyCreated, holder+" is already the current lease holder.")
	}
	renewed, ok := n.leases[f.holder]
	if !ok {
		return false, refuse(exAlreadyCreated, "the file is under construction but no leases found.")
	}
	if force {
		return n.releaseLease(f, holder)
	}
	if f.holder != nnLeaseHolder && time.Since(renewed) > n.cfg.LeaseSoftLimit {
		closed, err := n.releaseLease(f, "")
		if err != nil || closed {
			return closed, err
		}
		return false, refuse(exRecoveryInProgress, "lease recovery is in progress. Try again later.")
	}
	if last := f.lastBlock(); last != nil && last.state == blockUnderRecovery {
		return false, refuse(exRecoveryInProgress, "another recovery is in progress by "+f.holder+" on 127.0.0.1")
	}
	return false, refuse(exAlreadyCreated, "this file lease is currently owned by "+f.holder+" on 127.0.0.1")
}

// releaseLease closes f if it can be closed now, else starts recovery of its last block
// and gives the lease to newHolder ("" keeps the holder and renews its lease), as
// FSNamesystem.internalReleaseLease does. It reports whether f is closed.
func (n *namenode) releaseLease(f *inode, newHolder string) (bool, error) {
	complete := 0
	for complete < len(f.blocks) && f.blocks[complete].state == blockComplete {
		complete++
	}
	if complete == len(f.blocks) {
		n.finalizeFile(f)
		return true, nil
	}
	k := len(f.blocks)
	if complete < k-2 || complete == k-2 && f.blocks[k-2].state != blockCommitted {
		return false, exception(exIO, "DIR* NameSystem.internalReleaseLease: attempt to release a create lock on %s but file is already closed.", f.path())
	}
	last := f.blocks[k-1]
	switch last.state {
	case blockCommitted:
		if complete == k-1 && last.reported == int64(last.numBytes) {
			last.state = blockComplete
			n.finalizeFile(f)
			return true, nil
		}
		return false, exception(exAlreadyCreated, "DIR* NameSystem.internalReleaseLease: Failed to release lease for file %s. Committed blocks are waiting to be minimally replicated. Try again later.", f.path())
	case blockUnderConstruction:
		if last.numBytes == 0 && !n.dn.hasReplica(last.id) {
			// No DataNode has the block: the writer never sent a byte of it.
			f.blocks = f.blocks[:k-1]
			delete(n.blocks, last.id)
			n.finalizeFile(f)
			return true, nil
		}
		n.startRecovery(last, -1)
	case blockUnderRecovery:
		// One recovery at a time: the one under way closes the file.
	}
	if newHolder != "" {
		f.holder = newHolder
	}
	n.leases[f.holder] = time.Now()
	return false, nil
}

// startRecovery gives b a new generation stamp (the recovery id) and has the DataNode
// recover its replica: cut it to truncateLen (-1: keep what it holds) and finalize it.
func (n *namenode) startRecovery(b *blockInfo, truncateLen int64) {
	n.nextGS++
	b.state, b.recoveryID, b.truncateLen = blockUnderRecovery, n.nextGS, truncateLen
	task := recoveryTask{id: b.id, recoveryID: b.recoveryID, truncateLen: truncateLen}
	if n.recoveryPaused {
		n.pendingRecoveries = append(n.pendingRecoveries, task)
		return
	}
	n.dn.recover(task)
}

type recoveryTask struct {
	id, recoveryID uint64
	truncateLen    int64
}

// commitBlockSynchronization is the DataNode's report that it recovered block id as
// recovery recoveryID with length bytes: the block completes and its file closes.
func (n *namenode) commitBlockSynchronization(id, recoveryID, length uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	b := n.blocks[id]
	if b == nil || b.state != blockUnderRecovery || b.recoveryID != recoveryID {
		return // deleted meanwhile, or a stale recovery: the NameNode refuses it
	}
	b.numBytes, b.gs, b.state, b.reported = length, recoveryID, blockComplete, int64(length)
	if f := b.file; f.lastBlock() == b && f.holder != "" {
		n.finalizeFile(f)
	}
}

// finalizeFile closes f for writing: no holder, a new modification time.
func (n *namenode) finalizeFile(f *inode) {
	f.holder = ""
	f.mtime = n.now()
}

// expireLeases recovers the files of clients that stopped renewing their lease for
// longer than the hard limit, as the LeaseManager's monitor does. A lease whose files
// cannot be released yet is kept, to be tried again.
func (n *namenode) expireLeases() {
	now := time.Now()
	for client, renewed := range n.leases {
		if client == nnLeaseHolder || now.Sub(renewed) <= n.cfg.LeaseHardLimit {
			continue
		}
		released := true
		for _, f := range n.inodes {
			if f.holder != client {
				continue
			}
			if _, err := n.releaseLease(f, nnLeaseHolder); err != nil {
				released = false
			}
		}
		if released {
			delete(n.leases, client)
		}
	}
}
