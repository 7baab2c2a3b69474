package hdfs

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	"google.golang.org/protobuf/encoding/protowire"
)

// The client's FileWriter.Flush sends buffered bytes to the DataNode but neither waits
// for their acknowledgement nor asks for them to be synced. An AppendWriter's client
// dials DataNodes through a pipelines, whose connections follow DataTransferProtocol:
// every data packet the client sends gets the PacketHeaderProto sync flag (syncBlock:
// the DataNode syncs the replica before acknowledging, hsync), and every acknowledgement
// the client reads is recorded, so that Sync can wait until the DataNode has
// acknowledged every packet sent.
//
// A write is "uint16 version | uint8 op | delimited OpWriteBlockProto", then packets
// "uint32 payload length | uint16 header length | PacketHeaderProto | checksums | data";
// the DataNode answers "delimited BlockOpResponseProto", then one delimited
// PipelineAckProto per packet. With data transfer protection the stream is wrapped by
// SASL beyond what a dial function sees, so Append refuses to work there.

const (
	opWriteBlock      = 0x50
	heartbeatSeqno    = -1
	maxPacketHeader   = 1 << 10
	fieldSyncBlock    = 5
	ackStatusSuccess  = 0
	maxPendingPackets = 1 << 16
	maxMessage        = 1 << 20
)

// pipelines tracks the DataNode connections of one AppendWriter's client: one at a
// time, one per block.
type pipelines struct {
	dial func(ctx context.Context, network, addr string) (net.Conn, error)

	mu      sync.Mutex
	changed chan struct{} // closed and replaced whenever cur's state changes
	cur     *pipeConn
}

func newPipelines(dial func(ctx context.Context, network, addr string) (net.Conn, error)) *pipelines {
	return &pipelines{dial: dial, changed: make(chan struct{})}
}

// DialContext is the client's DataNode dial function.
func (p *pipelines) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := p.dial(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	pc := &pipeConn{Conn: c, p: p}
	p.mu.Lock()
	p.cur = pc
	p.notifyLocked()
	p.mu.Unlock()
	return pc, nil
}

func (p *pipelines) notifyLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// waitAcked waits until the DataNode has acknowledged every data packet sent on the
// current connection and returns the length of the block it writes: -1 when nothing was
// sent yet, 0 when that block was finished (the client goes on in a new, empty block).
func (p *pipelines) waitAcked(ctx context.Context) (int64, error) {
	for {
		p.mu.Lock()
		c, ch := p.cur, p.changed
		switch {
		case c == nil:
			p.mu.Unlock()
			return -1, nil
		case c.failed != nil:
			err := c.failed
			p.mu.Unlock()
			return 0, err
		case len(c.pending) == 0:
			n := c.ackedEnd
			if c.finished {
				n = 0
			} else if !c.sentAny {
				n = -1
			}
			p.mu.Unlock()
			return n, nil
		}
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

type sentPacket struct {
	seqno, end int64 // end: offset in the block after the packet's data
	last       bool
}

// pipeConn is one DataNode connection of a pipelines.
type pipeConn struct {
	net.Conn
	p *pipelines

	wmu         sync.Mutex // the client writes packets and heartbeats from two goroutines
	out         []byte     // the start of a frame not yet complete
	opSeen      bool
	passthrough atomic.Bool // not a WRITE_BLOCK: forwarded untouched

	in        []byte // the start of an inbound message not yet complete
	gotHeader bool   // the BlockOpResponseProto was read

	// Guarded by p.mu.
	pending  []sentPacket // sent, not yet acknowledged, in order
	sentAny  bool
	ackedEnd int64
	finished bool  // the block's last packet was acknowledged
	failed   error // an error acknowledgement, a broken connection
}

// Write forwards the client's bytes frame by frame, setting the sync flag of data
// packets and recording them as awaiting acknowledgement.
func (c *pipeConn) Write(b []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.passthrough.Load() {
		return c.Conn.Write(b)
	}
	c.out = append(c.out, b...)
	var fwd []byte
	for {
		frame, rest, err := c.nextFrame(c.out)
		if err != nil {
			c.fail(err)
			return 0, err
		}
		if frame == nil {
			break
		}
		fwd = append(fwd, frame...)
		c.out = rest
		if c.passthrough.Load() {
			fwd = append(fwd, c.out...)
			c.out = nil
			break
		}
	}
	c.out = append([]byte(nil), c.out...) // do not keep the caller's buffer
	if len(fwd) > 0 {
		if _, err := c.Conn.Write(fwd); err != nil {
			c.fail(err)
			return 0, err
		}
	}
	return len(b), nil
}

// nextFrame returns the first complete frame of b, rewritten for sending, and the rest;
// a nil frame when b holds no complete one.
func (c *pipeConn) nextFrame(b []byte) (frame, rest []byte, err error) {
	if !c.opSeen {
		if len(b) < 3 {
			return nil, b, nil
		}
		if b[2] != opWriteBlock {
			c.passthrough.Store(true)
			return b[:0], b, nil
		}
		l, k := binary.Uvarint(b[3:])
		if k < 0 || l > maxMessage {
			return nil, nil, errors.New("hdfs: malformed WRITE_BLOCK request")
		}
		if k == 0 || 3+k+int(l) > len(b) {
			return nil, b, nil
		}
		c.opSeen = true
		n := 3 + k + int(l)
		return b[:n], b[n:], nil
	}
	if len(b) < 6 {
		return nil, b, nil
	}
	plen := int(binary.BigEndian.Uint32(b))
	hlen := int(binary.BigEndian.Uint16(b[4:]))
	if plen < 4 || hlen > maxPacketHeader {
		return nil, nil, fmt.Errorf("hdfs: malformed packet (payload %d, header %d bytes)", plen, hlen)
	}
	n := 6 + hlen + plen - 4
	if len(b) < n {
		return nil, b, nil
	}
	h, err := parsePacketHeader(b[6 : 6+hlen])
	if err != nil {
		return nil, nil, err
	}
	if h.seqno == heartbeatSeqno {
		return b[:n], b[n:], nil
	}
	frame = b[:n]
	if !h.sync {
		frame = make([]byte, 0, n+2)
		frame = binary.BigEndian.AppendUint32(frame, uint32(plen))
		frame = binary.BigEndian.AppendUint16(frame, uint16(hlen+2))
		frame = append(frame, b[6:6+hlen]...)
		frame = protowire.AppendTag(frame, fieldSyncBlock, protowire.VarintType)
		frame = protowire.AppendVarint(frame, 1)
		frame = append(frame, b[6+hlen:n]...)
	}
	c.p.mu.Lock()
	if len(c.pending) >= maxPendingPackets {
		c.p.mu.Unlock()
		return nil, nil, errors.New("hdfs: too many unacknowledged packets")
	}
	c.pending = append(c.pending, sentPacket{seqno: h.seqno, end: h.offset + int64(h.dataLen), last: h.last})
	c.sentAny = true
	c.p.mu.Unlock()
	return frame, b[n:], nil
}

type packetHeader struct {
	offset, seqno int64
	dataLen       int32
	last, sync    bool
}

func parsePacketHeader(b []byte) (packetHeader, error) {
	var h packetHeader
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return h, errors.New("hdfs: malformed packet header")
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.Fixed64Type:
			v, n := protowire.ConsumeFixed64(b)
			h.offset, b = int64(v), b[max(n, 0):]
		case num == 2 && typ == protowire.Fixed64Type:
			v, n := protowire.ConsumeFixed64(b)
			h.seqno, b = int64(v), b[max(n, 0):]
		case num == 3 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			h.last, b = v != 0, b[max(n, 0):]
		case num == 4 && typ == protowire.Fixed32Type:
			v, n := protowire.ConsumeFixed32(b)
			h.dataLen, b = int32(v), b[max(n, 0):]
		case num == fieldSyncBlock && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			h.sync, b = v != 0, b[max(n, 0):]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return h, errors.New("hdfs: malformed packet header")
			}
			b = b[n:]
		}
	}
	return h, nil
}

// Read passes the DataNode's bytes to the client, recording acknowledgements.
func (c *pipeConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if c.passthrough.Load() {
		return n, err
	}
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	if n > 0 {
		c.in = append(c.in, b[:n]...)
		if perr := c.consumeLocked(); perr != nil && c.failed == nil {
			c.failed = perr
			c.p.notifyLocked()
		}
	}
	if err != nil && c.failed == nil && len(c.pending) > 0 {
		c.failed = fmt.Errorf("hdfs: DataNode connection lost with %d packets unacknowledged: %w", len(c.pending), err)
		c.p.notifyLocked()
	}
	return n, err
}

// consumeLocked parses the complete messages in c.in.
func (c *pipeConn) consumeLocked() error {
	changed := false
	defer func() {
		if changed {
			c.p.notifyLocked()
		}
	}()
	for {
		l, k := binary.Uvarint(c.in)
		if k < 0 || l > maxMessage {
			return errors.New("hdfs: malformed message from the DataNode")
		}
		if k == 0 || k+int(l) > len(c.in) {
			c.in = append([]byte(nil), c.in...)
			return nil
		}
		msg := c.in[k : k+int(l)]
		c.in = c.in[k+int(l):]
		if !c.gotHeader {
			c.gotHeader = true
			continue
		}
		seqno, ok, err := parseAck(msg)
		if err != nil {
			return err
		}
		if seqno == heartbeatSeqno {
			continue
		}
		changed = true
		if !ok {
			return fmt.Errorf("hdfs: the DataNode failed packet %d", seqno)
		}
		if len(c.pending) == 0 || c.pending[0].seqno != seqno {
			return fmt.Errorf("hdfs: acknowledgement of packet %d out of order", seqno)
		}
		c.ackedEnd, c.finished = c.pending[0].end, c.pending[0].last
		c.pending = c.pending[1:]
	}
}

// parseAck returns a PipelineAckProto's seqno and whether every reply is SUCCESS.
func parseAck(b []byte) (seqno int64, ok bool, err error) {
	ok = true
	bad := errors.New("hdfs: malformed acknowledgement")
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0, false, bad
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return 0, false, bad
			}
			seqno, b = protowire.DecodeZigZag(v), b[n:]
		case num == 2 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return 0, false, bad
			}
			ok, b = ok && v == ackStatusSuccess, b[n:]
		case num == 2 && typ == protowire.BytesType: // packed replies
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return 0, false, bad
			}
			for len(v) > 0 {
				s, k := protowire.ConsumeVarint(v)
				if k < 0 {
					return 0, false, bad
				}
				ok, v = ok && s == ackStatusSuccess, v[k:]
			}
			b = b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return 0, false, bad
			}
			b = b[n:]
		}
	}
	return seqno, ok, nil
}

func (c *pipeConn) fail(err error) {
	c.p.mu.Lock()
	if c.failed == nil {
		c.failed = err
		c.p.notifyLocked()
	}
	c.p.mu.Unlock()
}

// Close closes the connection; packets still unacknowledged fail the pipeline.
func (c *pipeConn) Close() error {
	c.p.mu.Lock()
	if c.failed == nil && len(c.pending) > 0 {
		c.failed = fmt.Errorf("hdfs: DataNode connection closed with %d packets unacknowledged", len(c.pending))
		c.p.notifyLocked()
	}
	c.p.mu.Unlock()
	return c.Conn.Close()
}
