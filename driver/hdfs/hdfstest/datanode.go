package hdfstest

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The DataNode side of DataTransferProtocol version 28:
//
//	uint16 version | uint8 op | delimited Op*Proto
//
// answered by a delimited BlockOpResponseProto, then packets:
//
//	uint32 payload length (4 + checksums + data) | uint16 header length |
//	PacketHeaderProto | one CRC per 512-byte chunk | data
//
// Writes are acknowledged packet by packet with delimited PipelineAckProtos; checksums
// are verified on write and served as stored on read.

const (
	dataTransferVersion = 28
	opCodeWriteBlock    = 0x50
	opCodeReadBlock     = 0x51
	bytesPerChecksum    = 512
	readPacketSize      = 64 << 10
	maxPacketSize       = 16 << 20 // PacketReceiver.MAX_PACKET_SIZE
	heartbeatSeqno      = -1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// replica is one block's bytes and their chunk checksums as the DataNode stores them.
// data is only ever appended to or replaced whole (readers keep the slices they took);
// the checksum of a partial last chunk changes as the chunk fills, so sums is replaced
// whole when that happens.
type replica struct {
	gs        uint64
	data      []byte
	sums      []uint32 // one CRC32C per bytesPerChecksum chunk of data
	finalized bool
	synced    int // bytes made durable by packets with the sync flag
}

type datanode struct {
	ln        net.Listener
	advertise atomic.Pointer[string] // the address block locations name, when not ln's
	uuid      string
	storageID string
	nn        *namenode // set once the namenode exists

	mu          sync.Mutex
	replicas    map[uint64]*replica
	writers     map[uint64]net.Conn // the pipeline connection writing each block
	reportDelay time.Duration
	conns       map[net.Conn]struct{}
	wg          sync.WaitGroup
	closed      bool
}

func newDatanode(ln net.Listener, reportDelay time.Duration) *datanode {
	return &datanode{ln: ln, uuid: "dn-0000-hdfstest", storageID: "DS-hdfstest-0",
		replicas: map[uint64]*replica{}, writers: map[uint64]net.Conn{}, reportDelay: reportDelay, conns: map[net.Conn]struct{}{}}
}

func (d *datanode) info() datanodeInfo {
	addr := d.ln.Addr().String()
	if a := d.advertise.Load(); a != nil {
		addr = *a
	}
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	return datanodeInfo{
		ID: datanodeID{IPAddr: host, HostName: "localhost", DatanodeUUID: d.uuid,
			XferPort: uint32(p), InfoPort: 9864, IPCPort: 9867},
		Capacity: 1 << 40, Remaining: 1 << 39, LastUpdate: uint64(time.Now().UnixMilli()), AdminState: "NORMAL",
	}
}

func (d *datanode) start() {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		for {
			conn, err := d.ln.Accept()
			if err != nil {
				return
			}
			d.mu.Lock()
			if d.closed {
				d.mu.Unlock()
				conn.Close()
				return
			}
			d.conns[conn] = struct{}{}
			d.wg.Add(1)
			d.mu.Unlock()
			go func() {
				defer d.wg.Done()
				defer func() {
					d.mu.Lock()
					delete(d.conns, conn)
					d.mu.Unlock()
					conn.Close()
				}()
				_ = d.serve(conn)
			}()
		}
	}()
}

func (d *datanode) close() {
	d.ln.Close()
	d.mu.Lock()
	d.closed = true
	for c := range d.conns {
		c.Close()
	}
	d.mu.Unlock()
	d.wg.Wait()
}

// invalidate drops a replica (the block was deleted).
func (d *datanode) invalidate(id uint64) {
	d.mu.Lock()
	delete(d.replicas, id)
	d.mu.Unlock()
}

func (d *datanode) serve(conn net.Conn) error {
	r := bufio.NewReader(conn)
	var hdr [3]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return err
	}
	if v := binary.BigEndian.Uint16(hdr[:2]); v != dataTransferVersion {
		return fmt.Errorf("Version Mismatch (Expected: %d, Received: %d )", dataTransferVersion, v)
	}
	body, err := readDelimited(r, 1<<20)
	if err != nil {
		return err
	}
	switch hdr[2] {
	case opCodeWriteBlock:
		var op opWriteBlock
		if err := decodeProto(msgOpWriteBlock, body, &op); err != nil {
			return err
		}
		return d.writeBlock(conn, r, &op)
	case opCodeReadBlock:
		var op opReadBlock
		if err := decodeProto(msgOpReadBlock, body, &op); err != nil {
			return err
		}
		return d.readBlock(conn, r, &op)
	default:
		return respond(conn, blockOpResponse{Status: "ERROR_UNSUPPORTED", Message: fmt.Sprintf("unsupported op %#x", hdr[2])})
	}
}

func respond(w io.Writer, resp blockOpResponse) error {
	if err := writeDelimited(w, msgBlockOpResponse, resp); err != nil {
		return err
	}
	if resp.Status != "SUCCESS" {
		return errors.New(resp.Status + ": " + resp.Message)
	}
	return nil
}

func (d *datanode) checkToken(h *baseHeader, mode string) error {
	return d.nn.key.verify(h.Token, d.nn.poolID, h.Block.BlockID, mode)
}

func (d *datanode) writeBlock(conn net.Conn, r *bufio.Reader, op *opWriteBlock) error {
	b := op.Header.BaseHeader.Block
	if err := d.checkToken(&op.Header.BaseHeader, "W"); err != nil {
		return respond(conn, blockOpResponse{Status: "ERROR_ACCESS_TOKEN", Message: "Got access token error: " + err.Error()})
	}
	switch {
	case b.PoolID != d.nn.poolID:
		return respond(conn, blockOpResponse{Status: "ERROR", Message: "unknown block pool " + b.PoolID})
	case op.Stage != "PIPELINE_SETUP_CREATE" && op.Stage != "PIPELINE_SETUP_APPEND":
		return respond(conn, blockOpResponse{Status: "ERROR_UNSUPPORTED", Message: "this DataNode supports PIPELINE_SETUP_CREATE and PIPELINE_SETUP_APPEND, not " + op.Stage})
	case len(op.Targets) > 0:
		return respond(conn, blockOpResponse{Status: "ERROR", Message: "this DataNode does not forward pipelines"})
	case op.RequestedChecksum.Type != "CHECKSUM_CRC32C" || op.RequestedChecksum.BytesPerChecksum != bytesPerChecksum:
		return respond(conn, blockOpResponse{Status: "ERROR_UNSUPPORTED",
			Message: fmt.Sprintf("checksum %s/%d is not CRC32C/%d", op.RequestedChecksum.Type, op.RequestedChecksum.BytesPerChecksum, bytesPerChecksum)})
	}
	rep, gs, err := d.openReplica(op)
	if err != nil {
		return respond(conn, blockOpResponse{Status: "ERROR", Message: err.Error()})
	}
	d.mu.Lock()
	d.writers[b.BlockID] = conn
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		if d.writers[b.BlockID] == conn {
			delete(d.writers, b.BlockID)
		}
		d.mu.Unlock()
	}()
	empty := ""
	if err := respond(conn, blockOpResponse{Status: "SUCCESS", FirstBadLink: &empty}); err != nil {
		return err
	}

	var nextSeqno int64 = 1 << 62
	for {
		// A connection that fails leaves the replica being written: lease recovery
		// finalizes it at what it holds.
		h, sums, data, err := readPacket(r)
		if err != nil {
			return err
		}
		if h.Seqno == heartbeatSeqno {
			if err := ack(conn, heartbeatSeqno, "SUCCESS"); err != nil {
				return err
			}
			continue
		}
		if nextSeqno != 1<<62 && h.Seqno != nextSeqno {
			d.invalidate(b.BlockID)
			return ack(conn, h.Seqno, "ERROR")
		}
		nextSeqno = h.Seqno + 1
		for i := 0; i*bytesPerChecksum < len(data); i++ {
			chunk := data[i*bytesPerChecksum : min(len(data), (i+1)*bytesPerChecksum)]
			if crc32.Checksum(chunk, castagnoli) != sums[i] {
				d.invalidate(b.BlockID)
				_ = ack(conn, h.Seqno, "ERROR_CHECKSUM")
				return fmt.Errorf("checksum error in blk_%d at offset %d", b.BlockID, h.OffsetInBlock+int64(i*bytesPerChecksum))
			}
		}
		size, err := d.receive(b.BlockID, rep, gs, h, sums, data)
		if err != nil {
			_ = ack(conn, h.Seqno, "ERROR")
			return err
		}
		if h.LastPacketInBlock {
			// As BlockReceiver does: finalize, queue the block report, then ack.
			d.report(b.BlockID, gs, uint64(size))
		}
		if err := ack(conn, h.Seqno, "SUCCESS"); err != nil {
			return err
		}
		if h.LastPacketInBlock {
			return nil
		}
	}
}

// openReplica creates the replica a PIPELINE_SETUP_CREATE writes, or reopens the
// finalized one a PIPELINE_SETUP_APPEND continues, as FsDatasetImpl.append checks it:
// the new generation stamp may not be older, the length must be the one expected. It
// returns the generation stamp the writer writes under.
func (d *datanode) openReplica(op *opWriteBlock) (*replica, uint64, error) {
	b := op.Header.BaseHeader.Block
	d.mu.Lock()
	defer d.mu.Unlock()
	rep := d.replicas[b.BlockID]
	if op.Stage == "PIPELINE_SETUP_CREATE" {
		if rep != nil {
			return nil, 0, fmt.Errorf("ReplicaAlreadyExistsException: blk_%d_%d already exists", b.BlockID, b.GenerationStamp)
		}
		rep = &replica{gs: b.GenerationStamp}
		d.replicas[b.BlockID] = rep
		return rep, rep.gs, nil
	}
	gs := op.LatestGenerationStamp
	switch {
	case rep == nil:
		return nil, 0, fmt.Errorf("ReplicaNotFoundException: Replica not found for blk_%d_%d", b.BlockID, b.GenerationStamp)
	case !rep.finalized:
		return nil, 0, fmt.Errorf("ReplicaNotFoundException: Cannot append to an unfinalized replica blk_%d_%d", b.BlockID, rep.gs)
	case gs < rep.gs:
		return nil, 0, fmt.Errorf("The new generation stamp %d should be greater than the replica blk_%d_%d's generation stamp", gs, b.BlockID, rep.gs)
	case uint64(len(rep.data)) != op.MinBytesRcvd:
		return nil, 0, fmt.Errorf("Corrupted replica blk_%d_%d with a length of %d expected length is %d", b.BlockID, rep.gs, len(rep.data), op.MinBytesRcvd)
	}
	rep.gs, rep.finalized = gs, false
	return rep, gs, nil
}

// receive adds a packet's verified data to the replica and returns the replica's size.
// A packet continuing a partial chunk (after an hflush) must end at or before the
// chunk's end; the stored checksum of that chunk is extended over the new bytes. A
// replica finalized or re-stamped under the writer (block recovery) takes nothing more.
func (d *datanode) receive(id uint64, rep *replica, gs uint64, h packetHeader, sums []uint32, data []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.replicas[id] != rep || rep.gs != gs || rep.finalized:
		return 0, fmt.Errorf("blk_%d_%d was recovered or deleted under its writer", id, gs)
	case h.OffsetInBlock != int64(len(rep.data)):
		return 0, fmt.Errorf("packet offset %d does not continue the replica at %d", h.OffsetInBlock, len(rep.data))
	}
	if partial := len(rep.data) % bytesPerChecksum; partial != 0 && len(data) > 0 {
		if len(data) > bytesPerChecksum-partial {
			return 0, fmt.Errorf("a packet at offset %d inside a chunk carries %d bytes, past the chunk's end", h.OffsetInBlock, len(data))
		}
		merged := append([]uint32(nil), rep.sums...)
		merged[len(merged)-1] = crc32.Update(merged[len(merged)-1], castagnoli, data)
		rep.sums = merged
	} else {
		rep.sums = append(rep.sums, sums...)
	}
	rep.data = append(rep.data, data...)
	if h.SyncBlock {
		rep.synced = len(rep.data)
	}
	if h.LastPacketInBlock {
		rep.finalized = true
	}
	return len(rep.data), nil
}

// recover runs a block recovery the NameNode ordered, in the background as the
// DataNode's BlockRecoveryWorker does: it stops the block's writer, cuts the replica
// (truncate) or keeps what it holds (lease recovery), gives it the recovery id as its
// generation stamp, finalizes it and reports back.
func (d *datanode) recover(t recoveryTask) {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	d.wg.Add(1)
	d.mu.Unlock()
	go func() {
		defer d.wg.Done()
		d.mu.Lock()
		rep := d.replicas[t.id]
		if rep == nil {
			d.mu.Unlock()
			return // deleted meanwhile
		}
		if w := d.writers[t.id]; w != nil {
			w.Close()
			delete(d.writers, t.id)
		}
		size := len(rep.data)
		if t.truncateLen >= 0 && int(t.truncateLen) < size {
			size = int(t.truncateLen)
		}
		data := append([]byte(nil), rep.data[:size]...)
		sums := append([]uint32(nil), rep.sums[:(size+bytesPerChecksum-1)/bytesPerChecksum]...)
		if tail := size % bytesPerChecksum; tail != 0 {
			sums[len(sums)-1] = crc32.Checksum(data[size-tail:], castagnoli)
		}
		rep.data, rep.sums = data, sums
		rep.synced = min(rep.synced, size)
		rep.gs, rep.finalized = t.recoveryID, true
		d.mu.Unlock()
		d.nn.commitBlockSynchronization(t.id, t.recoveryID, uint64(size))
	}()
}

// hasReplica reports whether the DataNode holds a replica of block id.
func (d *datanode) hasReplica(id uint64) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.replicas[id] != nil
}

// syncedLength returns the durable and the total bytes of block id's replica.
func (d *datanode) syncedLength(id uint64) (synced, size int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if rep := d.replicas[id]; rep != nil {
		return int64(rep.synced), int64(len(rep.data))
	}
	return 0, 0
}

// report tells the NameNode about a finalized replica, after the configured delay (the
// real DataNode sends incremental block reports asynchronously).
func (d *datanode) report(id, gs, n uint64) {
	d.mu.Lock()
	delay := d.reportDelay
	d.mu.Unlock()
	if delay <= 0 {
		d.nn.blockReceived(id, gs, n)
		return
	}
	time.AfterFunc(delay, func() { d.nn.blockReceived(id, gs, n) })
}

func readPacket(r *bufio.Reader) (packetHeader, []uint32, []byte, error) {
	var h packetHeader
	var pre [6]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return h, nil, nil, err
	}
	plen := int(binary.BigEndian.Uint32(pre[:4]))
	hlen := int(binary.BigEndian.Uint16(pre[4:]))
	if plen < 4 || plen > maxPacketSize {
		return h, nil, nil, fmt.Errorf("invalid packet payload length %d", plen)
	}
	hb := make([]byte, hlen)
	if _, err := io.ReadFull(r, hb); err != nil {
		return h, nil, nil, err
	}
	if err := decodeProto(msgPacketHeader, hb, &h); err != nil {
		return h, nil, nil, err
	}
	body := make([]byte, plen-4)
	if _, err := io.ReadFull(r, body); err != nil {
		return h, nil, nil, err
	}
	dataLen := int(h.DataLen)
	chunks := (dataLen + bytesPerChecksum - 1) / bytesPerChecksum
	if dataLen < 0 || len(body) != chunks*4+dataLen {
		return h, nil, nil, fmt.Errorf("packet has %d bytes of checksums and data, want %d", len(body), chunks*4+dataLen)
	}
	sums := make([]uint32, chunks)
	for i := range sums {
		sums[i] = binary.BigEndian.Uint32(body[i*4:])
	}
	return h, sums, body[chunks*4:], nil
}

func ack(w io.Writer, seqno int64, status string) error {
	return writeDelimited(w, msgPipelineAck, pipelineAck{Seqno: seqno, Reply: []string{status}})
}

func (d *datanode) readBlock(conn net.Conn, r *bufio.Reader, op *opReadBlock) error {
	b := op.Header.BaseHeader.Block
	if err := d.checkToken(&op.Header.BaseHeader, "R"); err != nil {
		return respond(conn, blockOpResponse{Status: "ERROR_ACCESS_TOKEN", Message: "Got access token error: " + err.Error()})
	}
	d.mu.Lock()
	rep := d.replicas[b.BlockID]
	var data []byte
	var sums []uint32
	if rep != nil {
		// Never modified in place (see replica); a replica being written is read up to
		// what it has received.
		data, sums = rep.data, rep.sums
	}
	d.mu.Unlock()
	switch {
	case b.PoolID != d.nn.poolID || rep == nil:
		return respond(conn, blockOpResponse{Status: "ERROR", Message: fmt.Sprintf("ReplicaNotFoundException: Replica not found for blk_%d_%d", b.BlockID, b.GenerationStamp)})
	case rep.gs < b.GenerationStamp:
		return respond(conn, blockOpResponse{Status: "ERROR", Message: fmt.Sprintf("Replica gen stamp < block genstamp, block=blk_%d_%d, replica gs=%d", b.BlockID, b.GenerationStamp, rep.gs)})
	case op.Offset > uint64(len(data)) || op.Offset+op.Len > uint64(len(data)):
		return respond(conn, blockOpResponse{Status: "ERROR", Message: fmt.Sprintf("Offset %d and length %d don't match block blk_%d ( blockLen %d )", op.Offset, op.Len, b.BlockID, len(data))})
	}
	start := op.Offset / bytesPerChecksum * bytesPerChecksum
	end := min(uint64(len(data)), (op.Offset+op.Len+bytesPerChecksum-1)/bytesPerChecksum*bytesPerChecksum)
	w := bufio.NewWriterSize(conn, 128<<10)
	if err := respond(w, blockOpResponse{Status: "SUCCESS", ReadOpChecksumInfo: &readOpChecksumInfo{
		Checksum: checksumProto{Type: "CHECKSUM_CRC32C", BytesPerChecksum: bytesPerChecksum}, ChunkOffset: start}}); err != nil {
		return err
	}
	var seqno int64
	for off := start; off < end; off += readPacketSize {
		n := min(uint64(readPacketSize), end-off)
		chunk0 := off / bytesPerChecksum
		chunks := (n + bytesPerChecksum - 1) / bytesPerChecksum
		if err := writePacket(w, packetHeader{OffsetInBlock: int64(off), Seqno: seqno, DataLen: int32(n)},
			sums[chunk0:chunk0+chunks], data[off:off+n]); err != nil {
			return err
		}
		seqno++
	}
	if err := writePacket(w, packetHeader{OffsetInBlock: int64(end), Seqno: seqno, LastPacketInBlock: true}, nil, nil); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	// The client may answer with a ClientReadStatusProto; the go client just hangs up.
	_ = conn.SetReadDeadline(time.Now().Add(time.Second))
	if b, err := readDelimited(r, 1<<10); err == nil {
		_ = decodeProto(msgClientReadStatus, b, nil)
	}
	return nil
}

func writePacket(w io.Writer, h packetHeader, sums []uint32, data []byte) error {
	hb, err := encodeProto(msgPacketHeader, h)
	if err != nil {
		return err
	}
	buf := make([]byte, 6, 6+len(hb)+4*len(sums)+len(data))
	binary.BigEndian.PutUint32(buf, uint32(4+4*len(sums)+len(data)))
	binary.BigEndian.PutUint16(buf[4:], uint16(len(hb)))
	buf = append(buf, hb...)
	for _, s := range sums {
		buf = binary.BigEndian.AppendUint32(buf, s)
	}
	buf = append(buf, data...)
	_, err = w.Write(buf)
	return err
}

// corrupt flips one bit of byte off of block id's stored data (not its checksum), as
// a failing disk would.
func (d *datanode) corrupt(id uint64, off int) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	rep := d.replicas[id]
	if rep == nil || off < 0 || off >= len(rep.data) {
		return fmt.Errorf("hdfstest: no byte %d in blk_%d", off, id)
	}
	data := append([]byte(nil), rep.data...) // readers may hold the old slice
	data[off] ^= 0x01
	rep.data = data
	return nil
}
