package hdfstest

import (
	"bufio"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"testing"
)

// rawClient speaks ClientProtocol to the NameNode under a client name of the test's
// choosing, for the calls the go client has no method for (fsync, recoverLease,
// isFileClosed) and for acting as several clients.
type rawClient struct {
	t      *testing.T
	conn   net.Conn
	r      *bufio.Reader
	name   string
	callID int32
}

var rawClientID = []byte("hdfstest-raw-cli")

func newRawClient(t *testing.T, c *Cluster, user, name string) *rawClient {
	t.Helper()
	conn, err := net.Dial("tcp", c.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	rc := &rawClient{t: t, conn: conn, r: bufio.NewReader(conn), name: name}
	if _, err := conn.Write([]byte{'h', 'r', 'p', 'c', ipcVersion, 0, 0}); err != nil {
		t.Fatal(err)
	}
	hdr := rpcRequestHeader{RPCKind: "RPC_PROTOCOL_BUFFER", RPCOp: "RPC_FINAL_PACKET", CallID: connectionContextID, ClientID: rawClientID}
	cc := map[string]any{"userInfo": map[string]string{"effectiveUser": user}, "protocol": clientProtocol}
	if err := writeFrame(conn, mustEncode(t, msgRPCRequestHeader, hdr), mustEncode(t, msgConnectionContext, cc)); err != nil {
		t.Fatal(err)
	}
	return rc
}

func mustEncode(t *testing.T, name string, v any) []byte {
	t.Helper()
	b, err := encodeProto(name, v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// call invokes method with req and decodes the answer into resp; a Java exception comes
// back as a *remoteError.
func (rc *rawClient) call(method string, req, resp any) error {
	rc.t.Helper()
	rc.callID++
	m := (&namenode{}).methods()[method]
	hdr := rpcRequestHeader{RPCKind: "RPC_PROTOCOL_BUFFER", RPCOp: "RPC_FINAL_PACKET", CallID: rc.callID, ClientID: rawClientID}
	rh := requestHeader{MethodName: method, DeclaringClassProtocolName: clientProtocol, ClientProtocolVersion: 1}
	if err := writeFrame(rc.conn, mustEncode(rc.t, msgRPCRequestHeader, hdr), mustEncode(rc.t, msgRequestHeader, rh), mustEncode(rc.t, m.reqName, req)); err != nil {
		rc.t.Fatal(err)
	}
	frame, err := readFrame(rc.r)
	if err != nil {
		rc.t.Fatal(err)
	}
	parts, err := splitDelimited(frame)
	if err != nil {
		rc.t.Fatal(err)
	}
	var h rpcResponseHeader
	if err := decodeProto(msgRPCResponseHeader, parts[0], &h); err != nil {
		rc.t.Fatal(err)
	}
	if h.Status != "SUCCESS" {
		return &remoteError{class: h.ExceptionClassName, msg: h.ErrorMsg}
	}
	if resp == nil {
		return nil
	}
	return decodeProto(m.respName, parts[1], resp)
}

// mustCall is call that fails the test on an error.
func (rc *rawClient) mustCall(method string, req, resp any) {
	rc.t.Helper()
	if err := rc.call(method, req, resp); err != nil {
		rc.t.Fatalf("%s: %v", method, err)
	}
}

func (rc *rawClient) recoverLease(src string) (bool, error) {
	var resp resultResp
	err := rc.call("recoverLease", recoverLeaseReq{Src: src, ClientName: rc.name}, &resp)
	return resp.Result, err
}

func (rc *rawClient) isFileClosed(src string) bool {
	rc.t.Helper()
	var resp resultResp
	rc.mustCall("isFileClosed", srcReq{Src: src}, &resp)
	return resp.Result
}

func (rc *rawClient) fsync(src string, lastBlockLength int64) error {
	return rc.call("fsync", fsyncReq{Src: src, Client: rc.name, LastBlockLength: lastBlockLength}, nil)
}

func (rc *rawClient) truncate(src string, size uint64) (bool, error) {
	var resp resultResp
	err := rc.call("truncate", truncateReq{Src: src, NewLength: size, ClientName: rc.name}, &resp)
	return resp.Result, err
}

// classOf returns the Java exception class of a rawClient error.
func classOf(err error) string {
	if re, ok := err.(*remoteError); ok {
		return re.class
	}
	return fmt.Sprint(err)
}

// pipeline is a raw DataTransferProtocol write of one block, packet by packet.
type pipeline struct {
	t     *testing.T
	conn  net.Conn
	r     *bufio.Reader
	seqno int64
	off   int64
}

// openPipeline sends WRITE_BLOCK for lb at stage and returns the DataNode's answer:
// nil and a pipeline on SUCCESS, else the error message.
func openPipeline(t *testing.T, c *Cluster, lb locatedBlock, client, stage string, gs uint64) (*pipeline, error) {
	t.Helper()
	conn, err := net.Dial("tcp", c.dn.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	op := opWriteBlock{
		Header:                clientOpHeader{BaseHeader: baseHeader{Block: lb.B, Token: &lb.BlockToken}, ClientName: client},
		Targets:               []datanodeInfo{},
		Stage:                 stage,
		MinBytesRcvd:          lb.B.NumBytes,
		MaxBytesRcvd:          lb.B.NumBytes,
		LatestGenerationStamp: gs,
		RequestedChecksum:     checksumProto{Type: "CHECKSUM_CRC32C", BytesPerChecksum: bytesPerChecksum},
	}
	hdr := []byte{0, dataTransferVersion, opCodeWriteBlock}
	if _, err := conn.Write(append(hdr, delimited(mustEncode(t, msgOpWriteBlock, op))...)); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	b, err := readDelimited(r, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	var resp blockOpResponse
	if err := decodeProto(msgBlockOpResponse, b, &resp); err != nil {
		t.Fatal(err)
	}
	if resp.Status != "SUCCESS" {
		return nil, fmt.Errorf("%s: %s", resp.Status, resp.Message)
	}
	return &pipeline{t: t, conn: conn, r: r, seqno: 1, off: int64(lb.B.NumBytes)}, nil
}

// send writes one packet of data (checksummed per chunk from the packet's start, as
// clients do) and returns the ack's status.
func (p *pipeline) send(data []byte, sync, last bool) string {
	p.t.Helper()
	var sums []uint32
	for i := 0; i < len(data); i += bytesPerChecksum {
		sums = append(sums, crc32.Checksum(data[i:min(len(data), i+bytesPerChecksum)], castagnoli))
	}
	h := packetHeader{OffsetInBlock: p.off, Seqno: p.seqno, DataLen: int32(len(data)), SyncBlock: sync, LastPacketInBlock: last}
	if err := writePacket(p.conn, h, sums, data); err != nil {
		p.t.Fatal(err)
	}
	p.seqno++
	p.off += int64(len(data))
	b, err := readDelimited(p.r, 1<<10)
	if err == io.EOF {
		return "EOF"
	}
	if err != nil {
		return err.Error()
	}
	var a pipelineAck
	if err := decodeProto(msgPipelineAck, b, &a); err != nil {
		p.t.Fatal(err)
	}
	return a.Reply[0]
}

// replicaSize is the number of bytes the DataNode holds of block id.
func (c *Cluster) replicaSize(id uint64) int64 {
	_, n := c.dn.syncedLength(id)
	return n
}
