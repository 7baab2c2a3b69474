package oss

import (
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	sdk "github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/credentials"
	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/retry"
	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/transport"

	"github.com/unifiedfs/unifiedfs/ufs"
)

// Option keys (see the package documentation).
const (
	keyEndpoint       = "fs.oss.endpoint"
	keyAccessKeyID    = "fs.oss.accessKeyId"
	keyAccessSecret   = "fs.oss.accessKeySecret"
	keySecurityToken  = "fs.oss.securityToken"
	keyRegion         = "fs.oss.region"
	keySignature      = "fs.oss.signatureVersion"
	keyPathStyle      = "fs.oss.pathStyle"
	keyConnectTimeout = "fs.oss.connection.timeout"
	keySocketTimeout  = "fs.oss.socket.timeout"
	keyMaxConns       = "fs.oss.connection.max"
	keyRetries        = "fs.oss.retry.max"
	keyRetryDelay     = "fs.oss.retry.baseDelay"
	keyThreshold      = "fs.oss.multipart.threshold"
	keyPartSize       = "fs.oss.multipart.partSize"
	keyThreads        = "fs.oss.multipart.threads"
	keyCopyThreshold  = "fs.oss.copy.threshold"
	keyCopyPartSize   = "fs.oss.copy.partSize"
	keyCopyThreads    = "fs.oss.copy.threads"
	keyPageSize       = "fs.oss.list.pageSize"

	aliasPartSize = "alluxio.underfs.oss.streaming.upload.partition.size"
	aliasThreads  = "alluxio.underfs.oss.streaming.upload.threads"
)

// Limits OSS imposes.
const (
	minPartSize  = 100 << 10
	maxPartSize  = 5 << 30
	maxParts     = 10000
	maxListKeys  = 1000
	maxDeleteKey = 1000
)

// config is a parsed set of mount options.
type config struct {
	endpoint      string // with scheme
	region        string
	pathStyle     bool
	signV1        bool
	retries       int
	retryDelay    time.Duration
	connTimeout   time.Duration
	rwTimeout     time.Duration
	maxConns      int
	threshold     int64
	partSize      int64
	threads       int
	copyThreshold int64
	copyPartSize  int64
	copyThreads   int
	pageSize      int
	creds         credentials.CredentialsProvider
}

func parseConfig(uri ufs.URI, o ufs.Options) (*config, error) {
	c := &config{}
	ep, err := o.Require(uri, keyEndpoint)
	if err != nil {
		return nil, err
	}
	if !strings.Contains(ep, "://") {
		ep = "https://" + ep
	}
	u, err := url.Parse(ep)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("%w: option %s=%q is not an endpoint (want host[:port] or http(s)://host[:port])", fs.ErrInvalid, keyEndpoint, ep)
	}
	c.endpoint = u.Scheme + "://" + u.Host
	id, err := o.Require(uri, keyAccessKeyID)
	if err != nil {
		return nil, err
	}
	secret, err := o.Require(uri, keyAccessSecret)
	if err != nil {
		return nil, err
	}
	token, _ := o.Get(keySecurityToken)
	c.creds = credentials.NewStaticCredentialsProvider(id, secret, token)

	switch v, _ := o.Get(keySignature); strings.ToLower(v) {
	case "", "v4", "4":
	case "v1", "1":
		c.signV1 = true
	default:
		return nil, fmt.Errorf("%w: option %s=%q (want v4 or v1)", fs.ErrInvalid, keySignature, v)
	}
	if v, ok := o.Get(keyRegion); ok && v != "" {
		c.region = v
	} else if c.region = regionOf(u.Hostname()); c.region == "" && !c.signV1 {
		if _, err := o.Require(uri, keyRegion); err != nil {
			return nil, fmt.Errorf("%w (V4 signing needs it; endpoint %q does not name a region)", err, u.Host)
		}
	}
	host := u.Hostname()
	auto := net.ParseIP(host) != nil || strings.EqualFold(host, "localhost")
	if c.pathStyle, err = o.Bool(keyPathStyle, auto); err != nil {
		return nil, err
	}

	ints := []struct {
		key, alias string
		dst        *int64
		def, lo    int64
		hi         int64
	}{
		{keyThreshold, "", &c.threshold, 32 << 20, 0, maxPartSize},
		{keyPartSize, aliasPartSize, &c.partSize, 8 << 20, minPartSize, maxPartSize},
		{keyCopyThreshold, "", &c.copyThreshold, 512 << 20, 0, maxPartSize},
		{keyCopyPartSize, "", &c.copyPartSize, 64 << 20, minPartSize, maxPartSize},
	}
	for _, it := range ints {
		if *it.dst, err = sizeOpt(o, it.key, it.alias, it.def, it.lo, it.hi); err != nil {
			return nil, err
		}
	}
	counts := []struct {
		key, alias string
		dst        *int
		def, lo    int64
		hi         int64
	}{
		{keyThreads, aliasThreads, &c.threads, 4, 1, 256},
		{keyCopyThreads, "", &c.copyThreads, 8, 1, 256},
		{keyRetries, "", &c.retries, 3, 0, 100},
		{keyMaxConns, "", &c.maxConns, 100, 1, 1 << 16},
		{keyPageSize, "", &c.pageSize, maxListKeys, 1, maxListKeys},
	}
	for _, it := range counts {
		n, err := sizeOpt(o, it.key, it.alias, it.def, it.lo, it.hi)
		if err != nil {
			return nil, err
		}
		*it.dst = int(n)
	}
	durs := []struct {
		key string
		dst *time.Duration
		def time.Duration
	}{
		{keyRetryDelay, &c.retryDelay, 200 * time.Millisecond},
		{keyConnectTimeout, &c.connTimeout, 10 * time.Second},
		{keySocketTimeout, &c.rwTimeout, 50 * time.Second},
	}
	for _, it := range durs {
		if *it.dst, err = o.Duration(it.key, it.def); err != nil {
			return nil, err
		}
		if *it.dst <= 0 {
			return nil, fmt.Errorf("%w: option %s must be positive", fs.ErrInvalid, it.key)
		}
	}
	return c, nil
}

// sizeOpt reads a number (with size suffixes) from key or its alias and checks its range.
func sizeOpt(o ufs.Options, key, alias string, def, lo, hi int64) (int64, error) {
	k := key
	if _, ok := o.Get(key); !ok && alias != "" {
		if _, ok := o.Get(alias); ok {
			k = alias
		}
	}
	n, err := o.Int(k, def)
	if err != nil {
		return 0, err
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("%w: option %s=%d is out of range [%d, %d]", fs.ErrInvalid, k, n, lo, hi)
	}
	return n, nil
}

// regionOf derives the region from an OSS endpoint host: oss-<region>.aliyuncs.com,
// oss-<region>-internal.aliyuncs.com, <region>.oss.aliyuncs.com (dual stack), possibly
// prefixed by a bucket name. It returns "" when the host names no region.
func regionOf(host string) string {
	host = strings.ToLower(host)
	if !strings.HasSuffix(host, ".aliyuncs.com") {
		return ""
	}
	labels := strings.Split(strings.TrimSuffix(host, ".aliyuncs.com"), ".")
	for i, l := range labels {
		if r, ok := strings.CutPrefix(l, "oss-"); ok && i == len(labels)-1 {
			r = strings.TrimSuffix(r, "-internal")
			if r == "accelerate" || r == "accelerate-overseas" || r == "" {
				return ""
			}
			return r
		}
		if l == "oss" && i > 0 && i == len(labels)-1 {
			return labels[i-1]
		}
	}
	return ""
}

// newClient builds the SDK client and the HTTP client under it.
func newClient(c *config) (*sdk.Client, *http.Client) {
	hc := transport.NewHttpClient(&transport.Config{
		ConnectTimeout:   &c.connTimeout,
		ReadWriteTimeout: &c.rwTimeout,
	}, transport.MaxConnections(c.maxConns), func(t *http.Transport) {
		t.MaxIdleConnsPerHost = min(c.maxConns, 64)
	})
	cfg := sdk.NewConfig().
		WithEndpoint(c.endpoint).
		WithCredentialsProvider(c.creds).
		WithHttpClient(hc).
		WithUsePathStyle(c.pathStyle).
		WithRetryer(retry.NewStandard(func(ro *retry.RetryOptions) {
			ro.MaxAttempts = c.retries + 1
			ro.BaseDelay = c.retryDelay
			ro.MaxBackoff = max(c.retryDelay*32, time.Second)
		}))
	if c.region != "" {
		cfg = cfg.WithRegion(c.region)
	}
	if c.signV1 {
		cfg = cfg.WithSignatureVersion(sdk.SignatureVersionV1)
	}
	return sdk.NewClient(cfg), hc
}
