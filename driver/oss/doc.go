// Package oss is the oss:// UFS driver for Aliyun Object Storage Service, built on Aliyun's
// maintained Go SDK (github.com/aliyun/alibabacloud-oss-go-sdk-v2) with V4 signing.
//
// "oss://bucket/dir" mounts the keys below "dir/" in bucket; "oss://bucket/" the whole
// bucket. A UFS path "a/b" is the key "dir/a/b". Directories are "a/" marker objects or
// key prefixes; the root needs no marker (an empty prefix is an empty directory). The
// content hash of a file is its ETag (without quotes). Listings use ListObjectsV2 with
// delimiter "/" and encoding-type=url; page tokens are OSS continuation tokens.
//
// Files up to fs.oss.multipart.threshold bytes are uploaded with one PutObject when the
// writer is closed; larger ones with a multipart upload whose parts (fs.oss.multipart.partSize
// bytes) are sent in parallel (fs.oss.multipart.threads) while the caller writes. A failed
// or aborted multipart upload is aborted on the server, and Close returns the error.
// Rename copies (CopyObject, or UploadPartCopy above fs.oss.copy.threshold) and then
// deletes; directories are renamed key by key, in parallel, each source key deleted only
// after its copy exists. RemoveAll deletes in batches of up to 1000 keys (DeleteObjects).
//
// Reads that break mid-body resume from the first byte not delivered, with If-Match on
// the first response's ETag (a replaced object fails the read with ufs.ErrChanged);
// OpenVersion (ufs.VersionReader) sends If-Match from the start. RemoveAll and directory
// renames use verbose DeleteMultipleObjects: a key OSS did not delete is deleted alone, and
// its error (AccessDenied, ...) is returned naming the key.
//
// Opening checks that the bucket exists (fs.ErrNotExist otherwise) and that the
// credentials may list it (fs.ErrPermission otherwise); so does Stat of the root. Open
// (the Opener of "oss", through ufs.Open) and New (typed Options) return the UFS guarded
// (ufs.Guard); the *FS under it (ufs.Unwrap) takes clean paths only.
//
// # Options
//
// Keys match case-insensitively.
//
//	fs.oss.endpoint          required: "oss-cn-hangzhou.aliyuncs.com", "https://..." or
//	                         "http://127.0.0.1:9000"; without a scheme HTTPS is used
//	fs.oss.accessKeyId       required: AccessKey ID
//	fs.oss.accessKeySecret   required: AccessKey secret (never logged or printed)
//	fs.oss.securityToken     STS security token for temporary credentials
//	fs.oss.region            region of the V4 signature ("cn-hangzhou"); default derived
//	                         from endpoints like oss-<region>[-internal].aliyuncs.com
//	fs.oss.signatureVersion  "v4" (default) or "v1"
//	fs.oss.pathStyle         path-style addressing (http://endpoint/bucket/key); default
//	                         true when the endpoint host is an IP address or "localhost"
//	fs.oss.connection.max    most connections to the endpoint (default 100; alias
//	                         alluxio.underfs.oss.connection.max)
//	fs.oss.multipart.threshold  largest file uploaded with one PutObject (default 32MB)
//	fs.oss.multipart.partSize   multipart part size, at least 100KB (default 8MB)
//	fs.oss.multipart.threads    parts uploaded in parallel per file (default 4)
//	fs.oss.copy.threshold    largest object copied with one CopyObject (default 512MB)
//	fs.oss.copy.partSize     UploadPartCopy part size (default 64MB)
//	fs.oss.copy.threads      parallel copies and part copies in Rename (default 8)
//	fs.oss.list.pageSize     keys per ListObjectsV2 request when the caller sets no page
//	                         size (default 1000, at most 1000)
//
// Retries and timeouts are the shared unifiedfs.* options of every driver, documented in
// package github.com/unifiedfs/unifiedfs/ufs/retry: unifiedfs.retry.attempts,
// unifiedfs.retry.base.delay, unifiedfs.retry.max.delay, unifiedfs.read.resume.max,
// unifiedfs.connect.timeout, unifiedfs.response.timeout, unifiedfs.idle.timeout,
// unifiedfs.request.timeout and unifiedfs.abort.timeout. OSS's older keys are aliases:
// fs.oss.retry.max and alluxio.underfs.oss.retry.max (retries after the first attempt),
// fs.oss.retry.baseDelay, fs.oss.connection.timeout and
// alluxio.underfs.oss.connection.timeout (connect), fs.oss.socket.timeout and
// alluxio.underfs.oss.socket.timeout (idle). The SDK's own retries are off.
//
// Sizes accept suffixes ("8MB", "100KB"), durations Go or Alluxio forms ("30s", "5min",
// or bare milliseconds). The Alluxio names alluxio.underfs.oss.streaming.upload.partition.size
// and alluxio.underfs.oss.streaming.upload.threads are accepted for the part size and
// threads.
//
// Import it for its side effect of registering "oss":
//
//	import _ "github.com/unifiedfs/unifiedfs/driver/oss"
package oss
