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

// fileID names a segment (by the seq of its first entry) or a checkpoint (by the seq it
// covers), with the epoch of the leader that wrote it (0: a single-process journal).
type fileID struct{ seq, epoch uint64 }

func segmentName(first uint64) string  { return segName(fileID{first, 0}) }
func checkpointName(seq uint64) string { return ckptName(fileID{seq, 0}) }
func segName(id fileID) string         { return numberedName(segmentPrefix, id) }
func ckptName(id fileID) string        { return numberedName(checkpointPrefix, id) }
func recordSize(data []byte) int64     { return int64(recordHeader + len(data)) }

func numberedName(prefix string, id fileID) string {
	if id.epoch == 0 {
		return fmt.Sprintf("%s%020d", prefix, id.seq)
	}
	return fmt.Sprintf("%s%020d-%020d", prefix, id.seq, id.epoch)
}

func parseSegmentID(n string) (fileID, bool)    { return parseNumbered(n, segmentPrefix) }
func parseCheckpointID(n string) (fileID, bool) { return parseNumbered(n, checkpointPrefix) }

// parseSegmentName returns the first seq of the segment named n.
func parseSegmentName(n string) (uint64, bool) {
	id, ok := parseSegmentID(n)
	return id.seq, ok
}

// parseNumbered parses "<prefix><20 digits>" (epoch 0) and "<prefix><20 digits>-<20 digits>".
func parseNumbered(name, prefix string) (fileID, bool) {
	s, ok := strings.CutPrefix(name, prefix)
	if !ok || len(s) != 20 && len(s) != 41 {
		return fileID{}, false
	}
	seq, err := strconv.ParseUint(s[:20], 10, 64)
	if err != nil {
		return fileID{}, false
	}
	if len(s) == 20 {
		return fileID{seq, 0}, true
	}
	if s[20] != '-' {
		return fileID{}, false
	}
	epoch, err := strconv.ParseUint(s[21:], 10, 64)
	return fileID{seq, epoch}, err == nil && epoch > 0
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
