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
// Opening checks that the bucket exists (fs.ErrNotExist otherwise) and that the
// credentials may list it (fs.ErrPermission otherwise).
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
//	fs.oss.connection.timeout  connect timeout (default 10s)
//	fs.oss.socket.timeout    read/write idle timeout of a connection (default 50s)
//	fs.oss.connection.max    most connections to the endpoint (default 100)
//	fs.oss.retry.max         retries of a failed request (default 3): 5xx, 408, 429,
//	                         dropped connections; never authorization errors
//	fs.oss.retry.baseDelay   first retry's backoff, growing with full jitter (default 200ms)
//	fs.oss.multipart.threshold  largest file uploaded with one PutObject (default 32MB)
//	fs.oss.multipart.partSize   multipart part size, at least 100KB (default 8MB)
//	fs.oss.multipart.threads    parts uploaded in parallel per file (default 4)
//	fs.oss.copy.threshold    largest object copied with one CopyObject (default 512MB)
//	fs.oss.copy.partSize     UploadPartCopy part size (default 64MB)
//	fs.oss.copy.threads      parallel copies and part copies in Rename (default 8)
//	fs.oss.list.pageSize     keys per ListObjectsV2 request when the caller sets no page
//	                         size (default 1000, at most 1000)
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
