package kodo

import (
	"context"
	"net/http"
	"time"

	"github.com/qiniu/go-sdk/v7/auth"
	"github.com/qiniu/go-sdk/v7/storagev2/apis"
	"github.com/qiniu/go-sdk/v7/storagev2/chooser"
	httpclient "github.com/qiniu/go-sdk/v7/storagev2/http_client"
	"github.com/qiniu/go-sdk/v7/storagev2/region"
	"github.com/qiniu/go-sdk/v7/storagev2/resolver"
	"github.com/qiniu/go-sdk/v7/storagev2/retrier"

	"github.com/unifiedfs/unifiedfs/ufs/retry"
)

// defaultUCHosts are the SDK's bucket-query hosts, used when fs.kodo.uchost is unset.
var defaultUCHosts = []string{"uc.qiniuapi.com", "kodo-config.qiniuapi.com", "uc.qbox.me"}

// clients are the SDK objects one mount uses. Everything is per mount: no SDK global
// (SetUcHosts, default resolver, shared host freezer) is touched.
type clients struct {
	creds   *auth.Credentials
	http    *http.Client
	storage *apis.Storage
}

func newClients(cfg *config, bucket string) (*clients, error) {
	tr := retry.NewTransport(cfg.net, 0)
	tr.MaxIdleConnsPerHost = max(2*cfg.concurrency, 16)
	hc := &http.Client{Transport: tr}
	creds := auth.New(cfg.accessKey, cfg.secretKey)

	// The SDK resolves host names itself and dials a chosen IP through its own default
	// client; with our plain http.Client that is wasted work (and its default resolver
	// probes an outside address to learn the local IP), so it is turned off.
	res := resolver.NewEmptyResolver()
	cho := chooser.NewDirectChooser()

	regions, err := regionsProvider(cfg, bucket, hc, res, cho)
	if err != nil {
		return nil, err
	}
	opts := &httpclient.Options{
		BasicHTTPClient:     hc,
		Regions:             regions,
		Credentials:         creds,
		UseInsecureProtocol: !cfg.useHTTPS,
		Resolver:            res,
		Chooser:             cho,
		HostRetryConfig:     noRetries(),
		HostsRetryConfig:    noRetries(),
		HostFreezeDuration:  10 * time.Second,
	}
	return &clients{creds: creds, http: hc, storage: apis.NewStorage(opts)}, nil
}

// noRetries turns the SDK's retries off: every request runs under the mount's
// retry.Policy, and the SDK's would multiply the attempts (its retrier also gives up at
// once on a refused connection when there is no other host). The SDK replaces a RetryMax
// of 0 by its default, hence 1 with the never-retrier. A host is frozen only on a retry
// decision, so none is.
func noRetries() *httpclient.RetryConfig {
	return &httpclient.RetryConfig{RetryMax: 1, Retrier: retrier.NewNeverRetrier()}
}

// regionsProvider returns the service hosts of the bucket: those of the options when RS,
// RSF and UP hosts are all given, else the answer of the UC /v4/query (cached by the SDK),
// with any host option overriding its service.
func regionsProvider(cfg *config, bucket string, hc *http.Client, res resolver.Resolver, cho chooser.Chooser) (region.RegionsProvider, error) {
	override := &overrideRegions{rs: cfg.rsHosts, rsf: cfg.rsfHosts, up: cfg.upHosts, api: cfg.apiHosts}
	if len(cfg.rsHosts) > 0 && len(cfg.rsfHosts) > 0 && len(cfg.upHosts) > 0 {
		return override, nil
	}
	uc := cfg.ucHosts
	if len(uc) == 0 {
		uc = defaultUCHosts
	}
	query, err := region.NewBucketRegionsQuery(region.Endpoints{Preferred: uc}, &region.BucketRegionsQueryOptions{
		UseInsecureProtocol: !cfg.useHTTPS,
		PersistentFilePath:  cfg.cacheFile,
		RetryMax:            1, // the least the SDK allows; the query runs inside a call under the policy
		HostFreezeDuration:  10 * time.Second,
		Client:              hc,
		Resolver:            res,
		Chooser:             cho,
	})
	if err != nil {
		return nil, err
	}
	override.base = query.Query(cfg.accessKey, bucket)
	return override, nil
}

// overrideRegions replaces the hosts of the services set in the options.
type overrideRegions struct {
	base             region.RegionsProvider // nil: no UC query
	rs, rsf, up, api []string
}

// GetRegions implements region.RegionsProvider.
func (o *overrideRegions) GetRegions(ctx context.Context) ([]*region.Region, error) {
	r := &region.Region{}
	if o.base != nil {
		rs, err := o.base.GetRegions(ctx)
		if err != nil {
			return nil, err
		}
		if len(rs) == 0 {
			return nil, httpclient.ErrNoRegion
		}
		cp := *rs[0]
		r = &cp
	}
	set := func(dst *region.Endpoints, hosts []string) {
		if len(hosts) > 0 {
			*dst = region.Endpoints{Preferred: hosts}
		}
	}
	set(&r.Rs, o.rs)
	set(&r.Rsf, o.rsf)
	set(&r.Up, o.up)
	set(&r.Api, o.api)
	return []*region.Region{r}, nil
}
