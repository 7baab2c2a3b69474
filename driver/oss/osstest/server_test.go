package osstest_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"hash/crc64"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	sdk "github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/credentials"

	"github.com/unifiedfs/unifiedfs/driver/oss/osstest"
)

var bg = context.Background()

func client(srv *osstest.Server, secret string, v1 bool) *sdk.Client {
	cfg := sdk.NewConfig().WithEndpoint(srv.URL).WithRegion(srv.Region).WithUsePathStyle(true).
		WithRetryMaxAttempts(1).
		WithCredentialsProvider(credentials.NewStaticCredentialsProvider(srv.AccessKeyID, secret))
	if v1 {
		cfg = cfg.WithSignatureVersion(sdk.SignatureVersionV1)
	}
	return sdk.NewClient(cfg)
}

func serviceErr(t *testing.T, err error) *sdk.ServiceError {
	t.Helper()
	var se *sdk.ServiceError
	if !errors.As(err, &se) {
		t.Fatalf("want a ServiceError, got %v", err)
	}
	if se.RequestID == "" {
		t.Fatal("error without x-oss-request-id")
	}
	return se
}

func TestSignatures(t *testing.T) {
	srv := osstest.NewServer(t, osstest.WithBuckets("bkt"))
	for _, v1 := range []bool{false, true} {
		t.Run(fmt.Sprintf("v1=%v", v1), func(t *testing.T) {
			good := client(srv, srv.AccessKeySecret, v1)
			key := "odd key+%/ü?&=.txt"
			if _, err := good.PutObject(bg, &sdk.PutObjectRequest{Bucket: sdk.Ptr("bkt"), Key: sdk.Ptr(key),
				Body: strings.NewReader("x"), Metadata: map[string]string{"a": "b"}}); err != nil {
				t.Fatalf("signed put: %v", err)
			}
			if _, err := good.ListObjectsV2(bg, &sdk.ListObjectsV2Request{Bucket: sdk.Ptr("bkt"),
				Prefix: sdk.Ptr("odd key+"), StartAfter: sdk.Ptr("a b"), ContinuationToken: nil}); err != nil {
				t.Fatalf("signed list with odd query: %v", err)
			}
			bad := client(srv, "wrong", v1)
			_, err := bad.HeadObject(bg, &sdk.HeadObjectRequest{Bucket: sdk.Ptr("bkt"), Key: sdk.Ptr(key)})
			se := serviceErr(t, err)
			if se.StatusCode != 403 || se.Code != "SignatureDoesNotMatch" {
				t.Fatalf("HEAD with a wrong secret: %d %s", se.StatusCode, se.Code)
			}
			_, err = bad.GetObject(bg, &sdk.GetObjectRequest{Bucket: sdk.Ptr("bkt"), Key: sdk.Ptr(key)})
			if se := serviceErr(t, err); se.Code != "SignatureDoesNotMatch" {
				t.Fatalf("GET with a wrong secret: %s", se.Code)
			}
		})
	}
}

func TestRawErrorShapes(t *testing.T) {
	srv := osstest.NewServer(t, osstest.WithBuckets("bkt"))
	resp, err := http.Get(srv.URL + "/bkt/some-key")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var doc struct {
		XMLName   xml.Name `xml:"Error"`
		Code      string
		Message   string
		RequestId string
	}
	if err := xml.Unmarshal(body, &doc); err != nil {
		t.Fatalf("error body is not an <Error> document: %v\n%s", err, body)
	}
	if resp.StatusCode != 403 || doc.Code != "AccessDenied" || doc.RequestId == "" ||
		resp.Header.Get("x-oss-request-id") != doc.RequestId {
		t.Fatalf("anonymous GET: %d %+v (header id %q)", resp.StatusCode, doc, resp.Header.Get("x-oss-request-id"))
	}

	// HEAD errors travel base64-encoded in x-oss-err.
	c := client(srv, srv.AccessKeySecret, false)
	_, err = c.HeadObject(bg, &sdk.HeadObjectRequest{Bucket: sdk.Ptr("bkt"), Key: sdk.Ptr("missing")})
	se := serviceErr(t, err)
	if se.StatusCode != 404 || se.Code != "NoSuchKey" {
		t.Fatalf("HEAD missing: %d %s", se.StatusCode, se.Code)
	}
	raw, _ := base64.StdEncoding.DecodeString(se.Headers.Get("x-oss-err"))
	if !bytes.Contains(raw, []byte("<Code>NoSuchKey</Code>")) {
		t.Fatalf("x-oss-err = %q", raw)
	}
	_, err = c.HeadObject(bg, &sdk.HeadObjectRequest{Bucket: sdk.Ptr("nobucket"), Key: sdk.Ptr("k")})
	if se := serviceErr(t, err); se.Code != "NoSuchBucket" {
		t.Fatalf("HEAD in a missing bucket: %s", se.Code)
	}
}

func TestClockSkew(t *testing.T) {
	srv := osstest.NewServer(t, osstest.WithBuckets("bkt"), osstest.WithClock(func() time.Time {
		return time.Now().Add(time.Hour)
	}))
	c := client(srv, srv.AccessKeySecret, false)
	_, err := c.GetBucketInfo(bg, &sdk.GetBucketInfoRequest{Bucket: sdk.Ptr("bkt")})
	if se := serviceErr(t, err); se.StatusCode != 403 || se.Code != "RequestTimeTooSkewed" {
		t.Fatalf("skewed clock: %d %s", se.StatusCode, se.Code)
	}
}

func TestObjectsETagCRCRange(t *testing.T) {
	srv := osstest.NewServer(t, osstest.WithBuckets("bkt"))
	c := client(srv, srv.AccessKeySecret, false)
	data := []byte("hello, oss")
	res, err := c.PutObject(bg, &sdk.PutObjectRequest{Bucket: sdk.Ptr("bkt"), Key: sdk.Ptr("k"), Body: bytes.NewReader(data)})
	if err != nil {
		t.Fatal(err) // the SDK checks the returned CRC-64 itself
	}
	sum := md5.Sum(data)
	if *res.ETag != `"`+strings.ToUpper(hex.EncodeToString(sum[:]))+`"` {
		t.Fatalf("ETag %s", *res.ETag)
	}
	if want := strconv.FormatUint(crc64.Checksum(data, crc64.MakeTable(crc64.ECMA)), 10); *res.HashCRC64 != want {
		t.Fatalf("crc %s, want %s", *res.HashCRC64, want)
	}
	if _, err := c.PutObject(bg, &sdk.PutObjectRequest{Bucket: sdk.Ptr("bkt"), Key: sdk.Ptr("k"),
		Body: strings.NewReader("y"), ForbidOverwrite: sdk.Ptr("true")}); serviceErr(t, err).Code != "FileAlreadyExists" {
		t.Fatalf("forbid-overwrite: %v", err)
	}
	get := func(rng string, standard bool) (*sdk.GetObjectResult, error) {
		req := &sdk.GetObjectRequest{Bucket: sdk.Ptr("bkt"), Key: sdk.Ptr("k"), Range: sdk.Ptr(rng)}
		if standard {
			req.RangeBehavior = sdk.Ptr("standard")
		}
		return c.GetObject(bg, req)
	}
	r, err := get("bytes=7-100", false)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r.Body)
	if string(b) != "oss" || *r.ContentRange != "bytes 7-9/10" {
		t.Fatalf("range read %q %s", b, *r.ContentRange)
	}
	r, err = get("bytes=20-", false)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(r.Body); string(b) != string(data) {
		t.Fatalf("unsatisfiable range without standard behaviour should return the object, got %q", b)
	}
	if _, err = get("bytes=20-", true); serviceErr(t, err).StatusCode != 416 {
		t.Fatalf("standard behaviour: %v", err)
	}
	bad := &sdk.PutObjectRequest{Bucket: sdk.Ptr("bkt"), Key: sdk.Ptr("m"), Body: strings.NewReader("abc"),
		ContentMD5: sdk.Ptr(base64.StdEncoding.EncodeToString(make([]byte, 16)))}
	if _, err := c.PutObject(bg, bad); serviceErr(t, err).Code != "BadDigest" {
		t.Fatalf("wrong Content-MD5: %v", err)
	}
}

func TestMultipartChecks(t *testing.T) {
	srv := osstest.NewServer(t, osstest.WithBuckets("bkt"))
	c := client(srv, srv.AccessKeySecret, false)
	b, k := sdk.Ptr("bkt"), sdk.Ptr("mp")
	init, err := c.InitiateMultipartUpload(bg, &sdk.InitiateMultipartUploadRequest{Bucket: b, Key: k})
	if err != nil {
		t.Fatal(err)
	}
	part := func(n int32, size int) sdk.UploadPart {
		res, err := c.UploadPart(bg, &sdk.UploadPartRequest{Bucket: b, Key: k, UploadId: init.UploadId,
			PartNumber: n, Body: bytes.NewReader(bytes.Repeat([]byte{byte(n)}, size))})
		if err != nil {
			t.Fatal(err)
		}
		return sdk.UploadPart{PartNumber: n, ETag: res.ETag}
	}
	p2 := part(2, osstest.MinPartSize)
	p1 := part(1, 1000) // too small unless last
	complete := func(parts ...sdk.UploadPart) error {
		_, err := c.CompleteMultipartUpload(bg, &sdk.CompleteMultipartUploadRequest{Bucket: b, Key: k,
			UploadId: init.UploadId, CompleteMultipartUpload: &sdk.CompleteMultipartUpload{Parts: parts}})
		return err
	}
	if err := complete(p1, p2); serviceErr(t, err).Code != "EntityTooSmall" {
		t.Fatalf("small first part: %v", err)
	}
	if err := complete(sdk.UploadPart{PartNumber: 1, ETag: sdk.Ptr(`"00"`)}, p2); serviceErr(t, err).Code != "InvalidPart" {
		t.Fatalf("wrong ETag: %v", err)
	}
	if srv.Stats().OutOfOrderParts != 1 {
		t.Fatalf("out-of-order parts = %d, want 1", srv.Stats().OutOfOrderParts)
	}
	p1 = part(1, osstest.MinPartSize)
	if err := complete(p1, p2); err != nil {
		t.Fatal(err)
	}
	etag, _ := srv.ETag("bkt", "mp")
	if !strings.HasSuffix(etag, `-2"`) {
		t.Fatalf("multipart ETag %s", etag)
	}
	if _, err := c.AbortMultipartUpload(bg, &sdk.AbortMultipartUploadRequest{Bucket: b, Key: k, UploadId: init.UploadId}); serviceErr(t, err).Code != "NoSuchUpload" {
		t.Fatalf("abort after complete: %v", err)
	}
}

func TestListEncodingAndPaging(t *testing.T) {
	srv := osstest.NewServer(t, osstest.WithBuckets("bkt"))
	c := client(srv, srv.AccessKeySecret, false)
	keys := []string{"d/a+b c.txt", "d/%41", "d/ü", "d/sub/1", "d/sub/2", "d/z"}
	for _, k := range keys {
		srv.PutObject("bkt", k, []byte(k))
	}
	var got []string
	var token *string
	for pages := 0; ; pages++ {
		res, err := c.ListObjectsV2(bg, &sdk.ListObjectsV2Request{Bucket: sdk.Ptr("bkt"), Prefix: sdk.Ptr("d/"),
			Delimiter: sdk.Ptr("/"), MaxKeys: 2, ContinuationToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range res.Contents {
			got = append(got, *o.Key)
		}
		for _, p := range res.CommonPrefixes {
			got = append(got, *p.Prefix)
		}
		if !res.IsTruncated {
			break
		}
		token = res.NextContinuationToken
		if pages > 10 {
			t.Fatal("listing does not end")
		}
	}
	sort.Strings(got)
	want := "d/%41,d/a+b c.txt,d/sub/,d/z,d/ü"
	if strings.Join(got, ",") != want {
		t.Fatalf("listing %v, want %s", got, want)
	}
}

func TestConditionalGet(t *testing.T) {
	srv := osstest.NewServer(t, osstest.WithBuckets("bkt"))
	c := client(srv, srv.AccessKeySecret, false)
	if _, err := c.PutObject(bg, &sdk.PutObjectRequest{Bucket: sdk.Ptr("bkt"), Key: sdk.Ptr("k"), Body: strings.NewReader("v1")}); err != nil {
		t.Fatal(err)
	}
	etag, _ := srv.ETag("bkt", "k")
	res, err := c.GetObject(bg, &sdk.GetObjectRequest{Bucket: sdk.Ptr("bkt"), Key: sdk.Ptr("k"), IfMatch: sdk.Ptr(etag),
		Range: sdk.Ptr("bytes=1-"), RangeBehavior: sdk.Ptr("standard")})
	if err != nil {
		t.Fatalf("GET If-Match the current ETag: %v", err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(body) != "1" || res.StatusCode != 206 {
		t.Fatalf("ranged GET If-Match: %d %q", res.StatusCode, body)
	}
	for _, tag := range []string{`"0123456789ABCDEF0123456789ABCDEF"`, "0123456789ABCDEF0123456789ABCDEF"} {
		_, err = c.GetObject(bg, &sdk.GetObjectRequest{Bucket: sdk.Ptr("bkt"), Key: sdk.Ptr("k"), IfMatch: sdk.Ptr(tag),
			Range: sdk.Ptr("bytes=100-"), RangeBehavior: sdk.Ptr("standard")})
		if se := serviceErr(t, err); se.StatusCode != 412 || se.Code != "PreconditionFailed" {
			t.Fatalf("GET If-Match another ETag (and an unsatisfiable range): %d %s, want 412 PreconditionFailed first", se.StatusCode, se.Code)
		}
	}
	_, err = c.HeadObject(bg, &sdk.HeadObjectRequest{Bucket: sdk.Ptr("bkt"), Key: sdk.Ptr("k"), IfMatch: sdk.Ptr(`"nope"`)})
	if se := serviceErr(t, err); se.StatusCode != 412 {
		t.Fatalf("HEAD If-Match another ETag: %d", se.StatusCode)
	}
	_, err = c.GetObject(bg, &sdk.GetObjectRequest{Bucket: sdk.Ptr("bkt"), Key: sdk.Ptr("missing"), IfMatch: sdk.Ptr(etag)})
	if se := serviceErr(t, err); se.StatusCode != 404 || se.Code != "NoSuchKey" {
		t.Fatalf("GET If-Match of a missing key: %d %s, want 404 NoSuchKey", se.StatusCode, se.Code)
	}
	_, err = c.GetObject(bg, &sdk.GetObjectRequest{Bucket: sdk.Ptr("bkt"), Key: sdk.Ptr("k"), IfNoneMatch: sdk.Ptr(etag)})
	var se *sdk.ServiceError
	if !errors.As(err, &se) || se.StatusCode != 304 {
		t.Fatalf("GET If-None-Match the current ETag: %v, want 304", err)
	}
}

func TestThrottlingFaultCarriesRetryAfter(t *testing.T) {
	srv := osstest.NewServer(t, osstest.WithBuckets("bkt"))
	c := client(srv, srv.AccessKeySecret, false)
	srv.Inject(osstest.Fault{Op: "ListObjectsV2", Status: 503, Code: "SlowDown", Header: http.Header{"Retry-After": {"7"}}})
	_, err := c.ListObjectsV2(bg, &sdk.ListObjectsV2Request{Bucket: sdk.Ptr("bkt")})
	se := serviceErr(t, err)
	if se.StatusCode != 503 || se.Code != "SlowDown" || se.Headers.Get("Retry-After") != "7" {
		t.Fatalf("throttling answer: %d %s Retry-After %q", se.StatusCode, se.Code, se.Headers.Get("Retry-After"))
	}
}

func TestDenyDeleteFailsSingleKeysOfABatch(t *testing.T) {
	srv := osstest.NewServer(t, osstest.WithBuckets("bkt"))
	c := client(srv, srv.AccessKeySecret, false)
	for _, k := range []string{"a", "locked/b", "c"} {
		srv.PutObject("bkt", k, []byte(k))
	}
	srv.DenyDelete("bkt", "locked/")
	del := []sdk.DeleteObject{{Key: sdk.Ptr("a")}, {Key: sdk.Ptr("locked/b")}, {Key: sdk.Ptr("c")}}
	res, err := c.DeleteMultipleObjects(bg, &sdk.DeleteMultipleObjectsRequest{Bucket: sdk.Ptr("bkt"), Objects: del})
	if err != nil {
		t.Fatal(err)
	}
	var deleted []string
	for _, d := range res.DeletedObjects {
		deleted = append(deleted, sdk.ToString(d.Key))
	}
	if strings.Join(deleted, ",") != "a,c" || strings.Join(srv.Keys("bkt"), ",") != "locked/b" {
		t.Fatalf("verbose batch delete listed %v, left %v", deleted, srv.Keys("bkt"))
	}
	_, err = c.DeleteObject(bg, &sdk.DeleteObjectRequest{Bucket: sdk.Ptr("bkt"), Key: sdk.Ptr("locked/b")})
	if se := serviceErr(t, err); se.StatusCode != 403 || se.Code != "AccessDenied" {
		t.Fatalf("DeleteObject of a denied key: %d %s", se.StatusCode, se.Code)
	}
}
