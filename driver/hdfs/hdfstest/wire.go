package hdfstest

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	// The client registers the Hadoop protobuf descriptors (hadoop.common.*,
	// hadoop.hdfs.*) in protoregistry.GlobalTypes; the server builds and parses the same
	// messages by full name instead of copying the generated code.
	_ "github.com/colinmarc/hdfs/v2"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// Messages cross the wire as protobuf and are bridged to small Go structs through
// protojson: decodeProto parses the wire bytes with the registered descriptor (so
// required fields are enforced exactly as protobuf does), renders them as JSON with
// the .proto field names, and unmarshals that into the Go struct; encodeProto goes the
// other way. 64-bit integers are JSON strings in protojson, hence the ",string" tags.

var (
	toJSON   = protojson.MarshalOptions{UseProtoNames: true}
	fromJSON = protojson.UnmarshalOptions{}
)

func newMessage(name string) (proto.Message, error) {
	mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(name))
	if err != nil {
		return nil, fmt.Errorf("hdfstest: message %s: %w", name, err)
	}
	return mt.New().Interface(), nil
}

// decodeProto parses b as the protobuf message called name into v.
func decodeProto(name string, b []byte, v any) error {
	m, err := newMessage(name)
	if err != nil {
		return err
	}
	if err := proto.Unmarshal(b, m); err != nil {
		return fmt.Errorf("parsing %s: %w", name, err)
	}
	if v == nil {
		return nil
	}
	j, err := toJSON.Marshal(m)
	if err != nil {
		return err
	}
	return json.Unmarshal(j, v)
}

// encodeProto serialises v as the protobuf message called name.
func encodeProto(name string, v any) ([]byte, error) {
	m, err := newMessage(name)
	if err != nil {
		return nil, err
	}
	j, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	if err := fromJSON.Unmarshal(j, m); err != nil {
		return nil, fmt.Errorf("building %s from %s: %w", name, j, err)
	}
	return proto.Marshal(m)
}

// delimited prefixes msg with its uvarint length, as Java's writeDelimitedTo does.
func delimited(msg []byte) []byte {
	out := binary.AppendUvarint(make([]byte, 0, len(msg)+5), uint64(len(msg)))
	return append(out, msg...)
}

// writeDelimited encodes v as the message name and writes it length-delimited.
func writeDelimited(w io.Writer, name string, v any) error {
	b, err := encodeProto(name, v)
	if err != nil {
		return err
	}
	_, err = w.Write(delimited(b))
	return err
}

// readDelimited reads one length-delimited message of at most max bytes.
func readDelimited(r *bufio.Reader, max int) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	if n > uint64(max) {
		return nil, fmt.Errorf("delimited message of %d bytes exceeds %d", n, max)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	return b, nil
}

// splitDelimited splits a buffer holding consecutive length-delimited messages.
func splitDelimited(b []byte) ([][]byte, error) {
	var out [][]byte
	for len(b) > 0 {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return nil, errors.New("malformed length-delimited message")
		}
		out = append(out, b[k:k+int(n)])
		b = b[k+int(n):]
	}
	return out, nil
}
