package oss

import (
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"strings"

	sdk "github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/credentials"
	sdkretry "github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/retry"

	"github.com/unifiedfs/unifiedfs/ufs"
	"github.com/unifiedfs/unifiedfs/ufs/retry"
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

	aliasConnectTimeout = "alluxio.underfs.oss.connection.timeout"
	aliasSocketTimeout  = "alluxio.underfs.oss.socket.timeout"
	aliasMaxConns       = "alluxio.underfs.oss.connection.max"
	aliasRetries        = "alluxio.underfs.oss.retry.max"
	keyThreshold        = "fs.oss.multipart.threshold"
	keyPartSize         = "fs.oss.multipart.partSize"
	keyThreads          = "fs.oss.multipart.threads"
	keyCopyThreshold    = "fs.oss.copy.threshold"
	keyCopyPartSize     = "fs.oss.copy.partSize"
	keyCopyThreads      = "fs.oss.copy.threads"
	keyPageSize         = "fs.oss.list.pageSize"

	aliasPartSize = "alluxio.underfs.oss.streaming.upload.partition.size"
	aliasThreads  = "alluxio.underfs.oss.streaming.upload.threads"
)

// retryAliases are this driver's keys for the shared retry and timeout settings.
var retryAliases = retry.Aliases{
	Retries:        []string{keyRetries, aliasRetries},
	BaseDelay:      []string{keyRetryDelay},
	ConnectTimeout: []string{keyConnectTimeout, aliasConnectTimeout},
	IdleTimeout:    []string{keySocketTimeout, aliasSocketTimeout},
}

// optionKeys lists every key parseConfig reads.
var optionKeys = append([]string{keyEndpoint, keyAccessKeyID, keyAccessSecret, keySecurityToken, keyRegion,
	keySignature, keyPathStyle, keyMaxConns, aliasMaxConns, keyThreshold, keyPartSize, aliasPartSize, keyThreads,
	aliasThreads, keyCopyThreshold, keyCopyPartSize, keyCopyThreads, keyPageSize}, retry.Keys(retryAliases)...)

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
	net           retry.Config // retries and timeouts (the shared unifiedfs.* options)
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
		{keyMaxConns, aliasMaxConns, &c.maxConns, 100, 1, 1 << 16},
		{keyPageSize, "", &c.pageSize, maxListKeys, 1, maxListKeys},
	}
	for _, it := range counts {
		n, err := sizeOpt(o, it.key, it.alias, it.def, it.lo, it.hi)
		if err != nil {
			return nil, err
		}
		*it.dst = int(n)
	}
	c.net, err = retry.Parse(o, retryAliases)
	if err != nil {
		return nil, err
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

// newClient builds the SDK client and the HTTP client under it. The SDK's own retries are
// off (NopRetryer): every request runs under the mount's retry.Policy instead, which would
// otherwise multiply the attempts (and the SDK's retries 401s, which must fail at once).
// The transport bounds connecting, waiting for headers and every stall of a body
// (unifiedfs.connect/response/idle.timeout); redirects are not followed, as in the SDK.
func newClient(c *config) (*sdk.Client, *http.Client) {
	hc := &http.Client{
		Transport: retry.NewTransport(c.net, c.maxConns),
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	cfg := sdk.NewConfig().
		WithEndpoint(c.endpoint).
		WithCredentialsProvider(c.creds).
		WithHttpClient(hc).
		WithUsePathStyle(c.pathStyle).
		WithRetryer(sdkretry.NopRetryer{})
	if c.region != "" {
		cfg = cfg.WithRegion(c.region)
	}
	if c.signV1 {
		cfg = cfg.WithSignatureVersion(sdk.SignatureVersionV1)
	}
	return sdk.NewClient(cfg), hc
}
