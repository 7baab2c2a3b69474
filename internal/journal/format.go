package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"
)

// ErrCorrupt is wrapped when something before the tail is damaged: a bad record followed
// by good ones, a damaged older segment, a gap in the sequence, or no valid checkpoint
// to start from. A torn tail is not an error: it is cut.
var ErrCorrupt = errors.New("journal: corrupt")

// MaxRecordSize is the largest entry Append accepts.
const MaxRecordSize = 64 << 20

const (
	recordHeader     = 16
	checkpointHeader = 32
	checkpointMagic  = "UFSJCKP1"
	segmentPrefix    = "log-"
	checkpointPrefix = "checkpoint-"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func segmentName(first uint64) string             { return fmt.Sprintf("%s%020d", segmentPrefix, first) }
func checkpointName(seq uint64) string            { return fmt.Sprintf("%s%020d", checkpointPrefix, seq) }
func recordSize(data []byte) int64                { return int64(recordHeader + len(data)) }
func parseSegmentName(n string) (uint64, bool)    { return parseNumbered(n, segmentPrefix) }
func parseCheckpointName(n string) (uint64, bool) { return parseNumbered(n, checkpointPrefix) }

func parseNumbered(name, prefix string) (uint64, bool) {
	s, ok := strings.CutPrefix(name, prefix)
	if !ok || len(s) != 20 {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 10, 64)
	return v, err == nil
}

// appendRecord appends the encoding of (seq, data) to buf.
func appendRecord(buf []byte, seq uint64, data []byte) []byte {
	var h [recordHeader]byte
	binary.LittleEndian.PutUint32(h[0:], uint32(len(data)))
	binary.LittleEndian.PutUint64(h[8:], seq)
	binary.LittleEndian.PutUint32(h[4:], recordCRC(h[:], data))
	buf = append(buf, h[:]...)
	return append(buf, data...)
}

func recordCRC(h []byte, data []byte) uint32 {
	c := crc32.Update(0, castagnoli, h[0:4])
	c = crc32.Update(c, castagnoli, h[8:16])
	return crc32.Update(c, castagnoli, data)
}

// parseRecord decodes the record at b[0:]. ok is false when b holds no complete record
// with a valid checksum.
func parseRecord(b []byte) (seq uint64, data []byte, n int, ok bool) {
	if len(b) < recordHeader {
		return 0, nil, 0, false
	}
	l := binary.LittleEndian.Uint32(b[0:])
	if l > MaxRecordSize || uint64(l) > uint64(len(b)-recordHeader) {
		return 0, nil, 0, false
	}
	n = recordHeader + int(l)
	data = b[recordHeader:n]
	if binary.LittleEndian.Uint32(b[4:]) != recordCRC(b[:recordHeader], data) {
		return 0, nil, 0, false
	}
	return binary.LittleEndian.Uint64(b[8:]), data, n, true
}

// encodeCheckpoint returns a checkpoint file's content.
func encodeCheckpoint(seq uint64, payload []byte) []byte {
	b := make([]byte, checkpointHeader, checkpointHeader+len(payload))
	copy(b, checkpointMagic)
	binary.LittleEndian.PutUint64(b[8:], seq)
	binary.LittleEndian.PutUint64(b[16:], uint64(len(payload)))
	c := crc32.Update(0, castagnoli, b[:24])
	binary.LittleEndian.PutUint32(b[24:], crc32.Update(c, castagnoli, payload))
	return append(b, payload...)
}

// decodeCheckpoint validates a checkpoint file named for seq and returns its payload.
func decodeCheckpoint(seq uint64, b []byte) ([]byte, error) {
	if len(b) < checkpointHeader || string(b[:8]) != checkpointMagic {
		return nil, errors.New("bad header")
	}
	if s := binary.LittleEndian.Uint64(b[8:]); s != seq {
		return nil, fmt.Errorf("header covers seq %d, name says %d", s, seq)
	}
	if l := binary.LittleEndian.Uint64(b[16:]); l != uint64(len(b)-checkpointHeader) {
		return nil, fmt.Errorf("payload is %d bytes, header says %d", len(b)-checkpointHeader, l)
	}
	c := crc32.Update(0, castagnoli, b[:24])
	if crc32.Update(c, castagnoli, b[checkpointHeader:]) != binary.LittleEndian.Uint32(b[24:]) {
		return nil, errors.New("checksum mismatch")
	}
	return b[checkpointHeader:], nil
}
