package hdfs

import (
	"errors"
	"fmt"
	"net"
	"reflect"
	"sync"
	"time"
	"unsafe"

	hdfs "github.com/colinmarc/hdfs/v2"
)

// The client's NameNode connection keeps state that defeats retries after a network
// failure, so the driver resets it before each retry (reconnector.reset):
//
//   - a call whose answer did not arrive (a read timeout, a connection closed mid-answer,
//     a call id that does not match) leaves the connection open: the next call would
//     read the late answer of the previous one, and every later call would be off by one;
//   - a failed write or dial marks the NameNode as failed for 5 seconds (failover between
//     NameNodes), during which every call fails at once with "no available namenodes",
//     even with a single NameNode that is reachable again.
//
// reset closes the connection (the next call dials afresh, as the same client: leases
// are kept) and clears the failure marks, under the connection's own request lock. Like
// rpc.go it reaches unexported fields of the client (rpc.NamenodeConnection's conn,
// hostList[i].lastErrorAt and reqLock); TestClientInternals fails if an upgrade moves them.
type reconnector struct {
	lock  *sync.Mutex
	conn  *net.Conn
	hosts reflect.Value // []*namenodeHost
}

// reconnectorOf returns the reset hook of c's NameNode connection.
func reconnectorOf(c *hdfs.Client) (*reconnector, error) {
	v := reflect.ValueOf(c).Elem().FieldByName("namenode")
	if !v.IsValid() || v.Kind() != reflect.Pointer || v.IsNil() {
		return nil, errors.New("the hdfs client has no namenode connection field")
	}
	nc := v.Elem()
	lock, conn, hosts := nc.FieldByName("reqLock"), nc.FieldByName("conn"), nc.FieldByName("hostList")
	switch {
	case !lock.IsValid() || lock.Type() != reflect.TypeFor[sync.Mutex]():
		return nil, fmt.Errorf("the namenode connection (%s) has no reqLock mutex", nc.Type())
	case !conn.IsValid() || conn.Type() != reflect.TypeFor[net.Conn]():
		return nil, fmt.Errorf("the namenode connection (%s) has no conn field", nc.Type())
	case !hosts.IsValid() || hosts.Kind() != reflect.Slice || hosts.Type().Elem().Kind() != reflect.Pointer:
		return nil, fmt.Errorf("the namenode connection (%s) has no hostList", nc.Type())
	}
	if f, ok := hosts.Type().Elem().Elem().FieldByName("lastErrorAt"); !ok || f.Type != reflect.TypeFor[time.Time]() {
		return nil, fmt.Errorf("the namenode hosts (%s) have no lastErrorAt time", hosts.Type().Elem())
	}
	return &reconnector{
		lock:  (*sync.Mutex)(unsafe.Pointer(lock.UnsafeAddr())),
		conn:  (*net.Conn)(unsafe.Pointer(conn.UnsafeAddr())),
		hosts: reflect.NewAt(hosts.Type(), unsafe.Pointer(hosts.UnsafeAddr())).Elem(),
	}, nil
}

// reset closes the NameNode connection and forgets the NameNodes' recent failures. It
// waits for a call in progress (another goroutine's) to end.
func (r *reconnector) reset() {
	if r == nil {
		return
	}
	r.lock.Lock()
	defer r.lock.Unlock()
	if *r.conn != nil {
		_ = (*r.conn).Close()
		*r.conn = nil
	}
	for i := range r.hosts.Len() {
		f := r.hosts.Index(i).Elem().FieldByName("lastErrorAt")
		*(*time.Time)(unsafe.Pointer(f.UnsafeAddr())) = time.Time{}
	}
}
