package retry

import (
	"fmt"
	"io/fs"
	"time"

	"github.com/unifiedfs/unifiedfs/ufs"
)

// The option keys every driver takes (see the package documentation).
const (
	KeyAttempts        = "unifiedfs.retry.attempts"
	KeyBaseDelay       = "unifiedfs.retry.base.delay"
	KeyMaxDelay        = "unifiedfs.retry.max.delay"
	KeyResumes         = "unifiedfs.read.resume.max"
	KeyConnectTimeout  = "unifiedfs.connect.timeout"
	KeyResponseTimeout = "unifiedfs.response.timeout"
	KeyIdleTimeout     = "unifiedfs.idle.timeout"
	KeyRequestTimeout  = "unifiedfs.request.timeout"
	KeyAbortTimeout    = "unifiedfs.abort.timeout"

	// AliasResumes is Alluxio's name for the retries of an object-store read.
	AliasResumes = "alluxio.underfs.object.store.read.retry.max.num"
)

// Defaults of the shared options.
const (
	DefaultAttempts        = 4
	DefaultBaseDelay       = 100 * time.Millisecond
	DefaultMaxDelay        = 5 * time.Second
	DefaultResumes         = 100
	DefaultConnectTimeout  = 10 * time.Second
	DefaultResponseTimeout = 30 * time.Second
	DefaultIdleTimeout     = 30 * time.Second
	DefaultRequestTimeout  = 60 * time.Second
	DefaultAbortTimeout    = 10 * time.Second
)

// Config is a parsed set of the shared options.
type Config struct {
	Policy          Policy // Attempts, BaseDelay, MaxDelay, AttemptTimeout (request timeout), MaxResumes
	ConnectTimeout  time.Duration
	ResponseTimeout time.Duration
	IdleTimeout     time.Duration
	AbortTimeout    time.Duration
}

// Aliases are a driver's own keys for shared settings, consulted in order when the shared
// key is unset. Retries keys count retries (attempts - 1), as the SDKs' settings do.
type Aliases struct {
	Retries         []string
	BaseDelay       []string
	MaxDelay        []string
	ConnectTimeout  []string
	ResponseTimeout []string
	IdleTimeout     []string
	RequestTimeout  []string
}

// Parse reads the shared options (and a driver's aliases) from o. Errors wrap
// fs.ErrInvalid and name the key.
func Parse(o ufs.Options, a Aliases) (Config, error) {
	c := Config{}
	p := &c.Policy
	var err error
	attempts, key, err := count(o, KeyAttempts, DefaultAttempts, 1, 100)
	if err != nil {
		return c, err
	}
	if key == "" {
		for _, k := range a.Retries {
			if _, ok := o.Get(k); ok {
				n, _, err := count(o, k, 0, 0, 99)
				if err != nil {
					return c, err
				}
				attempts = n + 1
				break
			}
		}
	}
	p.Attempts = int(attempts)
	resumes, _, err := count(o, first(o, KeyResumes, AliasResumes), DefaultResumes, 0, 1<<20)
	if err != nil {
		return c, err
	}
	p.MaxResumes = int(resumes)
	durs := []struct {
		key     string
		aliases []string
		dst     *time.Duration
		def     time.Duration
		zeroOK  bool
	}{
		{KeyBaseDelay, a.BaseDelay, &p.BaseDelay, DefaultBaseDelay, true},
		{KeyMaxDelay, a.MaxDelay, &p.MaxDelay, DefaultMaxDelay, true},
		{KeyRequestTimeout, a.RequestTimeout, &p.AttemptTimeout, DefaultRequestTimeout, false},
		{KeyConnectTimeout, a.ConnectTimeout, &c.ConnectTimeout, DefaultConnectTimeout, false},
		{KeyResponseTimeout, a.ResponseTimeout, &c.ResponseTimeout, DefaultResponseTimeout, false},
		{KeyIdleTimeout, a.IdleTimeout, &c.IdleTimeout, DefaultIdleTimeout, false},
		{KeyAbortTimeout, nil, &c.AbortTimeout, DefaultAbortTimeout, false},
	}
	for _, d := range durs {
		k := first(o, append([]string{d.key}, d.aliases...)...)
		if *d.dst, err = o.Duration(k, d.def); err != nil {
			return c, err
		}
		if *d.dst < 0 || *d.dst == 0 && !d.zeroOK {
			return c, fmt.Errorf("%w: option %s=%v must be positive", fs.ErrInvalid, k, *d.dst)
		}
	}
	if p.MaxDelay < p.BaseDelay {
		return c, fmt.Errorf("%w: option %s (%v) is below %s (%v)", fs.ErrInvalid, KeyMaxDelay, p.MaxDelay, KeyBaseDelay, p.BaseDelay)
	}
	return c, nil
}

// first returns the first of keys that is set, or keys[0].
func first(o ufs.Options, keys ...string) string {
	for _, k := range keys {
		if _, ok := o.Get(k); ok {
			return k
		}
	}
	return keys[0]
}

// count parses an integer option within [lo, hi]; key is "" when it was unset.
func count(o ufs.Options, k string, def, lo, hi int64) (int64, string, error) {
	v, ok := o.Get(k)
	if !ok || v == "" {
		return def, "", nil
	}
	n, err := o.Int(k, def)
	if err != nil {
		return 0, k, err
	}
	if n < lo || n > hi {
		return 0, k, fmt.Errorf("%w: option %s=%d is out of range [%d, %d]", fs.ErrInvalid, k, n, lo, hi)
	}
	return n, k, nil
}

// Keys returns every option key Parse reads with aliases a: the shared keys, AliasResumes
// and a's keys, so that a driver can list the keys it reads (ufs.OptionKeyer).
func Keys(a Aliases) []string {
	keys := []string{KeyAttempts, KeyBaseDelay, KeyMaxDelay, KeyResumes, KeyConnectTimeout,
		KeyResponseTimeout, KeyIdleTimeout, KeyRequestTimeout, KeyAbortTimeout, AliasResumes}
	for _, as := range [][]string{a.Retries, a.BaseDelay, a.MaxDelay, a.ConnectTimeout, a.ResponseTimeout, a.IdleTimeout, a.RequestTimeout} {
		keys = append(keys, as...)
	}
	return keys
}
