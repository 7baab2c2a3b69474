package ufs

import (
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ErrMissingOption is wrapped (with fs.ErrInvalid) by Options.Require's error.
var ErrMissingOption = errors.New("missing required option")

// Options are a mount's key/value options. Keys match case-insensitively: the Alluxio docs
// write both fs.kodo.accessKey and fs.kodo.accesskey. String redacts secrets.
type Options struct {
	m map[string]string // lower-cased key -> value
	k map[string]string // lower-cased key -> key as given
}

// NewOptions copies m. When two keys differ only in case, the lexically larger wins
// (deterministically).
func NewOptions(m map[string]string) Options {
	o := Options{m: make(map[string]string, len(m)), k: make(map[string]string, len(m))}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		lk := strings.ToLower(k)
		o.m[lk] = m[k]
		o.k[lk] = k
	}
	return o
}

// OptionsOver returns the mount options of a driver's typed constructor: the keys of other,
// and over them each key of kv (key, value pairs) whose value is not empty.
func OptionsOver(other map[string]string, kv ...string) Options {
	m := make(map[string]string, len(other)+len(kv)/2)
	for k, v := range other {
		m[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			for k := range m { // the field wins over the same key in other, in any case
				if strings.EqualFold(k, kv[i]) {
					delete(m, k)
				}
			}
			m[kv[i]] = kv[i+1]
		}
	}
	return NewOptions(m)
}

// Get returns the value of key (any case) and whether it is set.
func (o Options) Get(key string) (string, bool) {
	v, ok := o.m[strings.ToLower(key)]
	return v, ok
}

// First returns the value of the first of keys that is set (aliases of one setting).
func (o Options) First(keys ...string) (string, bool) {
	for _, k := range keys {
		if v, ok := o.Get(k); ok {
			return v, true
		}
	}
	return "", false
}

// Require returns the value of key, or an error naming the key and uri when it is unset or
// empty. The error wraps fs.ErrInvalid and ErrMissingOption.
func (o Options) Require(uri URI, key string) (string, error) {
	v, ok := o.Get(key)
	if !ok || v == "" {
		return "", fmt.Errorf("%w: %w %q for %s (pass it as a mount option)", fs.ErrInvalid, ErrMissingOption, key, uri)
	}
	return v, nil
}

// Bool parses key as a boolean, returning def when unset.
func (o Options) Bool(key string, def bool) (bool, error) {
	v, ok := o.Get(key)
	if !ok || v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return def, fmt.Errorf("%w: option %s=%q is not a boolean", fs.ErrInvalid, key, v)
	}
	return b, nil
}

// Int parses key as an integer, returning def when unset.
func (o Options) Int(key string, def int64) (int64, error) {
	v, ok := o.Get(key)
	if !ok || v == "" {
		return def, nil
	}
	n, err := ParseSize(v)
	if err != nil {
		return def, fmt.Errorf("%w: option %s=%q is not a number", fs.ErrInvalid, key, v)
	}
	return n, nil
}

// Duration parses key as a duration ("30s", "5min", "1m", or milliseconds as a bare
// number, as Alluxio does), returning def when unset.
func (o Options) Duration(key string, def time.Duration) (time.Duration, error) {
	v, ok := o.Get(key)
	if !ok || v == "" {
		return def, nil
	}
	d, err := ParseDuration(v)
	if err != nil {
		return def, fmt.Errorf("%w: option %s=%q: %v", fs.ErrInvalid, key, v, err)
	}
	return d, nil
}

// Map returns a copy of the options with keys as given.
func (o Options) Map() map[string]string {
	out := make(map[string]string, len(o.m))
	for lk, v := range o.m {
		out[o.k[lk]] = v
	}
	return out
}

// Redacted returns a copy with the values of secret keys replaced by "<redacted>".
func (o Options) Redacted() map[string]string { return RedactOptions(o.Map()) }

// String prints the options sorted, secrets redacted.
func (o Options) String() string {
	r := o.Redacted()
	keys := make([]string, 0, len(r))
	for k := range r {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s=%s", k, r[k])
	}
	b.WriteByte('}')
	return b.String()
}

// GoString redacts too, so %#v never prints a secret.
func (o Options) GoString() string { return "ufs.Options" + o.String() }

// Redacted is the placeholder that replaces a secret value.
const Redacted = "<redacted>"

// IsSecretKey reports whether an option key names a secret: a secret key, password,
// token, credential or keytab content.
func IsSecretKey(key string) bool {
	k := strings.ToLower(key)
	for _, w := range []string{"secret", "password", "passwd", "token", "credential", "privatekey", "private.key"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// RedactOptions returns a copy of m with secret values replaced by Redacted.
func RedactOptions(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		if IsSecretKey(k) {
			v = Redacted
		}
		out[k] = v
	}
	return out
}

// ParseSize parses a byte count: "1024", "64KB", "64k", "8MB", "1GB" (binary multiples,
// as Alluxio's sizes are).
func ParseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"TB", 1 << 40}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.m
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%w: size %q", fs.ErrInvalid, s)
	}
	return n * mult, nil
}

// ParseDuration parses Go durations ("30s", "1m30s") and Alluxio's forms: a bare number of
// milliseconds ("60000"), "-1", and suffixes "ms", "sec", "min", "hour", "day" ("5min").
func ParseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(strings.ToLower(s))
	if d, err := time.ParseDuration(t); err == nil {
		return d, nil
	}
	if n, err := strconv.ParseInt(t, 10, 64); err == nil {
		return time.Duration(n) * time.Millisecond, nil
	}
	for _, u := range []struct {
		suffix string
		d      time.Duration
	}{{"millis", time.Millisecond}, {"sec", time.Second}, {"secs", time.Second}, {"min", time.Minute}, {"mins", time.Minute},
		{"hour", time.Hour}, {"hours", time.Hour}, {"hr", time.Hour}, {"day", 24 * time.Hour}, {"days", 24 * time.Hour}, {"d", 24 * time.Hour}} {
		if num, ok := strings.CutSuffix(t, u.suffix); ok {
			if n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64); err == nil {
				return time.Duration(n) * u.d, nil
			}
		}
	}
	return 0, fmt.Errorf("%w: duration %q", fs.ErrInvalid, s)
}

// OptionKeyer is implemented by a UFS whose driver knows every option key it reads, so
// that a mount can warn about keys it ignores (a misspelt credential key otherwise
// surfaces later as an anonymous-access error).
type OptionKeyer interface {
	// OptionKeys returns the keys the driver reads (any case matches).
	OptionKeys() []string
}

// UnknownKeys returns the keys of m that keys does not name (case-insensitively), sorted.
func UnknownKeys(m map[string]string, keys []string) []string {
	known := make(map[string]bool, len(keys))
	for _, k := range keys {
		known[strings.ToLower(k)] = true
	}
	var out []string
	for k := range m {
		if !known[strings.ToLower(k)] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
