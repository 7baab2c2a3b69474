package oss

import (
	"context"

	"github.com/unifiedfs/unifiedfs/ufs"
)

// Options configures New: the typed form of the mount options (see the package
// documentation), which New checks exactly as Open checks its keys. The zero value of a
// field means the option is unset (its default).
type Options struct {
	// Bucket is the bucket to mount (required); Prefix the directory of the root ("" for
	// the whole bucket, "dir" or "dir/sub").
	Bucket, Prefix string
	// Endpoint is fs.oss.endpoint (required): a host, or an http(s) URL.
	Endpoint string
	// AccessKeyID, AccessKeySecret (required) and SecurityToken (STS) are the credentials.
	AccessKeyID, AccessKeySecret, SecurityToken string
	// Region is the V4 signature's region (fs.oss.region); empty: from the endpoint.
	Region string
	// SignatureV1 signs with OSS's V1 signature instead of V4.
	SignatureV1 bool
	// PathStyle forces path-style addressing (fs.oss.pathStyle=true).
	PathStyle bool
	// Other holds any further option (fs.oss.multipart.*, fs.oss.copy.*, unifiedfs.*...),
	// by its key; a key a field sets wins over the same key here.
	Other map[string]string
}

// uri returns the URI o names, and its options as mount options.
func (o Options) uri() (ufs.URI, ufs.Options, error) {
	uri, err := ufs.NewURI("oss", o.Bucket, o.Prefix)
	return uri, ufs.OptionsOver(o.Other, keyEndpoint, o.Endpoint, keyAccessKeyID, o.AccessKeyID,
		keyAccessSecret, o.AccessKeySecret, keySecurityToken, o.SecurityToken, keyRegion, o.Region,
		keySignature, when(o.SignatureV1, "v1"), keyPathStyle, when(o.PathStyle, "true")), err
}

// when returns v when b holds, else "" (an unset option).
func when(b bool, v string) string {
	if b {
		return v
	}
	return ""
}

// New opens the bucket directory o describes, as Open does, and returns it guarded
// (ufs.Guard; ufs.Unwrap gives the *FS).
func New(ctx context.Context, o Options) (ufs.UFS, error) {
	uri, opts, err := o.uri()
	if err != nil {
		return nil, ufs.OpenError(uri, err)
	}
	return Open(ctx, uri, opts)
}
