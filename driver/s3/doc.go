// Package s3 is the s3:// UFS driver for Amazon S3 and S3-compatible stores, built on the
// AWS SDK for Go v2 (github.com/aws/aws-sdk-go-v2/service/s3) with Signature Version 4.
//
// "s3://bucket/dir" mounts the keys below "dir/" in bucket; "s3://bucket/" the whole
// bucket. A UFS path "a/b" is the key "dir/a/b". Directories are "a/" marker objects or
// key prefixes; the root needs no marker. The content hash of a file is its ETag (without
// quotes), and OpenVersion (ufs.VersionReader) reads with If-Match on it, so a file
// replaced meanwhile yields ufs.ErrChanged instead of a mix of two versions. Listings use
// ListObjectsV2 (ListObjects with alluxio.underfs.s3.list.objects.v1) with delimiter "/"
// and encoding-type=url; page tokens are S3 continuation tokens (V1: markers).
//
// Files up to the part size are uploaded with one PutObject when the writer is closed;
// larger ones with a multipart upload whose parts are sent in parallel while the caller
// writes. A failed or aborted multipart upload is aborted on S3 and Close returns the
// error, so nothing appears at the key and no upload is left behind. A process that dies
// mid-upload cannot abort: FS.CleanUploads (run at mount with
// alluxio.underfs.cleanup.enabled or alluxio.underfs.s3.intermediate.upload.clean.age)
// aborts the uploads below the mount older than the clean age, as Alluxio's UFS cleanup
// does; an S3 lifecycle rule (AbortIncompleteMultipartUpload) is the server-side
// equivalent. Rename copies (CopyObject, or UploadPartCopy above 5 GiB) and then deletes;
// directories are renamed key by key, each source key deleted only after its copy exists.
// RemoveAll deletes in DeleteObjects batches of up to 1000 keys; keys S3 refuses to
// delete are reported in a *DeleteError (errors.Is with their sentinel, e.g.
// fs.ErrPermission for AccessDenied).
//
// Errors are mapped by S3 error code (NoSuchKey, NoSuchBucket: fs.ErrNotExist;
// AccessDenied, SignatureDoesNotMatch, InvalidAccessKeyId, RequestTimeTooSkewed, ...:
// fs.ErrPermission), then by HTTP status; an authentication failure is never reported as
// not found. Opening checks that the bucket exists (fs.ErrNotExist otherwise) and that
// the credentials may list it (fs.ErrPermission otherwise).
//
// # Credentials and environment
//
// Explicit keys (s3a.accessKeyId and s3a.secretKey) win. Without them the SDK's default
// chain is used: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (with AWS_SESSION_TOKEN), web
// identity (AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN), the shared files
// (AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE, AWS_PROFILE: static keys, assumed roles,
// SSO, credential_process) and container credentials. The EC2 instance metadata service
// is asked only with alluxio.underfs.s3.ec2.metadata.enabled=true, so that a mount with no
// credentials anywhere fails at once, with an error wrapping fs.ErrPermission and
// ErrNoCredentials that lists the sources tried. The SDK's other settings apply too:
// AWS_REGION and the profile's region, AWS_CA_BUNDLE (the driver's HTTP client is built so
// that the SDK can add the bundle), AWS_ENDPOINT_URL_S3, AWS_REQUEST_CHECKSUM_CALCULATION
// (when_required turns off the CRC32 checksums of uploads, for stores that reject them).
//
// Every request runs under the shared retry policy of package ufs/retry (the SDK's own
// retries are off: aws.NopRetryer): refused, reset or dropped connections, timeouts, 5xx,
// throttling (429, 503 SlowDown, honouring Retry-After), S3's 200-with-error-document and
// a clock skew the SDK has measured are retried with full-jitter backoff; authentication,
// permission, not found and precondition failures never are. The HTTP transport
// (retry.NewTransport) bounds connecting, the wait for response headers and every stall of
// a body; requests that move no file data are also capped per attempt. A read whose body
// breaks resumes from the first byte not delivered with If-Match on the ETag (a
// replaced object fails the read with ufs.ErrChanged). A completion whose answer was lost
// is recognised by the object's ETag (the MD5 of the parts' MD5s). The abort of a failed
// upload runs on a context detached from the caller's, bounded by unifiedfs.abort.timeout.
//
// # Options
//
// Keys match case-insensitively; keys of S3's namespaces (s3a.*, aws.*,
// alluxio.underfs.s3.*, alluxio.underfs.s3a.*, fs.s3a.*) that the driver does not know
// are logged as warnings (never with their values); other keys are ignored, as a
// properties file gives every mount the driver options of all stores.
//
//	s3a.accessKeyId, s3a.secretKey   the access key pair (also aws.accessKeyId,
//	                                 aws.secretKey); both or neither (the chain above)
//	alluxio.underfs.s3.endpoint      "s3.eu-west-1.amazonaws.com", "https://host:port" or
//	                                 "http://127.0.0.1:9000"; default: AWS's endpoints
//	alluxio.underfs.s3.endpoint.region  signing region (also alluxio.underfs.s3.region);
//	                                 default: inferred from an AWS endpoint, else
//	                                 AWS_REGION / the profile, else us-east-1
//	alluxio.underfs.s3.disable.dns.buckets  path-style requests (endpoint/bucket/key);
//	                                 always for an IP-address or localhost endpoint
//	alluxio.underfs.s3.secure.http.enabled  HTTPS for an endpoint given without a scheme
//	                                 (default true; Alluxio's default is false, plain HTTP)
//	alluxio.underfs.s3.streaming.upload.partition.size  multipart part size and the
//	                                 largest single PutObject (default 16MB; S3 requires
//	                                 5MB for every part but the last)
//	alluxio.underfs.s3.upload.threads   parts of one file uploaded in parallel, and the
//	                                 parallel copies of a rename (default 4; also
//	                                 alluxio.underfs.s3.upload.threads.max)
//	alluxio.underfs.s3.list.objects.v1  list with ListObjects version 1 (default false)
//	alluxio.underfs.s3.server.side.encryption.enabled  store objects with SSE-S3
//	                                 (x-amz-server-side-encryption: AES256)
//	alluxio.underfs.s3.inherit.acl   report the bucket ACL's owner as every entry's owner
//	                                 and group, and a mode from its grants to the owner
//	                                 or everyone (READ r-x, WRITE -w-, FULL_CONTROL rwx),
//	                                 read once at mount (default true, as Alluxio)
//	alluxio.underfs.s3.max.error.retry  retries of a failed request (alias of
//	                                 unifiedfs.retry.attempts, counting retries)
//	alluxio.underfs.s3.request.timeout  alias of unifiedfs.request.timeout (positive)
//	alluxio.underfs.s3.socket.timeout   alias of unifiedfs.idle.timeout (positive)
//	alluxio.underfs.cleanup.enabled  abort stale multipart uploads at mount (default false)
//	alluxio.underfs.s3.intermediate.upload.clean.age  the age beyond which an upload is
//	                                 stale (default 3day); setting it enables the cleanup
//	alluxio.underfs.listing.length   keys per listing request (default and at most 1000)
//
// Keys of this driver that Alluxio does not have:
//
//	alluxio.underfs.s3.ec2.metadata.enabled  ask the EC2 instance metadata service for
//	                                 credentials (default false)
//	alluxio.underfs.s3.retry.base.delay  alias of unifiedfs.retry.base.delay
//	alluxio.underfs.s3.copy.threshold    largest object copied with one CopyObject
//	                                 (default and at most 5GB)
//	alluxio.underfs.s3.copy.partition.size  UploadPartCopy part size (default 256MB)
//
// Retries and timeouts: the shared keys of package ufs/retry (unifiedfs.retry.attempts,
// unifiedfs.retry.base.delay, unifiedfs.retry.max.delay, unifiedfs.read.resume.max,
// unifiedfs.connect.timeout, unifiedfs.response.timeout, unifiedfs.idle.timeout,
// unifiedfs.request.timeout, unifiedfs.abort.timeout), with the aliases above; a shared
// key wins over its alias.
//
// The alluxio.underfs.s3a.* spellings Alluxio accepts are accepted too. Sizes take
// suffixes ("64MB"), durations Go or Alluxio forms ("30s", "5min", "3day", or bare
// milliseconds).
//
// Import it for its side effect of registering "s3", or call New with Options:
//
//	import _ "github.com/unifiedfs/unifiedfs/driver/s3"
package s3
