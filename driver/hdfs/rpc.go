package hdfs

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"
	"unsafe"

	hdfs "github.com/colinmarc/hdfs/v2"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/unifiedfs/unifiedfs/ufs"
)

// The client has no method for three ClientProtocol calls the driver needs: fsync
// (hflush's NameNode half, publishing the length of the last block), recoverLease and
// isFileClosed. They go through the client's own NameNode connection (its unexported
// namenode field, an *rpc.NamenodeConnection with an exported Execute method), so they
// share its authentication (Kerberos included), NameNode failover and client name, which
// is the lease holder the NameNode knows. TestClientInternals fails if a client upgrade
// moves that field. The messages are built from the descriptors the client registers.

// executor is the method set of the client's NameNode connection the driver uses.
type executor interface {
	Execute(method string, req, resp proto.Message) error
}

// namenode makes the calls the client lacks, as the client named name.
type namenode struct {
	x    executor
	name string
}

// namenodeOf returns c's NameNode connection.
func namenodeOf(c *hdfs.Client) (namenode, error) {
	v := reflect.ValueOf(c).Elem().FieldByName("namenode")
	if !v.IsValid() || v.Kind() != reflect.Pointer || v.IsNil() {
		return namenode{}, errors.New("the hdfs client has no namenode connection field")
	}
	x, ok := reflect.NewAt(v.Type(), unsafe.Pointer(v.UnsafeAddr())).Elem().Interface().(executor)
	if !ok {
		return namenode{}, fmt.Errorf("the hdfs client's namenode connection (%s) has no Execute method", v.Type())
	}
	return namenode{x: x, name: c.Name()}, nil
}

// call runs ClientProtocol method with the request fields (by .proto name) and returns
// the response.
func (n namenode) call(method string, fields map[string]any) (protoreflect.Message, error) {
	up := string(method[0]-'a'+'A') + method[1:]
	req, err := newMessage(up + "RequestProto")
	if err != nil {
		return nil, err
	}
	desc := req.Descriptor().Fields()
	for k, v := range fields {
		fd := desc.ByName(protoreflect.Name(k))
		if fd == nil {
			return nil, fmt.Errorf("hdfs: %s has no field %s", req.Descriptor().FullName(), k)
		}
		req.Set(fd, protoreflect.ValueOf(v))
	}
	resp, err := newMessage(up + "ResponseProto")
	if err != nil {
		return nil, err
	}
	if err := n.x.Execute(method, req.Interface(), resp.Interface()); err != nil {
		return nil, err
	}
	return resp, nil
}

func newMessage(name string) (protoreflect.Message, error) {
	mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName("hadoop.hdfs." + name))
	if err != nil {
		return nil, fmt.Errorf("hdfs: message %s: %w", name, err)
	}
	return mt.New(), nil
}

// result returns the bool "result" field of a response.
func result(m protoreflect.Message) bool {
	return m.Get(m.Descriptor().Fields().ByName("result")).Bool()
}

// fsync checks n's lease on the file and publishes the length of its last block
// (lastBlockLength < 0: leaves it).
func (n namenode) fsync(src string, fileID uint64, lastBlockLength int64) error {
	_, err := n.call("fsync", map[string]any{"src": src, "client": n.name, "lastBlockLength": lastBlockLength, "fileId": fileID})
	return err
}

// recoverLease starts lease recovery of src; it reports whether the file is closed.
func (n namenode) recoverLease(src string) (bool, error) {
	m, err := n.call("recoverLease", map[string]any{"src": src, "clientName": n.name})
	if err != nil {
		return false, err
	}
	return result(m), nil
}

func (n namenode) isFileClosed(src string) (bool, error) {
	m, err := n.call("isFileClosed", map[string]any{"src": src})
	if err != nil {
		return false, err
	}
	return result(m), nil
}

// waitClosed polls until the NameNode has closed the file at abs (a lease or truncate
// recovery finished), backing off from the completion delay up to a second.
func (f *FS) waitClosed(ctx context.Context, abs string) error {
	delay := min(f.set.completeDelay, 2*time.Millisecond)
	for {
		closed, err := f.nn.isFileClosed(abs)
		if err != nil {
			return err
		}
		if closed {
			return nil
		}
		if err := sleepCtx(ctx, delay); err != nil {
			return fmt.Errorf("waiting for the NameNode to close the file: %w", err)
		}
		delay = min(2*delay, time.Second)
	}
}

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// checkFile returns an error unless the absolute path abs is an existing file.
func (f *FS) checkFile(abs string) error {
	fi, err := f.client.Stat(abs)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return ufs.ErrIsDir
	}
	return nil
}
