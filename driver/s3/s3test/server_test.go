package s3test_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"hash/crc32"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/unifiedfs/unifiedfs/driver/s3/s3test"
)

var bg = context.Background()

// client is an SDK client for srv (path-style, no retries) with the given key pair.
func client(srv *s3test.Server, id, secret string, opts ...func(*s3.Options)) *s3.Client {
	return s3.New(s3.Options{
		Region:       srv.Region,
		BaseEndpoint: aws.String(srv.URL),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(id, secret, ""),
		Retryer:      aws.NopRetryer{},
	}, opts...)
}

func good(srv *s3test.Server, opts ...func(*s3.Options)) *s3.Client {
	return client(srv, srv.AccessKeyID, srv.SecretAccessKey, opts...)
}

// apiErr returns the S3 error code and HTTP status of err.
func apiErr(err error) (string, int) {
	var api smithy.APIError
	var re *awshttp.ResponseError
	code, status := "", 0
	if errors.As(err, &api) {
		code = api.ErrorCode()
	}
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	return code, status
}

func wantCode(t *testing.T, what string, err error, code string, status int) {
	t.Helper()
	c, s := apiErr(err)
	if c != code || s != status {
		t.Fatalf("%s: got %q/%d (%v), want %s/%d", what, c, s, err, code, status)
	}
}

func put(t *testing.T, c *s3.Client, bucket, key string, data []byte) *s3.PutObjectOutput {
	t.Helper()
	out, err := c.PutObject(bg, &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader(data)})
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	return out
}

func get(c *s3.Client, in *s3.GetObjectInput) ([]byte, *s3.GetObjectOutput, error) {
	out, err := c.GetObject(bg, in)
	if err != nil {
		return nil, nil, err
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	return b, out, err
}

// errorDoc is S3's error body.
type errorDoc struct {
	Code, Message, Region, HeadersNotSigned, StringToSign, CanonicalRequest string
}

// rawSigned sends a request signed with the SigV4 signer; tweak runs after signing.
func rawSigned(t *testing.T, srv *s3test.Server, method, path string, body []byte, secret, region string, at time.Time, tweak func(*http.Request)) (*http.Response, errorDoc) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	req.Header.Set("x-amz-content-sha256", hash)
	creds := aws.Credentials{AccessKeyID: srv.AccessKeyID, SecretAccessKey: secret}
	if err := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).
		SignHTTP(bg, creds, req, hash, "s3", region, at); err != nil {
		t.Fatal(err)
	}
	if tweak != nil {
		tweak(req)
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (*http.Response, errorDoc) {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var doc errorDoc
	if res.StatusCode >= 300 && len(b) > 0 {
		if err := xml.Unmarshal(b, &doc); err != nil {
			t.Fatalf("error body is not S3's XML: %q", b)
		}
	}
	res.Body = io.NopCloser(bytes.NewReader(b))
	return res, doc
}

func TestSignatureV4(t *testing.T) {
	srv := s3test.NewServer(t, s3test.WithBuckets("bkt"))
	c := good(srv)
	put(t, c, "bkt", "dir/a b+c%.txt", []byte("hello"))
	if b, _, err := get(c, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("dir/a b+c%.txt")}); err != nil || string(b) != "hello" {
		t.Fatalf("signed round trip: %q, %v", b, err)
	}

	t.Run("WrongSecret", func(t *testing.T) {
		_, err := client(srv, srv.AccessKeyID, "not-the-secret").ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("bkt")})
		wantCode(t, "wrong secret", err, "SignatureDoesNotMatch", 403)
	})
	t.Run("UnknownKey", func(t *testing.T) {
		_, err := client(srv, "AKIAUNKNOWN", srv.SecretAccessKey).ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("bkt")})
		wantCode(t, "unknown key", err, "InvalidAccessKeyId", 403)
	})
	t.Run("WrongRegion", func(t *testing.T) {
		res, doc := rawSigned(t, srv, "GET", "/bkt?list-type=2", nil, srv.SecretAccessKey, "eu-west-1", time.Now(), nil)
		if res.StatusCode != 400 || doc.Code != "AuthorizationHeaderMalformed" || doc.Region != srv.Region {
			t.Fatalf("wrong region: %d %+v", res.StatusCode, doc)
		}
	})
	t.Run("ClockSkew", func(t *testing.T) {
		res, doc := rawSigned(t, srv, "GET", "/bkt?list-type=2", nil, srv.SecretAccessKey, srv.Region, time.Now().Add(-16*time.Minute), nil)
		if res.StatusCode != 403 || doc.Code != "RequestTimeTooSkewed" {
			t.Fatalf("skewed clock: %d %+v", res.StatusCode, doc)
		}
		res, _ = rawSigned(t, srv, "GET", "/bkt?list-type=2", nil, srv.SecretAccessKey, srv.Region, time.Now().Add(-14*time.Minute), nil)
		if res.StatusCode != 200 {
			t.Fatalf("14 minutes of skew refused: %d", res.StatusCode)
		}
	})
	t.Run("SDKCorrectsSkewFromDate", func(t *testing.T) {
		skewed := s3test.NewServer(t, s3test.WithBuckets("bkt"), s3test.WithClock(func() time.Time { return time.Now().Add(time.Hour) }))
		_, err := good(skewed).ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("bkt")})
		wantCode(t, "no retries", err, "RequestTimeTooSkewed", 403)
		// With retries the SDK learns the offset from the Date header and succeeds.
		c := good(skewed, func(o *s3.Options) { o.Retryer = retry.NewStandard() })
		if _, err := c.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("bkt")}); err != nil {
			t.Fatalf("after skew correction: %v", err)
		}
	})
	t.Run("Anonymous", func(t *testing.T) {
		req, _ := http.NewRequest("GET", srv.URL+"/bkt/dir/x", nil)
		res, doc := do(t, req)
		if res.StatusCode != 403 || doc.Code != "AccessDenied" || res.Header.Get("Content-Type") != "application/xml" {
			t.Fatalf("anonymous: %d %+v", res.StatusCode, doc)
		}
		req, _ = http.NewRequest("HEAD", srv.URL+"/bkt/dir/x", nil)
		res, _ = do(t, req)
		if b, _ := io.ReadAll(res.Body); res.StatusCode != 403 || len(b) != 0 {
			t.Fatalf("anonymous HEAD: %d with %d body bytes (S3 sends none)", res.StatusCode, len(b))
		}
	})
	t.Run("UnsignedAmzHeader", func(t *testing.T) {
		res, doc := rawSigned(t, srv, "PUT", "/bkt/k", []byte("x"), srv.SecretAccessKey, srv.Region, time.Now(),
			func(r *http.Request) { r.Header.Set("x-amz-meta-sneaky", "1") })
		if res.StatusCode != 403 || doc.Code != "AccessDenied" || doc.HeadersNotSigned != "x-amz-meta-sneaky" {
			t.Fatalf("unsigned header: %d %+v", res.StatusCode, doc)
		}
	})
	t.Run("TamperedBody", func(t *testing.T) {
		res, doc := rawSigned(t, srv, "PUT", "/bkt/k", []byte("signed"), srv.SecretAccessKey, srv.Region, time.Now(),
			func(r *http.Request) { r.Body = io.NopCloser(strings.NewReader("forged")) })
		if res.StatusCode != 400 || doc.Code != "XAmzContentSHA256Mismatch" {
			t.Fatalf("tampered body: %d %+v", res.StatusCode, doc)
		}
		if _, ok := srv.Object("bkt", "k"); ok {
			t.Fatal("a forged body was stored")
		}
	})
	t.Run("TamperedPath", func(t *testing.T) {
		res, doc := rawSigned(t, srv, "GET", "/bkt/dir/x", nil, srv.SecretAccessKey, srv.Region, time.Now(),
			func(r *http.Request) { r.URL.Path = "/bkt/dir/y" })
		if res.StatusCode != 403 || doc.Code != "SignatureDoesNotMatch" || !strings.Contains(doc.CanonicalRequest, "/bkt/dir/y") {
			t.Fatalf("tampered path: %d %+v", res.StatusCode, doc)
		}
	})
	t.Run("MissingContentSHA256", func(t *testing.T) {
		res, doc := rawSigned(t, srv, "GET", "/bkt?list-type=2", nil, srv.SecretAccessKey, srv.Region, time.Now(),
			func(r *http.Request) { r.Header.Del("x-amz-content-sha256") })
		if res.StatusCode != 400 || doc.Code != "InvalidRequest" {
			t.Fatalf("missing x-amz-content-sha256: %d %+v", res.StatusCode, doc)
		}
	})
	t.Run("SessionToken", func(t *testing.T) {
		sts := s3test.NewServer(t, s3test.WithBuckets("bkt"), s3test.WithSessionToken("token-1"))
		_, err := good(sts).ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("bkt")})
		wantCode(t, "no token", err, "InvalidToken", 403)
		withTok := s3.New(s3.Options{Region: sts.Region, BaseEndpoint: aws.String(sts.URL), UsePathStyle: true, Retryer: aws.NopRetryer{},
			Credentials: credentials.NewStaticCredentialsProvider(sts.AccessKeyID, sts.SecretAccessKey, "token-1")})
		if _, err := withTok.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("bkt")}); err != nil {
			t.Fatalf("with token: %v", err)
		}
	})
	if n := srv.Stats().AuthFailures; n < 8 {
		t.Errorf("AuthFailures = %d, want the refused requests counted", n)
	}
}

func TestPresignedURLs(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	srv := s3test.NewServer(t, s3test.WithBuckets("bkt"), s3test.WithClock(func() time.Time { return clock() }))
	c := good(srv)
	put(t, c, "bkt", "p/obj", []byte("presigned content"))
	ps := s3.NewPresignClient(c)

	req, err := ps.PresignGetObject(bg, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("p/obj")}, s3.WithPresignExpires(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	hr, _ := http.NewRequest(req.Method, req.URL, nil)
	res, _ := do(t, hr)
	if b, _ := io.ReadAll(res.Body); res.StatusCode != 200 || string(b) != "presigned content" {
		t.Fatalf("presigned GET: %d %q", res.StatusCode, b)
	}
	// A changed signature is refused.
	hr, _ = http.NewRequest(req.Method, strings.Replace(req.URL, "X-Amz-Signature=", "X-Amz-Signature=0", 1), nil)
	if res, doc := do(t, hr); res.StatusCode != 403 || doc.Code != "SignatureDoesNotMatch" {
		t.Fatalf("tampered presigned URL: %d %+v", res.StatusCode, doc)
	}
	// Another key through the same URL is refused.
	hr, _ = http.NewRequest(req.Method, strings.Replace(req.URL, "p%2Fobj", "p%2Fother", 1), nil)
	hr.URL.Path = "/bkt/p/other"
	if res, doc := do(t, hr); res.StatusCode != 403 || doc.Code != "SignatureDoesNotMatch" {
		t.Fatalf("presigned URL used for another key: %d %+v", res.StatusCode, doc)
	}
	// Expired.
	clock = func() time.Time { return now.Add(2 * time.Minute) }
	hr, _ = http.NewRequest(req.Method, req.URL, nil)
	if res, doc := do(t, hr); res.StatusCode != 403 || doc.Code != "AccessDenied" || !strings.Contains(doc.Message, "expired") {
		t.Fatalf("expired presigned URL: %d %+v", res.StatusCode, doc)
	}
	clock = func() time.Time { return now }
	// Wrong region.
	other := s3.NewPresignClient(good(srv, func(o *s3.Options) { o.Region = "eu-west-1" }))
	req2, _ := other.PresignGetObject(bg, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("p/obj")})
	hr, _ = http.NewRequest(req2.Method, req2.URL, nil)
	if res, doc := do(t, hr); res.StatusCode != 400 || doc.Code != "AuthorizationQueryParametersError" || doc.Region != srv.Region {
		t.Fatalf("presigned for another region: %d %+v", res.StatusCode, doc)
	}
	// A presigned PUT stores the body.
	preq, err := ps.PresignPutObject(bg, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("p/up")})
	if err != nil {
		t.Fatal(err)
	}
	hr, _ = http.NewRequest(preq.Method, preq.URL, strings.NewReader("uploaded"))
	for k, vs := range preq.SignedHeader {
		if !strings.EqualFold(k, "host") {
			hr.Header[k] = vs
		}
	}
	if res, doc := do(t, hr); res.StatusCode != 200 {
		t.Fatalf("presigned PUT: %d %+v", res.StatusCode, doc)
	}
	if b, ok := srv.Object("bkt", "p/up"); !ok || string(b) != "uploaded" {
		t.Fatalf("presigned PUT stored %q, %v", b, ok)
	}
}

func TestVirtualHostAddressing(t *testing.T) {
	srv := s3test.NewServer(t, s3test.WithBuckets("vbucket"))
	hc := awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) { tr.DialContext = srv.DialContext })
	c := good(srv, func(o *s3.Options) {
		o.UsePathStyle = false
		o.BaseEndpoint = aws.String(srv.VirtualHostURL())
		o.HTTPClient = hc
	})
	put(t, c, "vbucket", "v/key", []byte("virtual"))
	if b, ok := srv.Object("vbucket", "v/key"); !ok || string(b) != "virtual" {
		t.Fatalf("virtual-hosted PUT stored %q, %v", b, ok)
	}
	if b, _, err := get(c, &s3.GetObjectInput{Bucket: aws.String("vbucket"), Key: aws.String("v/key")}); err != nil || string(b) != "virtual" {
		t.Fatalf("virtual-hosted GET: %q %v", b, err)
	}
	res, err := c.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("vbucket")})
	if err != nil || len(res.Contents) != 1 || aws.ToString(res.Contents[0].Key) != "v/key" {
		t.Fatalf("virtual-hosted list: %+v %v", res, err)
	}
	_, err = c.HeadBucket(bg, &s3.HeadBucketInput{Bucket: aws.String("nobucket")})
	wantCode(t, "missing bucket, virtual-hosted", err, "NotFound", 404)
}

func keysOf(res *s3.ListObjectsV2Output) []string {
	var out []string
	for _, o := range res.Contents {
		out = append(out, aws.ToString(o.Key))
	}
	for _, p := range res.CommonPrefixes {
		out = append(out, aws.ToString(p.Prefix))
	}
	return out
}

func TestListing(t *testing.T) {
	srv := s3test.NewServer(t, s3test.WithBuckets("bkt"))
	for _, k := range []string{"a", "b/1", "b/2", "b/3/x", "c", "d/1", "e+f g"} {
		srv.PutObject("bkt", k, []byte(k))
	}
	c := good(srv)
	list := func(in s3.ListObjectsV2Input) *s3.ListObjectsV2Output {
		t.Helper()
		in.Bucket = aws.String("bkt")
		res, err := c.ListObjectsV2(bg, &in)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := list(s3.ListObjectsV2Input{Delimiter: aws.String("/")})
	if got := strings.Join(keysOf(res), ","); got != "a,c,e+f g,b/,d/" || aws.ToInt32(res.KeyCount) != 5 {
		t.Fatalf("delimited listing: %s (KeyCount %d)", got, aws.ToInt32(res.KeyCount))
	}
	// Paging by continuation tokens, one entry at a time: a common prefix counts once.
	var all []string
	var token *string
	for range 10 {
		res := list(s3.ListObjectsV2Input{Delimiter: aws.String("/"), MaxKeys: aws.Int32(1), ContinuationToken: token})
		all = append(all, keysOf(res)...)
		if !aws.ToBool(res.IsTruncated) {
			break
		}
		token = res.NextContinuationToken
		if token == nil {
			t.Fatal("truncated page without NextContinuationToken")
		}
	}
	if got := strings.Join(all, ","); got != "a,b/,c,d/,e+f g" {
		t.Fatalf("paged listing: %s", got)
	}
	if got := strings.Join(keysOf(list(s3.ListObjectsV2Input{Prefix: aws.String("b/"), StartAfter: aws.String("b/1")})), ","); got != "b/2,b/3/x" {
		t.Fatalf("start-after: %s", got)
	}
	if res := list(s3.ListObjectsV2Input{MaxKeys: aws.Int32(5000)}); aws.ToInt32(res.MaxKeys) != 1000 || len(res.Contents) != 7 {
		t.Fatalf("max-keys 5000: MaxKeys %d, %d keys", aws.ToInt32(res.MaxKeys), len(res.Contents))
	}
	res = list(s3.ListObjectsV2Input{Prefix: aws.String("e"), EncodingType: types.EncodingTypeUrl})
	if got := aws.ToString(res.Contents[0].Key); got != "e%2Bf+g" {
		t.Fatalf("encoding-type=url key %q, want S3's form encoding e%%2Bf+g", got)
	}
	_, err := c.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("bkt"), ContinuationToken: aws.String("bogus")})
	wantCode(t, "bad token", err, "InvalidArgument", 400)
	_, err = c.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("nope")})
	wantCode(t, "missing bucket", err, "NoSuchBucket", 404)

	t.Run("V1", func(t *testing.T) {
		res, err := c.ListObjects(bg, &s3.ListObjectsInput{Bucket: aws.String("bkt"), MaxKeys: aws.Int32(2)})
		if err != nil {
			t.Fatal(err)
		}
		if !aws.ToBool(res.IsTruncated) || res.NextMarker != nil || len(res.Contents) != 2 {
			t.Fatalf("V1 without delimiter: truncated %v, NextMarker %v (S3 sends it only with a delimiter), %d keys",
				aws.ToBool(res.IsTruncated), res.NextMarker, len(res.Contents))
		}
		res, err = c.ListObjects(bg, &s3.ListObjectsInput{Bucket: aws.String("bkt"), Marker: res.Contents[1].Key, Delimiter: aws.String("/"), MaxKeys: aws.Int32(2)})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(res.NextMarker) != "c" || len(res.Contents) != 1 || aws.ToString(res.CommonPrefixes[0].Prefix) != "b/" {
			t.Fatalf("V1 after marker b/1 with delimiter: %+v", res)
		}
	})
}

func TestMultipartRules(t *testing.T) {
	srv := s3test.NewServer(t, s3test.WithBuckets("bkt"), s3test.WithMinPartSize(1024))
	c := good(srv)
	create := func(key string, alg types.ChecksumAlgorithm) string {
		t.Helper()
		res, err := c.CreateMultipartUpload(bg, &s3.CreateMultipartUploadInput{Bucket: aws.String("bkt"), Key: &key, ChecksumAlgorithm: alg})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(res.UploadId)
	}
	part := func(key, id string, n int32, data []byte, alg types.ChecksumAlgorithm) (*s3.UploadPartOutput, error) {
		return c.UploadPart(bg, &s3.UploadPartInput{Bucket: aws.String("bkt"), Key: &key, UploadId: &id, PartNumber: &n,
			Body: bytes.NewReader(data), ChecksumAlgorithm: alg})
	}
	complete := func(key, id string, parts ...types.CompletedPart) (*s3.CompleteMultipartUploadOutput, error) {
		return c.CompleteMultipartUpload(bg, &s3.CompleteMultipartUploadInput{Bucket: aws.String("bkt"), Key: &key, UploadId: &id,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	}
	p1, p2 := bytes.Repeat([]byte("1"), 2048), []byte("tail")

	id := create("mp", types.ChecksumAlgorithmCrc32)
	r1, err := part("mp", id, 1, p1, types.ChecksumAlgorithmCrc32)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := part("mp", id, 2, p2, types.ChecksumAlgorithmCrc32)
	if err != nil {
		t.Fatal(err)
	}
	cp1 := types.CompletedPart{PartNumber: aws.Int32(1), ETag: r1.ETag, ChecksumCRC32: r1.ChecksumCRC32}
	cp2 := types.CompletedPart{PartNumber: aws.Int32(2), ETag: r2.ETag, ChecksumCRC32: r2.ChecksumCRC32}
	_, err = complete("mp", id, cp2, cp1)
	wantCode(t, "parts out of order", err, "InvalidPartOrder", 400)
	_, err = complete("mp", id, types.CompletedPart{PartNumber: aws.Int32(1), ETag: aws.String(`"0123"`), ChecksumCRC32: r1.ChecksumCRC32}, cp2)
	wantCode(t, "wrong ETag", err, "InvalidPart", 400)
	_, err = complete("mp", id, types.CompletedPart{PartNumber: aws.Int32(1), ETag: r1.ETag}, cp2)
	wantCode(t, "part checksum missing from the list", err, "InvalidRequest", 400)
	out, err := complete("mp", id, cp1, cp2)
	if err != nil {
		t.Fatal(err)
	}
	s1, s2 := md5.Sum(p1), md5.Sum(p2)
	want := md5.Sum(append(s1[:], s2[:]...))
	if got := aws.ToString(out.ETag); got != `"`+hex.EncodeToString(want[:])+`-2"` {
		t.Fatalf("multipart ETag %s, want md5 of the part md5s -2", got)
	}
	if info, _ := srv.Stat("bkt", "mp"); info.ChecksumType != "COMPOSITE" || !strings.HasSuffix(info.Checksum, "-2") || info.Parts != 2 {
		t.Fatalf("stored %+v", info)
	}
	if b, ok := srv.Object("bkt", "mp"); !ok || !bytes.Equal(b, append(append([]byte(nil), p1...), p2...)) {
		t.Fatal("assembled object differs")
	}
	_, err = complete("mp", id, cp1, cp2)
	wantCode(t, "completed upload", err, "NoSuchUpload", 404)

	t.Run("EntityTooSmall", func(t *testing.T) {
		id := create("small", "")
		r1, _ := part("small", id, 1, []byte("tiny"), "")
		r2, _ := part("small", id, 2, p2, "")
		_, err := complete("small", id, types.CompletedPart{PartNumber: aws.Int32(1), ETag: r1.ETag}, types.CompletedPart{PartNumber: aws.Int32(2), ETag: r2.ETag})
		wantCode(t, "small first part", err, "EntityTooSmall", 400)
	})
	t.Run("ChecksumTypeMismatch", func(t *testing.T) {
		id := create("nosum", "")
		_, err := part("nosum", id, 1, p1, types.ChecksumAlgorithmCrc32)
		wantCode(t, "CRC32 part of an upload without checksums", err, "InvalidRequest", 400)
		id = create("sum", types.ChecksumAlgorithmCrc32)
		_, err = part("sum", id, 1, p1, types.ChecksumAlgorithmSha256)
		wantCode(t, "SHA256 part of a CRC32 upload", err, "InvalidRequest", 400)
	})
	t.Run("BadChecksum", func(t *testing.T) {
		id := create("bad", types.ChecksumAlgorithmCrc32)
		_, err := c.UploadPart(bg, &s3.UploadPartInput{Bucket: aws.String("bkt"), Key: aws.String("bad"), UploadId: &id, PartNumber: aws.Int32(1),
			Body: bytes.NewReader(p1), ChecksumCRC32: aws.String(base64.StdEncoding.EncodeToString([]byte{1, 2, 3, 4}))})
		wantCode(t, "wrong CRC32", err, "BadDigest", 400)
	})
	t.Run("AbortAndList", func(t *testing.T) {
		ids := []string{create("l/a", ""), create("l/b", ""), create("l/b", ""), create("m/c", "")}
		var seen []string
		var km, im *string
		for range 10 {
			res, err := c.ListMultipartUploads(bg, &s3.ListMultipartUploadsInput{Bucket: aws.String("bkt"), Prefix: aws.String("l/"),
				MaxUploads: aws.Int32(1), KeyMarker: km, UploadIdMarker: im})
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range res.Uploads {
				seen = append(seen, aws.ToString(u.Key)+"#"+aws.ToString(u.UploadId))
			}
			if !aws.ToBool(res.IsTruncated) {
				break
			}
			km, im = res.NextKeyMarker, res.NextUploadIdMarker
		}
		if len(seen) != 3 || !strings.HasPrefix(seen[0], "l/a#") || !strings.HasPrefix(seen[2], "l/b#") || seen[1] == seen[2] {
			t.Fatalf("paged ListMultipartUploads: %v", seen)
		}
		if _, err := c.AbortMultipartUpload(bg, &s3.AbortMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("l/a"), UploadId: &ids[0]}); err != nil {
			t.Fatal(err)
		}
		_, err := c.AbortMultipartUpload(bg, &s3.AbortMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("l/a"), UploadId: &ids[0]})
		wantCode(t, "second abort", err, "NoSuchUpload", 404)
		_, err = part("l/a", ids[0], 1, p1, "")
		wantCode(t, "part of an aborted upload", err, "NoSuchUpload", 404)
		_, err = part("l/b", ids[1], 10001, p1, "")
		wantCode(t, "part number 10001", err, "InvalidArgument", 400)
	})
}

func TestCopy(t *testing.T) {
	srv := s3test.NewServer(t, s3test.WithBuckets("bkt"), s3test.WithMaxCopySize(1000), s3test.WithMinPartSize(100))
	c := good(srv)
	small, big := []byte("small object"), bytes.Repeat([]byte("0123456789"), 150)
	e1 := put(t, c, "bkt", "src/small", small).ETag
	put(t, c, "bkt", "src/big", big)
	if _, err := c.CopyObject(bg, &s3.CopyObjectInput{Bucket: aws.String("bkt"), Key: aws.String("dst/small"),
		CopySource: aws.String("bkt/src/small"), CopySourceIfMatch: e1}); err != nil {
		t.Fatal(err)
	}
	if b, _ := srv.Object("bkt", "dst/small"); !bytes.Equal(b, small) {
		t.Fatalf("copy holds %q", b)
	}
	_, err := c.CopyObject(bg, &s3.CopyObjectInput{Bucket: aws.String("bkt"), Key: aws.String("dst/x"), CopySource: aws.String("bkt/src/small"), CopySourceIfMatch: aws.String(`"other"`)})
	wantCode(t, "copy-source-if-match", err, "PreconditionFailed", 412)
	_, err = c.CopyObject(bg, &s3.CopyObjectInput{Bucket: aws.String("bkt"), Key: aws.String("dst/big"), CopySource: aws.String("bkt/src/big")})
	wantCode(t, "copy above the limit", err, "InvalidRequest", 400)
	_, err = c.CopyObject(bg, &s3.CopyObjectInput{Bucket: aws.String("bkt"), Key: aws.String("src/small"), CopySource: aws.String("bkt/src/small")})
	wantCode(t, "copy onto itself", err, "InvalidRequest", 400)
	_, err = c.CopyObject(bg, &s3.CopyObjectInput{Bucket: aws.String("bkt"), Key: aws.String("dst/y"), CopySource: aws.String("bkt/src/none")})
	wantCode(t, "missing source", err, "NoSuchKey", 404)

	// UploadPartCopy in ranges assembles the big object.
	up, err := c.CreateMultipartUpload(bg, &s3.CreateMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("dst/big")})
	if err != nil {
		t.Fatal(err)
	}
	var parts []types.CompletedPart
	for i, r := range []string{"bytes=0-999", "bytes=1000-1499"} {
		res, err := c.UploadPartCopy(bg, &s3.UploadPartCopyInput{Bucket: aws.String("bkt"), Key: aws.String("dst/big"), UploadId: up.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), CopySource: aws.String("bkt/src/big"), CopySourceRange: aws.String(r)})
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: res.CopyPartResult.ETag})
	}
	_, err = c.UploadPartCopy(bg, &s3.UploadPartCopyInput{Bucket: aws.String("bkt"), Key: aws.String("dst/big"), UploadId: up.UploadId,
		PartNumber: aws.Int32(3), CopySource: aws.String("bkt/src/big"), CopySourceRange: aws.String("bytes=1400-1600")})
	wantCode(t, "range past the source", err, "InvalidArgument", 400)
	if _, err := c.CompleteMultipartUpload(bg, &s3.CompleteMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("dst/big"),
		UploadId: up.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}}); err != nil {
		t.Fatal(err)
	}
	if b, _ := srv.Object("bkt", "dst/big"); !bytes.Equal(b, big) {
		t.Fatal("part-copied object differs")
	}
	if st := srv.Stats(); st.CopiedParts != 2 {
		t.Fatalf("CopiedParts = %d", st.CopiedParts)
	}
}

func TestConditionalAndRangedGets(t *testing.T) {
	srv := s3test.NewServer(t, s3test.WithBuckets("bkt"))
	c := good(srv)
	data := []byte("0123456789")
	res, err := c.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("f"), Body: bytes.NewReader(data),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32})
	if err != nil {
		t.Fatal(err)
	}
	etag := res.ETag
	in := func(mod func(*s3.GetObjectInput)) *s3.GetObjectInput {
		g := &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("f")}
		mod(g)
		return g
	}
	if b, out, err := get(c, in(func(g *s3.GetObjectInput) { g.IfMatch = etag; g.Range = aws.String("bytes=2-4") })); err != nil ||
		string(b) != "234" || aws.ToString(out.ContentRange) != "bytes 2-4/10" {
		t.Fatalf("If-Match + Range: %q %v", b, err)
	}
	_, _, err = get(c, in(func(g *s3.GetObjectInput) { g.IfMatch = aws.String(`"nope"`); g.Range = aws.String("bytes=20-30") }))
	wantCode(t, "If-Match of another version (before the range)", err, "PreconditionFailed", 412)
	_, _, err = get(c, in(func(g *s3.GetObjectInput) { g.Range = aws.String("bytes=10-") }))
	wantCode(t, "range at the end", err, "InvalidRange", 416)
	if b, _, err := get(c, in(func(g *s3.GetObjectInput) { g.Range = aws.String("bytes=-3") })); err != nil || string(b) != "789" {
		t.Fatalf("suffix range: %q %v", b, err)
	}
	if b, _, err := get(c, in(func(g *s3.GetObjectInput) { g.Range = aws.String("bytes=8-100") })); err != nil || string(b) != "89" {
		t.Fatalf("range past the end: %q %v", b, err)
	}
	_, err = c.HeadObject(bg, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("f"), IfMatch: aws.String(`"nope"`)})
	if _, status := apiErr(err); status != 412 {
		t.Fatalf("HEAD If-Match: %v", err)
	}
	_, _, err = get(c, in(func(g *s3.GetObjectInput) { g.IfNoneMatch = etag }))
	if _, status := apiErr(err); status != 304 {
		t.Fatalf("If-None-Match of the current version: %v, want 304", err)
	}
	_, err = c.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("f"), Body: strings.NewReader("x"), IfNoneMatch: aws.String("*")})
	wantCode(t, "If-None-Match: * over an object", err, "PreconditionFailed", 412)
	_, _, err = get(c, in(func(g *s3.GetObjectInput) { g.Key = aws.String("missing") }))
	wantCode(t, "missing key", err, "NoSuchKey", 404)
	_, err = c.HeadObject(bg, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("missing")})
	wantCode(t, "HEAD missing key", err, "NotFound", 404)
	// The full-object checksum comes back when asked for.
	_, out, err := get(c, in(func(g *s3.GetObjectInput) { g.ChecksumMode = types.ChecksumModeEnabled }))
	sum := crc32.ChecksumIEEE(data)
	if want := base64.StdEncoding.EncodeToString([]byte{byte(sum >> 24), byte(sum >> 16), byte(sum >> 8), byte(sum)}); err != nil || aws.ToString(out.ChecksumCRC32) != want {
		t.Fatalf("checksum mode: %v %v, want %s", out, err, want)
	}
}

func TestDeleteObjectsPerKeyErrors(t *testing.T) {
	srv := s3test.NewServer(t, s3test.WithBuckets("bkt"))
	c := good(srv)
	for _, k := range []string{"d/1", "d/2", "locked/3"} {
		srv.PutObject("bkt", k, []byte(k))
	}
	srv.Inject(s3test.Fault{Op: "DeleteObject", KeyPrefix: "locked/", Status: 403, Code: "AccessDenied"})
	res, err := c.DeleteObjects(bg, &s3.DeleteObjectsInput{Bucket: aws.String("bkt"), Delete: &types.Delete{Objects: []types.ObjectIdentifier{
		{Key: aws.String("d/1")}, {Key: aws.String("d/2")}, {Key: aws.String("locked/3")}, {Key: aws.String("never-existed")}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Deleted) != 3 || len(res.Errors) != 1 || aws.ToString(res.Errors[0].Key) != "locked/3" || aws.ToString(res.Errors[0].Code) != "AccessDenied" {
		t.Fatalf("DeleteObjects: deleted %d, errors %+v", len(res.Deleted), res.Errors)
	}
	if keys := srv.Keys("bkt"); len(keys) != 1 || keys[0] != "locked/3" {
		t.Fatalf("left %v", keys)
	}
	// S3 requires Content-MD5 or a checksum on DeleteObjects.
	body := []byte(`<Delete><Object><Key>d/1</Key></Object></Delete>`)
	res2, doc := rawSigned(t, srv, "POST", "/bkt?delete", body, srv.SecretAccessKey, srv.Region, time.Now(), nil)
	if res2.StatusCode != 400 || doc.Code != "InvalidRequest" {
		t.Fatalf("DeleteObjects without Content-MD5: %d %+v", res2.StatusCode, doc)
	}
}

func TestFaults(t *testing.T) {
	srv := s3test.NewServer(t, s3test.WithBuckets("bkt"))
	c := good(srv)
	put(t, c, "bkt", "k", bytes.Repeat([]byte("z"), 1000))
	remove := srv.Inject(s3test.Fault{Op: "GetObject", Nth: 2, Times: 1, Status: 503})
	if _, _, err := get(c, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k")}); err != nil {
		t.Fatalf("first GET hit: %v", err)
	}
	_, _, err := get(c, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k")})
	wantCode(t, "second GET", err, "SlowDown", 503)
	if _, _, err := get(c, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k")}); err != nil {
		t.Fatalf("third GET: %v", err)
	}
	remove()
	srv.Inject(s3test.Fault{Op: "GetObject", TruncateBody: true, Times: 1})
	if b, _, err := get(c, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k")}); err == nil {
		t.Fatalf("truncated body read as %d bytes without error", len(b))
	}
	srv.Inject(s3test.Fault{Op: "CopyObject", OKWithError: true, Times: 1})
	_, err = c.CopyObject(bg, &s3.CopyObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k2"), CopySource: aws.String("bkt/k")})
	if code, _ := apiErr(err); code != "InternalError" {
		t.Fatalf("200 with an error document: %v", err)
	}
	if st := srv.Stats(); st.Dropped != 1 {
		t.Fatalf("Dropped = %d", st.Dropped)
	}
	if n := srv.Requests("GetObject"); n != 4 {
		t.Fatalf("GetObject requests = %d", n)
	}
}

// Over TLS the SDK sends checksums as aws-chunked trailers (STREAMING-UNSIGNED-PAYLOAD-
// TRAILER); the server decodes them and checks the trailing checksum.
func TestTLSAndTrailingChecksums(t *testing.T) {
	srv := s3test.NewServer(t, s3test.WithBuckets("bkt"), s3test.WithTLS())
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(srv.CertPEM()) {
		t.Fatal("CertPEM is not a PEM certificate")
	}
	hc := awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	})
	c := good(srv, func(o *s3.Options) {
		o.HTTPClient = hc
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenSupported
	})
	data := bytes.Repeat([]byte("trailer "), 20000)
	put(t, c, "bkt", "t", data)
	info, _ := srv.Stat("bkt", "t")
	sum := crc32.ChecksumIEEE(data)
	want := base64.StdEncoding.EncodeToString([]byte{byte(sum >> 24), byte(sum >> 16), byte(sum >> 8), byte(sum)})
	if info.ChecksumAlg != "CRC32" || info.Checksum != want {
		t.Fatalf("stored checksum %s %q, want CRC32 %q from the trailer", info.ChecksumAlg, info.Checksum, want)
	}
	if b, _ := srv.Object("bkt", "t"); !bytes.Equal(b, data) {
		t.Fatal("aws-chunked body decoded wrongly")
	}

	// A trailer that does not match the body is refused.
	plain := s3test.NewServer(t, s3test.WithBuckets("bkt"))
	body := "5\r\nhello\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n"
	res, doc := rawStreaming(t, plain, body, "5")
	if res.StatusCode != 400 || doc.Code != "BadDigest" {
		t.Fatalf("wrong trailing checksum: %d %+v", res.StatusCode, doc)
	}
	good := crc32.ChecksumIEEE([]byte("hello"))
	okTrailer := base64.StdEncoding.EncodeToString([]byte{byte(good >> 24), byte(good >> 16), byte(good >> 8), byte(good)})
	res, doc = rawStreaming(t, plain, "5\r\nhello\r\n0\r\nx-amz-checksum-crc32:"+okTrailer+"\r\n\r\n", "5")
	if res.StatusCode != 200 {
		t.Fatalf("valid aws-chunked upload: %d %+v", res.StatusCode, doc)
	}
	res, doc = rawStreaming(t, plain, "5\r\nhel", "5")
	if res.StatusCode != 400 || doc.Code != "InvalidRequest" {
		t.Fatalf("truncated aws-chunked body: %d %+v", res.StatusCode, doc)
	}
}

// rawStreaming PUTs an aws-chunked body with an unsigned trailer.
func rawStreaming(t *testing.T, srv *s3test.Server, body, decodedLen string) (*http.Response, errorDoc) {
	t.Helper()
	req, _ := http.NewRequest("PUT", srv.URL+"/bkt/streamed", strings.NewReader(body))
	req.Header.Set("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
	req.Header.Set("Content-Encoding", "aws-chunked")
	req.Header.Set("x-amz-decoded-content-length", decodedLen)
	req.Header.Set("x-amz-trailer", "x-amz-checksum-crc32")
	creds := aws.Credentials{AccessKeyID: srv.AccessKeyID, SecretAccessKey: srv.SecretAccessKey}
	if err := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).
		SignHTTP(bg, creds, req, "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "s3", srv.Region, time.Now()); err != nil {
		t.Fatal(err)
	}
	return do(t, req)
}
