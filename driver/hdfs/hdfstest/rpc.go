package hdfstest

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
)

// Hadoop IPC (RPC v9) as the NameNode speaks it to a client over plain ("simple") auth:
//
//	"hrpc" | version 9 | service class | auth protocol 0
//	then frames: uint32 length | delimited RpcRequestHeaderProto | delimited body...
//
// The first frame carries call id -3 and an IpcConnectionContextProto naming the user and
// the protocol; every later frame carries a RequestHeaderProto and the request message.
// Responses are uint32 length | delimited RpcResponseHeaderProto | delimited response,
// with the Java exception class name in the header when a call fails.

const (
	clientProtocol       = "org.apache.hadoop.hdfs.protocol.ClientProtocol"
	ipcVersion           = 9
	connectionContextID  = -3
	maxRPCFrame          = 64 << 20 // ipc.maximum.data.length
	clientIDLength       = 16
	exNoSuchMethod       = "org.apache.hadoop.ipc.RpcNoSuchMethodException"
	exNoSuchProtocol     = "org.apache.hadoop.ipc.RpcNoSuchProtocolException"
	exStandby            = "org.apache.hadoop.ipc.StandbyException"
	exRPCServer          = "org.apache.hadoop.ipc.RpcServerException"
	exIPCVersionMismatch = "org.apache.hadoop.ipc.RPC$VersionMismatch"
	exFatalHeader        = "org.apache.hadoop.ipc.IpcException"
	exUnauthorized       = "org.apache.hadoop.security.AccessControlException"
)

// remoteError is an exception thrown by a handler: the Java class and its message.
type remoteError struct {
	class string
	msg   string
	code  string // RpcErrorCodeProto; ERROR_APPLICATION when empty
}

func (e *remoteError) Error() string { return e.class + ": " + e.msg }

func exception(class, format string, a ...any) error {
	return &remoteError{class: class, msg: fmt.Sprintf(format, a...)}
}

// call is one decoded RPC: the authenticated user and the raw request message.
type call struct {
	user    string
	method  string
	reqName string
	body    []byte
}

// parse decodes the request message into v.
func (c *call) parse(v any) error {
	if err := decodeProto(c.reqName, c.body, v); err != nil {
		return &remoteError{class: exRPCServer, code: "ERROR_RPC_SERVER", msg: err.Error()}
	}
	return nil
}

// handler serves one method: it parses c.body and returns the response message (a Go
// struct encoded as respName) or an error (a *remoteError becomes a Java exception).
type handler func(c *call) (any, error)

type method struct {
	reqName, respName string
	h                 handler
}

// rpcServer accepts Hadoop IPC connections and dispatches calls to methods.
type rpcServer struct {
	ln      net.Listener
	methods map[string]method
	before  func(c *call) error // runs before every call (standby mode, fault injection)
	// loseReply, when set, reports whether the answer to a call of method (already
	// executed) is lost: the connection closes instead.
	loseReply func(method string) bool

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func newRPCServer(ln net.Listener, methods map[string]method, before func(*call) error) *rpcServer {
	s := &rpcServer{ln: ln, methods: methods, before: before, conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go s.serve()
	return s
}

func (s *rpcServer) serve() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.conns == nil {
			s.mu.Unlock()
			conn.Close()
			return
		}
		s.conns[conn] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() {
				s.mu.Lock()
				delete(s.conns, conn)
				s.mu.Unlock()
				conn.Close()
			}()
			_ = s.serveConn(conn)
		}()
	}
}

// close stops accepting, drops every connection and waits for the handlers.
func (s *rpcServer) close() {
	s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.conns = nil
	s.mu.Unlock()
	s.wg.Wait()
}

// dropConnections closes the open client connections (the listener keeps accepting).
func (s *rpcServer) dropConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.Close()
	}
}

func (s *rpcServer) serveConn(conn net.Conn) error {
	r := bufio.NewReader(conn)
	var preamble [7]byte
	if _, err := io.ReadFull(r, preamble[:]); err != nil {
		return err
	}
	if string(preamble[:4]) != "hrpc" {
		// Hadoop answers a non-RPC request (typically HTTP) with a plain-text hint.
		_, _ = conn.Write([]byte("It looks like you are making an HTTP request to a Hadoop IPC port."))
		return errors.New("bad preamble")
	}
	if preamble[4] != ipcVersion {
		return writeFatal(conn, -1, exIPCVersionMismatch, "FATAL_VERSION_MISMATCH",
			fmt.Sprintf("Server IPC version %d cannot communicate with client version %d", ipcVersion, preamble[4]))
	}
	switch preamble[6] {
	case 0: // AuthProtocol.NONE: simple authentication
	default:
		// This cluster runs with hadoop.security.authentication=simple and no SASL.
		return writeFatal(conn, -33, exUnauthorized, "FATAL_UNAUTHORIZED",
			fmt.Sprintf("SASL auth protocol %#x is not enabled on this server (simple authentication)", preamble[6]))
	}

	var user string
	for {
		frame, err := readFrame(r)
		if err != nil {
			return err
		}
		parts, err := splitDelimited(frame)
		if err != nil || len(parts) == 0 {
			return writeFatal(conn, -1, exFatalHeader, "FATAL_DESERIALIZING_REQUEST", "malformed RPC frame")
		}
		var rh rpcRequestHeader
		if err := decodeProto(msgRPCRequestHeader, parts[0], &rh); err != nil {
			return writeFatal(conn, -1, exFatalHeader, "FATAL_INVALID_RPC_HEADER", err.Error())
		}
		if rh.RPCKind != "RPC_PROTOCOL_BUFFER" {
			return writeFatal(conn, rh.CallID, exFatalHeader, "FATAL_INVALID_RPC_HEADER", "unsupported RPC kind "+rh.RPCKind)
		}
		if rh.RPCOp != "" && rh.RPCOp != "RPC_FINAL_PACKET" {
			return writeFatal(conn, rh.CallID, exFatalHeader, "FATAL_INVALID_RPC_HEADER", "unsupported RPC op "+rh.RPCOp)
		}
		if len(rh.ClientID) != clientIDLength {
			return writeFatal(conn, rh.CallID, exFatalHeader, "FATAL_INVALID_RPC_HEADER",
				fmt.Sprintf("client id has %d bytes, want %d", len(rh.ClientID), clientIDLength))
		}
		if rh.CallID == connectionContextID {
			if user != "" {
				return writeFatal(conn, rh.CallID, exFatalHeader, "FATAL_INVALID_RPC_HEADER", "connection context already set")
			}
			var cc connectionContext
			if len(parts) != 2 || decodeProto(msgConnectionContext, parts[1], &cc) != nil {
				return writeFatal(conn, rh.CallID, exFatalHeader, "FATAL_DESERIALIZING_REQUEST", "bad connection context")
			}
			if cc.Protocol != clientProtocol {
				return writeFatal(conn, rh.CallID, exNoSuchProtocol, "FATAL_UNKNOWN",
					"Unknown protocol: "+cc.Protocol)
			}
			if cc.UserInfo == nil || cc.UserInfo.EffectiveUser == "" {
				return writeFatal(conn, rh.CallID, exUnauthorized, "FATAL_UNAUTHORIZED", "no effective user in connection context")
			}
			user = cc.UserInfo.EffectiveUser
			if i := strings.IndexAny(user, "@/"); i >= 0 { // a Kerberos principal's short name
				user = user[:i]
			}
			continue
		}
		if user == "" {
			return writeFatal(conn, rh.CallID, exFatalHeader, "FATAL_INVALID_RPC_HEADER", "Connection context not established")
		}
		if rh.CallID < 0 {
			return writeFatal(conn, rh.CallID, exFatalHeader, "FATAL_INVALID_RPC_HEADER", "negative call id")
		}
		if len(parts) != 3 {
			return writeFatal(conn, rh.CallID, exFatalHeader, "FATAL_DESERIALIZING_REQUEST", "want request header and request")
		}
		var hdr requestHeader
		if err := decodeProto(msgRequestHeader, parts[1], &hdr); err != nil {
			return writeFatal(conn, rh.CallID, exFatalHeader, "FATAL_DESERIALIZING_REQUEST", err.Error())
		}
		resp, rerr := s.dispatch(&call{user: user, method: hdr.MethodName, body: parts[2]}, hdr)
		if s.loseReply != nil && s.loseReply(hdr.MethodName) {
			return fmt.Errorf("hdfstest: the reply to %s is lost", hdr.MethodName)
		}
		if err := writeResponse(conn, rh, resp, rerr); err != nil {
			return err
		}
	}
}

func (s *rpcServer) dispatch(c *call, hdr requestHeader) ([]byte, error) {
	if hdr.DeclaringClassProtocolName != clientProtocol {
		return nil, &remoteError{class: exNoSuchProtocol, code: "ERROR_NO_SUCH_PROTOCOL",
			msg: "Unknown protocol: " + hdr.DeclaringClassProtocolName}
	}
	if hdr.ClientProtocolVersion != 1 {
		return nil, &remoteError{class: exIPCVersionMismatch, code: "ERROR_RPC_VERSION_MISMATCH",
			msg: fmt.Sprintf("protocol %s version mismatch: client %d, server 1", clientProtocol, hdr.ClientProtocolVersion)}
	}
	m, ok := s.methods[c.method]
	if !ok {
		return nil, &remoteError{class: exNoSuchMethod, code: "ERROR_NO_SUCH_METHOD",
			msg: fmt.Sprintf("Unknown method %s called on %s protocol.", c.method, clientProtocol)}
	}
	c.reqName = m.reqName
	if err := c.parse(nil); err != nil {
		return nil, err
	}
	if s.before != nil {
		if err := s.before(c); err != nil {
			return nil, err
		}
	}
	out, err := m.h(c)
	if err != nil {
		return nil, err
	}
	return encodeProto(m.respName, out)
}

func readFrame(r *bufio.Reader) ([]byte, error) {
	var n uint32
	if err := binary.Read(r, binary.BigEndian, &n); err != nil {
		return nil, err
	}
	if n > maxRPCFrame {
		return nil, fmt.Errorf("RPC frame of %d bytes exceeds ipc.maximum.data.length", n)
	}
	b := make([]byte, n)
	_, err := io.ReadFull(r, b)
	return b, err
}

func writeFrame(w io.Writer, msgs ...[]byte) error {
	var body bytes.Buffer
	for _, m := range msgs {
		body.Write(delimited(m))
	}
	out := binary.BigEndian.AppendUint32(make([]byte, 0, 4+body.Len()), uint32(body.Len()))
	_, err := w.Write(append(out, body.Bytes()...))
	return err
}

func writeResponse(w io.Writer, rh rpcRequestHeader, resp []byte, err error) error {
	h := rpcResponseHeader{CallID: uint32(rh.CallID), Status: "SUCCESS", ServerIPCVersionNum: ipcVersion,
		ClientID: rh.ClientID, RetryCount: -1}
	if err != nil {
		var re *remoteError
		if !errors.As(err, &re) {
			re = &remoteError{class: "java.io.IOException", msg: err.Error()}
		}
		h.Status, h.ExceptionClassName, h.ErrorMsg, h.ErrorDetail = "ERROR", re.class, re.msg, re.code
		if h.ErrorDetail == "" {
			h.ErrorDetail = "ERROR_APPLICATION"
		}
		hb, err := encodeProto(msgRPCResponseHeader, h)
		if err != nil {
			return err
		}
		return writeFrame(w, hb)
	}
	hb, err := encodeProto(msgRPCResponseHeader, h)
	if err != nil {
		return err
	}
	return writeFrame(w, hb, resp)
}

// writeFatal sends a FATAL response and reports the connection as finished.
func writeFatal(w io.Writer, callID int32, class, code, msg string) error {
	h := rpcResponseHeader{CallID: uint32(callID), Status: "FATAL", ServerIPCVersionNum: ipcVersion,
		ExceptionClassName: class, ErrorMsg: msg, ErrorDetail: code, RetryCount: -1}
	if hb, err := encodeProto(msgRPCResponseHeader, h); err == nil {
		_ = writeFrame(w, hb)
	}
	return fmt.Errorf("%s: %s", class, msg)
}
