package s3

import (
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/unifiedfs/unifiedfs/ufs"
	"github.com/unifiedfs/unifiedfs/ufs/retry"
)

// Option keys, as Alluxio's S3 under storage names them (see the package documentation).
// Keys match case-insensitively.
const (
	OptAccessKeyID      = "s3a.accessKeyId"
	OptSecretKey        = "s3a.secretKey"
	OptAWSAccessKeyID   = "aws.accessKeyId" // older spelling of OptAccessKeyID
	OptAWSSecretKey     = "aws.secretKey"   // older spelling of OptSecretKey
	OptEndpoint         = "alluxio.underfs.s3.endpoint"
	OptRegion           = "alluxio.underfs.s3.endpoint.region"
	OptBucketRegion     = "alluxio.underfs.s3.region" // Alluxio's bucket region; OptRegion wins
	OptPathStyle        = "alluxio.underfs.s3.disable.dns.buckets"
	OptSecureHTTP       = "alluxio.underfs.s3.secure.http.enabled"
	OptUploadThreads    = "alluxio.underfs.s3.upload.threads"
	OptUploadThreadsMax = "alluxio.underfs.s3.upload.threads.max" // Alluxio's spelling
	OptPartSize         = "alluxio.underfs.s3.streaming.upload.partition.size"
	OptListV1           = "alluxio.underfs.s3.list.objects.v1"
	OptSSE              = "alluxio.underfs.s3.server.side.encryption.enabled"
	OptInheritACL       = "alluxio.underfs.s3.inherit.acl"
	OptMaxErrorRetry    = "alluxio.underfs.s3.max.error.retry" // alias of unifiedfs.retry.attempts, counting retries
	OptRequestTimeout   = "alluxio.underfs.s3.request.timeout" // alias of unifiedfs.request.timeout
	OptSocketTimeout    = "alluxio.underfs.s3.socket.timeout"  // alias of unifiedfs.idle.timeout
	OptCleanup          = "alluxio.underfs.cleanup.enabled"
	OptUploadCleanAge   = "alluxio.underfs.s3.intermediate.upload.clean.age"
	OptListingLength    = "alluxio.underfs.listing.length"

	// Keys of this driver that Alluxio does not have.
	OptEC2Metadata    = "alluxio.underfs.s3.ec2.metadata.enabled"
	OptRetryBaseDelay = "alluxio.underfs.s3.retry.base.delay" // alias of unifiedfs.retry.base.delay
	OptCopyThreshold  = "alluxio.underfs.s3.copy.threshold"
	OptCopyPartSize   = "alluxio.underfs.s3.copy.partition.size"
)

// aliases are the alluxio.underfs.s3a.* names Alluxio accepts for the same settings.
var aliases = map[string][]string{
	OptSecureHTTP:     {"alluxio.underfs.s3a.secure.http.enabled"},
	OptSSE:            {"alluxio.underfs.s3a.server.side.encryption.enabled"},
	OptListV1:         {"alluxio.underfs.s3a.list.objects.v1"},
	OptInheritACL:     {"alluxio.underfs.s3a.inherit_acl"},
	OptPartSize:       {"alluxio.underfs.s3a.streaming.upload.partition.size"},
	OptUploadCleanAge: {"alluxio.underfs.s3a.intermediate.upload.clean.age"},
	OptMaxErrorRetry:  {"alluxio.underfs.s3a.max.error.retry"},
	OptRequestTimeout: {"alluxio.underfs.s3a.request.timeout", "alluxio.underfs.s3a.request.timeout.ms"},
	OptSocketTimeout:  {"alluxio.underfs.s3a.socket.timeout", "alluxio.underfs.s3a.socket.timeout.ms"},
}

// Defaults and limits.
const (
	DefaultPartSize      = 16 << 20
	DefaultUploadThreads = 4
	DefaultCleanAge      = 72 * time.Hour // Alluxio's 3day
	DefaultCopyPartSize  = 256 << 20
	DefaultRegion        = "us-east-1"

	minPartSize  = 1 << 10 // S3 itself wants 5 MiB for every part but the last
	maxPartSize  = 5 << 30
	maxParts     = 10000
	maxCopySize  = 5 << 30 // largest CopyObject source
	maxListKeys  = 1000
	maxDeleteKey = 1000
)

// Options configures New. The zero value of a field means its default.
type Options struct {
	// Bucket is the bucket to mount (required); Prefix the key prefix of the root ("" for
	// the whole bucket, "dir" or "dir/sub" for the keys below "dir/sub/").
	Bucket, Prefix string
	// AccessKeyID and SecretKey are explicit credentials. When both are empty the SDK's
	// default chain is used: environment, web identity, the shared config and credentials
	// files (AWS_PROFILE), container credentials, and the EC2 instance metadata service
	// only when EC2Metadata is true.
	AccessKeyID, SecretKey string
	EC2Metadata            bool
	// Endpoint is "host[:port]" or "http(s)://host[:port]"; empty for AWS's endpoints
	// (or AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL when set). PlainHTTP makes an endpoint
	// without a scheme use http.
	Endpoint  string
	PlainHTTP bool
	// Region signs requests; empty: inferred from an AWS endpoint, else AWS_REGION or the
	// profile's region, else DefaultRegion.
	Region string
	// PathStyle addresses buckets as endpoint/bucket/key rather than bucket.endpoint/key;
	// always on for an endpoint that is an IP address or "localhost".
	PathStyle bool
	// PartSize is the multipart part size and the largest file sent with one PutObject
	// (DefaultPartSize); UploadThreads the parts of one file uploaded in parallel
	// (DefaultUploadThreads).
	PartSize      int64
	UploadThreads int
	// ListV1 lists with ListObjects (version 1) instead of ListObjectsV2; ListPageSize is
	// the keys per listing request (at most and by default 1000).
	ListV1       bool
	ListPageSize int
	// ServerSideEncryption stores objects with SSE-S3 (AES256).
	ServerSideEncryption bool
	// InheritACL reports the bucket's owner and ACL (read once at mount) as every entry's
	// owner, group and mode, as Alluxio does. Open defaults it to true, as Alluxio.
	InheritACL bool
	// Retry holds the retry policy and the timeouts (the shared unifiedfs.* options of
	// package ufs/retry, which ParseOptions reads with retry.Parse). A Config whose
	// Policy.Attempts is 0 means the defaults of all of them.
	Retry retry.Config
	// CleanUploadsOlderThan, when positive, aborts at mount the multipart uploads below the
	// prefix initiated longer ago than this (uploads left by a crashed writer).
	CleanUploadsOlderThan time.Duration
	// CopyThreshold is the largest object Rename and Copy copy with one CopyObject (at
	// most and by default 5 GiB); larger ones are copied with UploadPartCopy in parts of
	// CopyPartSize (DefaultCopyPartSize).
	CopyThreshold, CopyPartSize int64
	// HTTPClient replaces the driver's HTTP client (and its timeouts). With AWS_CA_BUNDLE
	// set it must be an *awshttp.BuildableClient, which the SDK adds the bundle to.
	HTTPClient aws.HTTPClient
	// Logger receives warnings (skipped ACL, cleaned uploads, SDK warnings); nil:
	// slog.Default().
	Logger *slog.Logger
}

// String prints the options with the secret key redacted.
func (o Options) String() string {
	c := o
	if c.SecretKey != "" {
		c.SecretKey = ufs.Redacted
	}
	type plain Options // no String method: no recursion
	return fmt.Sprintf("%+v", plain(c))
}

// GoString redacts too, so %#v never prints the secret.
func (o Options) GoString() string { return "s3.Options" + o.String() }

// LogValue redacts the secret in structured logs.
func (o Options) LogValue() slog.Value { return slog.StringValue(o.String()) }

// knownKeys holds every key ParseOptions reads, lower-cased.
var knownKeys = func() map[string]bool {
	m := map[string]bool{}
	for _, k := range optionKeys {
		m[strings.ToLower(k)] = true
	}
	return m
}()

// retryAliases are this driver's keys for the shared retry and timeout settings.
var retryAliases = retry.Aliases{
	Retries:        append([]string{OptMaxErrorRetry}, aliases[OptMaxErrorRetry]...),
	BaseDelay:      []string{OptRetryBaseDelay},
	RequestTimeout: append([]string{OptRequestTimeout}, aliases[OptRequestTimeout]...),
	IdleTimeout:    append([]string{OptSocketTimeout}, aliases[OptSocketTimeout]...),
}

// optionKeys lists every key ParseOptions reads, as spelt above.
var optionKeys = func() []string {
	base := []string{OptAccessKeyID, OptSecretKey, OptAWSAccessKeyID, OptAWSSecretKey, OptEndpoint,
		OptRegion, OptBucketRegion, OptPathStyle, OptSecureHTTP, OptUploadThreads, OptUploadThreadsMax,
		OptPartSize, OptListV1, OptSSE, OptInheritACL, OptMaxErrorRetry, OptRequestTimeout, OptSocketTimeout,
		OptCleanup, OptUploadCleanAge, OptListingLength, OptEC2Metadata, OptRetryBaseDelay, OptCopyThreshold,
		OptCopyPartSize}
	keys := slices.Clone(base)
	for _, k := range base {
		keys = append(keys, aliases[k]...)
	}
	keys = append(keys, retry.Keys(retryAliases)...)
	sort.Strings(keys)
	return slices.Compact(keys)
}()

// s3Namespaces are the key prefixes that belong to S3: a key with one of them that this
// driver does not read is warned about. Other keys (another driver's, or generic ones a
// properties file applies to every mount) are ignored silently.
var s3Namespaces = []string{"s3a.", "aws.", "alluxio.underfs.s3.", "alluxio.underfs.s3a.", "fs.s3a.", "fs.s3."}

// ParseOptions reads a mount's options (keys above, any case) for the location uri
// ("s3://bucket/prefix"). It returns the options, warnings naming the keys of S3's
// namespaces it does not know (never their values), and an error wrapping fs.ErrInvalid
// that names the key of a bad value (not quoting secrets). Open uses it, defaulting
// InheritACL to true as Alluxio does.
func ParseOptions(uri ufs.URI, m ufs.Options) (Options, []string, error) {
	o := Options{Bucket: uri.Authority}
	if uri.Path != ufs.Root {
		o.Prefix = uri.Path
	}
	var warnings []string
	raw := m.Map()
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		lk := strings.ToLower(k)
		if knownKeys[lk] {
			continue
		}
		for _, ns := range s3Namespaces {
			if strings.HasPrefix(lk, ns) {
				warnings = append(warnings, fmt.Sprintf("unknown S3 option %s: ignored", k))
				break
			}
		}
	}
	get := func(key string) (string, string, bool) {
		for _, k := range append([]string{key}, aliases[key]...) {
			if v, ok := m.Get(k); ok && strings.TrimSpace(v) != "" {
				return k, strings.TrimSpace(v), true
			}
		}
		return key, "", false
	}
	var errs []string
	bad := func(key, v, want string) {
		shown := fmt.Sprintf("%q", v)
		if ufs.IsSecretKey(key) {
			shown = ufs.Redacted
		}
		errs = append(errs, fmt.Sprintf("option %s=%s: %s", key, shown, want))
	}
	boolOpt := func(key string, def bool) bool {
		k, v, ok := get(key)
		if !ok {
			return def
		}
		b, err := ufs.NewOptions(map[string]string{k: v}).Bool(k, def)
		if err != nil {
			bad(k, v, "want true or false")
		}
		return b
	}
	sizeOpt := func(key string, lo, hi int64) int64 {
		k, v, ok := get(key)
		if !ok {
			return 0
		}
		n, err := ufs.ParseSize(v)
		if err != nil || n < lo || n > hi {
			bad(k, v, fmt.Sprintf("want a size in [%d, %d] (suffixes KB, MB, GB)", lo, hi))
			return 0
		}
		return n
	}
	durOpt := func(key string) (time.Duration, bool) {
		k, v, ok := get(key)
		if !ok {
			return 0, false
		}
		d, err := ufs.ParseDuration(v)
		if err != nil {
			bad(k, v, "want a duration (30s, 5min, 3day, or milliseconds)")
			return 0, false
		}
		return d, true
	}

	// Credentials: s3a.* wins over aws.*; one half of a pair is an error.
	id, idSet := m.First(OptAccessKeyID, OptAWSAccessKeyID)
	secret, secretSet := m.First(OptSecretKey, OptAWSSecretKey)
	o.AccessKeyID, o.SecretKey = strings.TrimSpace(id), strings.TrimSpace(secret)
	if idSet != secretSet || (o.AccessKeyID == "") != (o.SecretKey == "") {
		errs = append(errs, fmt.Sprintf("%s and %s must be given together (or neither, to use the AWS credential chain)", OptAccessKeyID, OptSecretKey))
	}
	o.EC2Metadata = boolOpt(OptEC2Metadata, false)

	if _, v, ok := get(OptEndpoint); ok {
		o.Endpoint = v
	}
	o.PlainHTTP = !boolOpt(OptSecureHTTP, true)
	if o.Endpoint != "" {
		if _, err := endpointURL(o.Endpoint, o.PlainHTTP); err != nil {
			bad(OptEndpoint, o.Endpoint, err.Error())
		}
	}
	if _, v, ok := get(OptRegion); ok {
		o.Region = v
	} else if _, v, ok := get(OptBucketRegion); ok {
		o.Region = v
	}
	o.PathStyle = boolOpt(OptPathStyle, false)
	o.ListV1 = boolOpt(OptListV1, false)
	o.ServerSideEncryption = boolOpt(OptSSE, false)
	o.InheritACL = boolOpt(OptInheritACL, true)

	o.PartSize = sizeOpt(OptPartSize, minPartSize, maxPartSize)
	threadsKey := OptUploadThreads
	if _, _, ok := get(OptUploadThreads); !ok {
		threadsKey = OptUploadThreadsMax
	}
	o.UploadThreads = int(sizeOpt(threadsKey, 1, 256))
	o.ListPageSize = int(sizeOpt(OptListingLength, 1, maxListKeys))
	o.CopyThreshold = sizeOpt(OptCopyThreshold, 1, maxCopySize)
	o.CopyPartSize = sizeOpt(OptCopyPartSize, minPartSize, maxPartSize)
	var err error
	o.Retry, err = retry.Parse(m, retryAliases)
	if err != nil {
		errs = append(errs, strings.TrimPrefix(err.Error(), fs.ErrInvalid.Error()+": "))
	}
	age, ageSet := durOpt(OptUploadCleanAge)
	if boolOpt(OptCleanup, false) || ageSet {
		if !ageSet {
			age = DefaultCleanAge
		}
		if age <= 0 {
			bad(OptUploadCleanAge, fmt.Sprint(age), "want a positive age")
		}
		o.CleanUploadsOlderThan = age
	}
	if len(errs) > 0 {
		return Options{}, warnings, fmt.Errorf("%w: %s", fs.ErrInvalid, strings.Join(errs, "; "))
	}
	return o, warnings, nil
}

// endpointURL turns an endpoint option into a base URL "scheme://host[:port]".
func endpointURL(ep string, plainHTTP bool) (string, error) {
	if !strings.Contains(ep, "://") {
		scheme := "https://"
		if plainHTTP {
			scheme = "http://"
		}
		ep = scheme + ep
	}
	u, err := url.Parse(ep)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.User != nil {
		return "", fmt.Errorf("want host[:port] or http(s)://host[:port]")
	}
	return u.Scheme + "://" + u.Host, nil
}

// hostNeedsPathStyle reports whether an endpoint host cannot carry bucket names as
// subdomains (an IP address or localhost).
func hostNeedsPathStyle(base string) bool {
	u, err := url.Parse(base)
	if err != nil {
		return false
	}
	h := u.Hostname()
	return net.ParseIP(h) != nil || strings.EqualFold(h, "localhost")
}

// regionOf infers the region from an AWS endpoint host: s3.<region>.amazonaws.com,
// s3-<region>.amazonaws.com, s3.dualstack.<region>.amazonaws.com, s3-fips.<region>...,
// their .com.cn forms, with or without a bucket label in front. It returns "" for other
// hosts, the global s3.amazonaws.com and the accelerate endpoints.
func regionOf(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		return ""
	}
	h := strings.ToLower(u.Hostname())
	rest, ok := strings.CutSuffix(h, ".amazonaws.com")
	if !ok {
		if rest, ok = strings.CutSuffix(h, ".amazonaws.com.cn"); !ok {
			return ""
		}
	}
	labels := strings.Split(rest, ".")
	for i := 0; i < len(labels); i++ {
		l := labels[i]
		switch {
		case l == "s3" || l == "s3-fips":
			if i+1 < len(labels) && labels[i+1] == "dualstack" {
				i++
			}
			if i+1 < len(labels) {
				return labels[i+1]
			}
			return ""
		case strings.HasPrefix(l, "s3-") && i == len(labels)-1:
			switch r := strings.TrimPrefix(l, "s3-"); r {
			case "external-1":
				return DefaultRegion
			case "accelerate":
				return ""
			default:
				return r
			}
		}
	}
	return ""
}
