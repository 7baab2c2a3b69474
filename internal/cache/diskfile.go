package cache

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// Block file format, one file per block, written to tmp/ and renamed into
// blocks/<id%256>/<id>-<gen>-<idx>-<seq>.<pin|blk> (hex numbers). The suffix
// says whether the block is pinned, so pinned-ness survives a restart and Unpin
// is a rename; seq makes every file name unique, so removing an old file never
// removes a newer file of the same block.
//
//	0  "UFSB"      4  version (1)
//	8  id          16 gen          24 idx         32 length (all uint64 LE)
//	40 CRC-32C of the data          44 CRC-32C of bytes 0..43
//	48 data (length bytes)
const (
	hdrSize    = 48
	hdrMagic   = "UFSB"
	hdrVersion = 1
	extPinned  = ".pin"
	extBlock   = ".blk"
)

var (
	crcTable   = crc32.MakeTable(crc32.Castagnoli)
	errCorrupt = errors.New("cache: corrupt block file")
)

// diskEntry is one block file. Its pinned flag is guarded by Cache.mu; path and
// removed by its own mutex, so renames and removals need no global lock.
type diskEntry struct {
	k      key
	size   int64
	seq    uint64
	pinned bool

	mu      sync.Mutex
	path    string
	removed bool
}

func blockName(k key, seq uint64, pinned bool) string {
	ext := extBlock
	if pinned {
		ext = extPinned
	}
	return fmt.Sprintf("%016x-%016x-%x-%x%s", k.id, k.gen, k.idx, seq, ext)
}

// parseBlockName parses a name made by blockName.
func parseBlockName(name string) (k key, seq uint64, pinned bool, ok bool) {
	base, ext := name, filepath.Ext(name)
	switch ext {
	case extPinned:
		pinned = true
	case extBlock:
	default:
		return k, 0, false, false
	}
	parts := strings.Split(strings.TrimSuffix(base, ext), "-")
	if len(parts) != 4 {
		return k, 0, false, false
	}
	var v [4]uint64
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 16, 64)
		if err != nil {
			return k, 0, false, false
		}
		v[i] = n
	}
	if v[2] > 1<<62 {
		return k, 0, false, false
	}
	return key{v[0], v[1], int64(v[2])}, v[3], pinned, true
}

func encodeHeader(k key, data []byte) []byte {
	h := make([]byte, hdrSize)
	copy(h, hdrMagic)
	binary.LittleEndian.PutUint32(h[4:], hdrVersion)
	binary.LittleEndian.PutUint64(h[8:], k.id)
	binary.LittleEndian.PutUint64(h[16:], k.gen)
	binary.LittleEndian.PutUint64(h[24:], uint64(k.idx))
	binary.LittleEndian.PutUint64(h[32:], uint64(len(data)))
	binary.LittleEndian.PutUint32(h[40:], crc32.Checksum(data, crcTable))
	binary.LittleEndian.PutUint32(h[44:], crc32.Checksum(h[:44], crcTable))
	return h
}

// decodeHeader checks a header against the key it should hold and returns the
// data length and checksum.
func decodeHeader(h []byte, k key) (length int64, sum uint32, err error) {
	if len(h) != hdrSize || string(h[:4]) != hdrMagic ||
		binary.LittleEndian.Uint32(h[4:]) != hdrVersion ||
		binary.LittleEndian.Uint32(h[44:]) != crc32.Checksum(h[:44], crcTable) {
		return 0, 0, errCorrupt
	}
	got := key{binary.LittleEndian.Uint64(h[8:]), binary.LittleEndian.Uint64(h[16:]), int64(binary.LittleEndian.Uint64(h[24:]))}
	n := binary.LittleEndian.Uint64(h[32:])
	if got != k || n > maxBlockSize {
		return 0, 0, errCorrupt
	}
	return int64(n), binary.LittleEndian.Uint32(h[40:]), nil
}

// writeBlockFile writes data as a block file via a temp file and a rename.
// With durable, the file and its directory are fsynced before it returns.
func writeBlockFile(dir string, k key, seq uint64, pinned, durable bool, data []byte) (string, error) {
	final := filepath.Join(dir, "blocks", fmt.Sprintf("%02x", k.id&0xff), blockName(k, seq, pinned))
	tmp := filepath.Join(dir, "tmp", strconv.FormatUint(seq, 16)+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("cache: writing block: %w", err)
	}
	_, err = f.Write(encodeHeader(k, data))
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil && durable {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, final)
	}
	if err == nil && durable {
		err = syncDir(filepath.Dir(final))
	}
	if err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("cache: writing block: %w", err)
	}
	return final, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// readBlockFile reads and verifies the block file of e into buf (of e.size
// bytes). Any failure (missing, truncated, trailing bytes, wrong key, bad
// checksum, I/O error) wraps errCorrupt.
func readBlockFile(e *diskEntry, buf []byte) ([]byte, error) {
	e.mu.Lock()
	if e.removed {
		e.mu.Unlock()
		return nil, fmt.Errorf("block file removed: %w", errCorrupt)
	}
	f, err := os.Open(e.path)
	e.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errCorrupt, err)
	}
	defer f.Close()
	h := make([]byte, hdrSize)
	if _, err := io.ReadFull(f, h); err != nil {
		return nil, fmt.Errorf("%w: %w", errCorrupt, err)
	}
	n, sum, err := decodeHeader(h, e.k)
	if err != nil || n != e.size || int64(len(buf)) != n {
		return nil, errCorrupt
	}
	if st, err := f.Stat(); err != nil || st.Size() != hdrSize+n {
		return nil, errCorrupt
	}
	if _, err := io.ReadFull(f, buf); err != nil {
		return nil, fmt.Errorf("%w: %w", errCorrupt, err)
	}
	if crc32.Checksum(buf, crcTable) != sum {
		return nil, errCorrupt
	}
	return buf, nil
}

// readHeaderFile verifies the header of a block file found at startup and
// returns the data length.
func readHeaderFile(path string, k key) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	h := make([]byte, hdrSize)
	if _, err := io.ReadFull(f, h); err != nil {
		return 0, errCorrupt
	}
	n, _, err := decodeHeader(h, k)
	if err != nil {
		return 0, err
	}
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if st.Size() != hdrSize+n {
		return 0, errCorrupt
	}
	return n, nil
}

// removeFile deletes the file of e once.
func (e *diskEntry) removeFile() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.removed {
		e.removed = true
		os.Remove(e.path)
	}
}

// rename renames the file of e to mark it pinned or not.
func (e *diskEntry) rename(pinned bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.removed {
		return nil
	}
	np := filepath.Join(filepath.Dir(e.path), blockName(e.k, e.seq, pinned))
	if err := os.Rename(e.path, np); err != nil {
		return err
	}
	e.path = np
	return nil
}
