package kodotest

import (
	"crypto/md5"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
)

const etagBlock = 4 << 20

// Etag returns Kodo's hash ("qetag") of data: for at most 4 MiB, 0x16 followed by the SHA-1
// of the data; above, 0x96 followed by the SHA-1 of the concatenated SHA-1s of each 4 MiB
// block; URL-safe base64 encoded.
func Etag(data []byte) string {
	if len(data) <= etagBlock {
		sum := sha1.Sum(data)
		return base64.URLEncoding.EncodeToString(append([]byte{0x16}, sum[:]...))
	}
	var all []byte
	for off := 0; off < len(data); off += etagBlock {
		end := min(off+etagBlock, len(data))
		sum := sha1.Sum(data[off:end])
		all = append(all, sum[:]...)
	}
	sum := sha1.Sum(all)
	return base64.URLEncoding.EncodeToString(append([]byte{0x96}, sum[:]...))
}

func md5Hex(data []byte) string {
	sum := md5.Sum(data)
	return hex.EncodeToString(sum[:])
}
