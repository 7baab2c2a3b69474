package kodo

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	"github.com/unifiedfs/unifiedfs/ufs"
	"github.com/unifiedfs/unifiedfs/ufs/retry"
)

// Option keys. The four of Alluxio's Kodo guide are required; the rest are optional. Keys
// match case-insensitively.
const (
	OptAccessKey    = "fs.kodo.accesskey"
	OptSecretKey    = "fs.kodo.secretkey"
	OptDownloadHost = "alluxio.underfs.kodo.downloadhost"
	OptEndpoint     = "alluxio.underfs.kodo.endpoint"

	OptUCHost  = "fs.kodo.uchost"  // comma-separated UC (bucket query) hosts
	OptRSHost  = "fs.kodo.rshost"  // comma-separated RS hosts, overriding /v4/query
	OptRSFHost = "fs.kodo.rsfhost" // comma-separated RSF hosts, overriding /v4/query
	OptUPHost  = "fs.kodo.uphost"  // comma-separated UP hosts, overriding /v4/query
	OptAPIHost = "fs.kodo.apihost" // comma-separated API hosts, overriding /v4/query
	OptHTTPS   = "fs.kodo.usehttps"

	// Aliases of the shared unifiedfs.* options (package ufs/retry): connect timeout,
	// response-header timeout, retries after the first attempt, first backoff.
	OptConnectTimeout  = "alluxio.underfs.kodo.connect.timeout"
	OptResponseTimeout = "fs.kodo.response.timeout"
	OptRetries         = "fs.kodo.retries"
	OptRetryInterval   = "fs.kodo.retry.interval"
	OptConcurrency     = "alluxio.underfs.kodo.requests.max"
	OptPartSize        = "fs.kodo.upload.partsize"
	OptThreshold       = "fs.kodo.upload.threshold"
	OptPageSize        = "fs.kodo.list.pagesize"
	OptTokenTTL        = "fs.kodo.token.ttl"
	OptCacheDir        = "fs.kodo.cachedir"
)

// Limits of Kodo's resumable upload v2 and listing.
const (
	minPartSize = 1 << 20
	maxPartSize = 1 << 30
	maxParts    = 10000
	maxPageSize = 1000
	maxBatch    = 1000
)

// regionEndpoints maps the region abbreviations of Alluxio's Kodo guide to IO endpoints.
var regionEndpoints = map[string]string{
	"z0":  "iovip.qbox.me",
	"z1":  "iovip-z1.qbox.me",
	"z2":  "iovip-z2.qbox.me",
	"na0": "iovip-na0.qbox.me",
	"as0": "iovip-as0.qbox.me",
}

// retryAliases are this driver's keys for the shared retry and timeout settings.
var retryAliases = retry.Aliases{
	Retries:         []string{OptRetries},
	BaseDelay:       []string{OptRetryInterval},
	ConnectTimeout:  []string{OptConnectTimeout},
	ResponseTimeout: []string{OptResponseTimeout},
}

// optionKeys lists every key parseConfig reads (the aliases among the Opt* keys).
var optionKeys = append([]string{OptAccessKey, OptSecretKey, OptDownloadHost, OptEndpoint, OptUCHost, OptRSHost,
	OptRSFHost, OptUPHost, OptAPIHost, OptHTTPS, OptConcurrency, OptPartSize, OptThreshold, OptPageSize,
	OptTokenTTL, OptCacheDir}, retry.Keys(retryAliases)...)

// config is a mount's parsed options.
type config struct {
	accessKey, secretKey string
	downloadHost         string // the bucket's download domain: Host header and signed URL host
	endpoint             string // base URL downloads connect to
	useHTTPS             bool

	ucHosts, rsHosts, rsfHosts, upHosts, apiHosts []string

	net         retry.Config // retries and timeouts (the shared unifiedfs.* options)
	concurrency int
	partSize    int64
	threshold   int64
	pageSize    int
	tokenTTL    time.Duration
	cacheFile   string // SDK region-query cache; "" for the SDK default under os.TempDir()
}

func parseConfig(uri ufs.URI, o ufs.Options) (*config, error) {
	c := &config{}
	var err error
	if c.accessKey, err = o.Require(uri, OptAccessKey); err != nil {
		return nil, err
	}
	if c.secretKey, err = o.Require(uri, OptSecretKey); err != nil {
		return nil, err
	}
	dl, err := o.Require(uri, OptDownloadHost)
	if err != nil {
		return nil, err
	}
	ep, err := o.Require(uri, OptEndpoint)
	if err != nil {
		return nil, err
	}
	if c.useHTTPS, err = o.Bool(OptHTTPS, true); err != nil {
		return nil, err
	}
	c.downloadHost = strings.TrimRight(strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(dl), "http://"), "https://"), "/")
	if c.downloadHost == "" || strings.ContainsAny(c.downloadHost, "/?# ") {
		return nil, fmt.Errorf("%w: option %s=%q is not a host name", fs.ErrInvalid, OptDownloadHost, dl)
	}
	if c.endpoint, err = endpointURL(ep, c.useHTTPS); err != nil {
		return nil, err
	}

	c.ucHosts = hostList(o, OptUCHost)
	c.rsHosts, c.rsfHosts = hostList(o, OptRSHost), hostList(o, OptRSFHost)
	c.upHosts, c.apiHosts = hostList(o, OptUPHost), hostList(o, OptAPIHost)

	if c.net, err = retry.Parse(o, retryAliases); err != nil {
		return nil, err
	}
	if c.tokenTTL, err = o.Duration(OptTokenTTL, 24*time.Hour); err != nil {
		return nil, err
	}
	ints := []struct {
		key      string
		def, min int64
		max      int64
		dst      func(int64)
	}{
		{OptConcurrency, 4, 1, 1024, func(v int64) { c.concurrency = int(v) }},
		{OptPartSize, 4 << 20, minPartSize, maxPartSize, func(v int64) { c.partSize = v }},
		{OptThreshold, 4 << 20, 0, 1 << 30, func(v int64) { c.threshold = v }},
		{OptPageSize, maxPageSize, 1, maxPageSize, func(v int64) { c.pageSize = int(v) }},
	}
	for _, i := range ints {
		v, err := o.Int(i.key, i.def)
		if err != nil {
			return nil, err
		}
		if v < i.min || v > i.max {
			return nil, fmt.Errorf("%w: option %s=%d is outside [%d, %d]", fs.ErrInvalid, i.key, v, i.min, i.max)
		}
		i.dst(v)
	}
	if c.tokenTTL < time.Minute {
		return nil, fmt.Errorf("%w: option %s=%v is shorter than a minute", fs.ErrInvalid, OptTokenTTL, c.tokenTTL)
	}
	if dir, ok := o.Get(OptCacheDir); ok && dir != "" {
		c.cacheFile = filepath.Join(dir, "query_v4_01.cache.json")
	}
	return c, nil
}

// endpointURL turns the endpoint option (a region abbreviation, a host or a URL) into the
// base URL downloads connect to.
func endpointURL(ep string, useHTTPS bool) (string, error) {
	v := strings.TrimSpace(ep)
	if host, ok := regionEndpoints[strings.ToLower(v)]; ok {
		v = host
	}
	if scheme, rest, ok := strings.Cut(v, "://"); ok {
		if scheme != "http" && scheme != "https" {
			return "", fmt.Errorf("%w: option %s=%q: want a host, an http(s) URL or one of z0 z1 z2 na0 as0", fs.ErrInvalid, OptEndpoint, ep)
		}
		v = scheme + "://" + strings.TrimSuffix(rest, "/")
	} else if useHTTPS {
		v = "https://" + v
	} else {
		v = "http://" + v
	}
	host := v[strings.Index(v, "://")+3:]
	if host == "" || strings.ContainsAny(host, "/?# ") {
		return "", fmt.Errorf("%w: option %s=%q is not a host", fs.ErrInvalid, OptEndpoint, ep)
	}
	return v, nil
}

// hostList splits a comma-separated host option.
func hostList(o ufs.Options, key string) []string {
	v, _ := o.Get(key)
	var out []string
	for _, h := range strings.Split(v, ",") {
		if h = strings.TrimRight(strings.TrimSpace(h), "/"); h != "" {
			out = append(out, h)
		}
	}
	return out
}

// Options configures New: the typed form of the mount options (see the package
// documentation), which New checks exactly as Open checks its keys. The zero value of a
// field means the option is unset (its default).
type Options struct {
	// Bucket is the bucket to mount (required); Prefix the directory of the root ("" for
	// the whole bucket, "dir" or "dir/sub").
	Bucket, Prefix string
	// AccessKey and SecretKey are the credentials (required).
	AccessKey, SecretKey string
	// DownloadHost is the bucket's download domain; Endpoint the IO endpoint downloads
	// connect to (a host, an http(s) URL or a region abbreviation). Both are required.
	DownloadHost, Endpoint string
	// PlainHTTP uses http for hosts given without a scheme (fs.kodo.usehttps=false).
	PlainHTTP bool
	// UCHosts, RSHosts, RSFHosts, UPHosts and APIHosts override the hosts of the
	// bucket's region (fs.kodo.uchost, ...).
	UCHosts, RSHosts, RSFHosts, UPHosts, APIHosts []string
	// Other holds any further option (fs.kodo.upload.*, unifiedfs.*...), by its key; a
	// key a field sets wins over the same key here.
	Other map[string]string
}

// uri returns the URI o names, and its options as mount options.
func (o Options) uri() (ufs.URI, ufs.Options, error) {
	uri, err := ufs.NewURI("kodo", o.Bucket, o.Prefix)
	https := ""
	if o.PlainHTTP {
		https = "false"
	}
	join := func(hosts []string) string { return strings.Join(hosts, ",") }
	return uri, ufs.OptionsOver(o.Other, OptAccessKey, o.AccessKey, OptSecretKey, o.SecretKey,
		OptDownloadHost, o.DownloadHost, OptEndpoint, o.Endpoint, OptHTTPS, https, OptUCHost, join(o.UCHosts),
		OptRSHost, join(o.RSHosts), OptRSFHost, join(o.RSFHosts), OptUPHost, join(o.UPHosts),
		OptAPIHost, join(o.APIHosts)), err
}

// New opens the bucket directory o describes, as Open does (listing one key to check the
// bucket and the keys), and returns it guarded (ufs.Guard; ufs.Unwrap gives the *FS).
func New(ctx context.Context, o Options) (ufs.UFS, error) {
	uri, opts, err := o.uri()
	if err != nil {
		return nil, ufs.OpenError(uri, err)
	}
	return Open(ctx, uri, opts)
}
