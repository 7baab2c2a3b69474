package s3test

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// Checksum algorithms S3 accepts (x-amz-checksum-<lower-case name>).
var checksumAlgs = map[string]func() hash.Hash{
	"CRC32":     func() hash.Hash { return crc32.NewIEEE() },
	"CRC32C":    func() hash.Hash { return crc32.New(crc32.MakeTable(crc32.Castagnoli)) },
	"CRC64NVME": func() hash.Hash { return crc64.New(crc64NVME) },
	"SHA1":      sha1.New,
	"SHA256":    sha256.New,
}

// crc64NVME is CRC-64/NVME (reflected polynomial 0x9A6C9329AC4BC9B5).
var crc64NVME = crc64.MakeTable(0x9A6C9329AC4BC9B5)

// checksumOf returns the base64 checksum of data with alg.
func checksumOf(alg string, data []byte) string {
	h := checksumAlgs[alg]()
	h.Write(data)
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// checksumHeader returns the checksum header of an algorithm.
func checksumHeader(alg string) string { return "x-amz-checksum-" + strings.ToLower(alg) }

// headerChecksum returns the one x-amz-checksum-<alg> header of h, if any.
func headerChecksum(h http.Header) (alg, value string, e *s3Error) {
	for name := range h {
		ln := strings.ToLower(name)
		a, ok := strings.CutPrefix(ln, "x-amz-checksum-")
		if !ok || a == "algorithm" || a == "mode" || a == "type" {
			continue
		}
		if alg != "" {
			return "", "", errInvalidRequest("Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
		}
		alg, value = strings.ToUpper(a), h.Get(name)
		if checksumAlgs[alg] == nil {
			return "", "", errInvalidRequest("Value for x-amz-checksum-" + a + " header is invalid.")
		}
	}
	return alg, value, nil
}

// verifyChecksum checks a base64 checksum value against data.
func verifyChecksum(alg, value string, data []byte) *s3Error {
	raw, err := base64.StdEncoding.DecodeString(value)
	if err != nil || len(raw) != checksumAlgs[alg]().Size() {
		return errInvalidRequest("Value for " + checksumHeader(alg) + " header is invalid.")
	}
	if got := checksumOf(alg, data); got != value {
		return newErr(400, "BadDigest", "The "+alg+" you specified did not match the calculated checksum.")
	}
	return nil
}

// readBody reads the payload into c.body, decoding aws-chunked bodies, and checks it
// against x-amz-content-sha256, Content-MD5 and the x-amz-checksum-* header or trailer.
func readBody(c *call, payloadHash string) *s3Error {
	r := c.r
	if r.ContentLength < 0 && (c.op == "PutObject" || c.op == "UploadPart") {
		return newErr(411, "MissingContentLength", "You must provide the Content-Length HTTP header.")
	}
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return newErr(400, "IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header.")
	}
	alg, sum, e := headerChecksum(r.Header)
	if e != nil {
		return e
	}
	body := raw
	switch {
	case payloadHash == streamingUnsignedTrail:
		if !strings.Contains(r.Header.Get("Content-Encoding"), "aws-chunked") {
			return errInvalidRequest("STREAMING-UNSIGNED-PAYLOAD-TRAILER requires Content-Encoding: aws-chunked")
		}
		decoded, err := strconv.ParseInt(r.Header.Get("x-amz-decoded-content-length"), 10, 64)
		if err != nil {
			return newErr(411, "MissingContentLength", "You must provide the x-amz-decoded-content-length HTTP header.")
		}
		var trailers map[string]string
		if body, trailers, e = decodeAWSChunked(raw); e != nil {
			return e
		}
		if int64(len(body)) != decoded {
			return newErr(400, "IncompleteBody", "The decoded body length does not match x-amz-decoded-content-length.")
		}
		want := strings.ToLower(r.Header.Get("x-amz-trailer"))
		for k, v := range trailers {
			a, ok := strings.CutPrefix(k, "x-amz-checksum-")
			if !ok || k != want || checksumAlgs[strings.ToUpper(a)] == nil {
				return errInvalidRequest("The trailer " + k + " was not declared in x-amz-trailer or is not a checksum.")
			}
			if alg != "" {
				return errInvalidRequest("Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
			}
			alg, sum = strings.ToUpper(a), v
		}
		if want != "" && alg == "" {
			return errInvalidRequest("The trailer " + want + " declared in x-amz-trailer was not sent.")
		}
	case payloadHash == unsignedPayload:
	default:
		got := sha256.Sum256(raw)
		if g := hex.EncodeToString(got[:]); g != strings.ToLower(payloadHash) {
			return newErr(400, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed.",
				"ClientComputedContentSHA256", payloadHash, "S3ComputedContentSHA256", g)
		}
	}
	if v := r.Header.Get("Content-MD5"); v != "" {
		want, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(want) != md5.Size {
			return newErr(400, "InvalidDigest", "The Content-MD5 you specified was invalid.", "Content-MD5", v)
		}
		if got := md5.Sum(body); !bytes.Equal(got[:], want) {
			return newErr(400, "BadDigest", "The Content-MD5 you specified did not match what we received.",
				"ExpectedDigest", v, "CalculatedDigest", base64.StdEncoding.EncodeToString(got[:]))
		}
	}
	if alg != "" {
		if e := verifyChecksum(alg, sum, body); e != nil {
			return e
		}
	}
	c.body, c.checksumAlg, c.checksum = body, alg, sum
	return nil
}

// decodeAWSChunked decodes an unsigned aws-chunked body: "<hex size>\r\n<data>\r\n" chunks,
// a "0\r\n" chunk, trailer lines "name:value\r\n", and a final "\r\n".
func decodeAWSChunked(raw []byte) (data []byte, trailers map[string]string, e *s3Error) {
	bad := func(why string) *s3Error {
		return errInvalidRequest("The aws-chunked body is malformed: " + why)
	}
	br := bufio.NewReader(bytes.NewReader(raw))
	var out bytes.Buffer
	for {
		line, err := br.ReadString('\n')
		if err != nil || !strings.HasSuffix(line, "\r\n") {
			return nil, nil, bad("chunk header")
		}
		sizeHex := strings.TrimSuffix(line, "\r\n")
		if strings.Contains(sizeHex, ";") {
			return nil, nil, bad("chunk signatures are not allowed with an unsigned payload")
		}
		n, err := strconv.ParseInt(sizeHex, 16, 64)
		if err != nil || n < 0 {
			return nil, nil, bad("chunk size " + strconv.Quote(sizeHex))
		}
		if n == 0 {
			break
		}
		if _, err := io.CopyN(&out, br, n); err != nil {
			return nil, nil, bad("short chunk")
		}
		var crlf [2]byte
		if _, err := io.ReadFull(br, crlf[:]); err != nil || string(crlf[:]) != "\r\n" {
			return nil, nil, bad("chunk not terminated by CRLF")
		}
	}
	trailers = map[string]string{}
	for {
		line, err := br.ReadString('\n')
		if err != nil || !strings.HasSuffix(line, "\r\n") {
			return nil, nil, bad("trailer")
		}
		line = strings.TrimSuffix(line, "\r\n")
		if line == "" {
			break
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return nil, nil, bad("trailer " + strconv.Quote(line))
		}
		trailers[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
	}
	if br.Buffered() > 0 {
		return nil, nil, bad("data after the final CRLF")
	}
	return out.Bytes(), trailers, nil
}

// compositeChecksum is S3's checksum of a multipart object: the checksum of the
// concatenated binary part checksums, "-<parts>".
func compositeChecksum(alg string, partSums []string) string {
	h := checksumAlgs[alg]()
	for _, s := range partSums {
		raw, _ := base64.StdEncoding.DecodeString(s)
		h.Write(raw)
	}
	return base64.StdEncoding.EncodeToString(h.Sum(nil)) + "-" + strconv.Itoa(len(partSums))
}
