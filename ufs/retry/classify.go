package retry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/unifiedfs/unifiedfs/ufs"
)

// Class says whether a failure is worth another attempt.
type Class int

const (
	// Final failures are returned at once: authentication, permission, not found,
	// precondition failed, other 4xx, invalid requests, a cancelled or expired context,
	// and errors nothing recognises.
	Final Class = iota
	// Transient failures are retried with backoff: refused, reset or dropped
	// connections, a body that ended early, timeouts, 5xx.
	Transient
	// Throttled failures are retried after the store's Retry-After, or with backoff:
	// 429, 503 SlowDown, Kodo 573.
	Throttled
)

func (c Class) String() string {
	switch c {
	case Transient:
		return "transient"
	case Throttled:
		return "throttled"
	}
	return "final"
}

// Response is what a store answered, as far as an error tells.
type Response struct {
	Status int         // HTTP status (Kodo's 6xx included)
	Code   string      // the store's error code ("SlowDown", "AccessDenied"); may be empty
	Header http.Header // the response headers, nil when the error does not keep them
}

// StatusError is an HTTP error answer, for drivers that read raw responses. Its Retry-After
// header is honoured.
type StatusError struct {
	Response
	Message string
}

func (e *StatusError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	if e.Code != "" {
		return fmt.Sprintf("HTTP %d %s: %s", e.Status, e.Code, msg)
	}
	return fmt.Sprintf("HTTP %d: %s", e.Status, msg)
}

// throttleCodes are error codes that mean "slow down" whatever the status.
var throttleCodes = map[string]bool{
	"SlowDown": true, "Throttling": true, "ThrottlingException": true, "TooManyRequests": true,
	"RequestLimitExceeded": true, "RequestThrottled": true,
}

// Classify classifies err with p's code table and inspector; see ClassifyResponse and
// ClassifyNet.
func (p *Policy) Classify(err error) Class {
	var perm *permanentError
	if err == nil || errors.As(err, &perm) || errors.Is(err, ufs.ErrChanged) || errors.Is(err, context.Canceled) {
		return Final
	}
	if r, ok := p.response(err); ok {
		return ClassifyResponse(r, p.Codes)
	}
	return ClassifyNet(err)
}

func (p *Policy) response(err error) (Response, bool) {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Response, true
	}
	if p.Inspect != nil {
		return p.Inspect(err)
	}
	return Response{}, false
}

// ClassifyResponse classifies a store's error answer: codes first (a driver's table, then
// the common throttling codes), then the status: 429 and Kodo's 573 are Throttled, 503 is
// Throttled with a throttling code or a Retry-After and Transient otherwise, 408 and the
// other 5xx (but 501) are Transient, everything else Final. Kodo's 6xx codes other than
// 573 and 599 describe the request (612 no such file, 614 exists, 631 no such bucket, ...)
// and are Final.
func ClassifyResponse(r Response, codes map[string]Class) Class {
	if c, ok := codes[r.Code]; ok && r.Code != "" {
		return c
	}
	if throttleCodes[r.Code] {
		return Throttled
	}
	switch {
	case r.Status == http.StatusTooManyRequests || r.Status == 573:
		return Throttled
	case r.Status == http.StatusServiceUnavailable:
		if r.Header.Get("Retry-After") != "" {
			return Throttled
		}
		return Transient
	case r.Status == http.StatusRequestTimeout, r.Status == 599:
		return Transient
	case r.Status == http.StatusNotImplemented:
		return Final
	case r.Status >= 500 && r.Status < 600:
		return Transient
	}
	return Final
}

// ClassifyNet classifies a failure that carries no store answer: a cancelled context is
// Final; refused, reset, aborted or broken connections, a connection closed before or
// during a response (EOF, unexpected EOF), and timeouts (context.DeadlineExceeded among
// them: net/http's timeouts match it) are Transient; TLS certificate errors, DNS names that
// do not exist, and anything unrecognised are Final. The caller's own context is not
// judged here: Do, Value and Resume never retry once it has ended.
func ClassifyNet(err error) Class {
	switch {
	case err == nil:
		return Final
	case errors.Is(err, context.Canceled):
		return Final
	}
	var (
		certErr   *tls.CertificateVerificationError
		unknownCA x509.UnknownAuthorityError
		hostErr   x509.HostnameError
		dnsErr    *net.DNSError
		recordErr tls.RecordHeaderError
		netErr    net.Error
		permanent *permanentError
	)
	switch {
	case errors.As(err, &permanent), errors.Is(err, ufs.ErrChanged):
		return Final
	case errors.As(err, &certErr), errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &recordErr):
		return Final
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return Final
		}
		return Transient
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.EPIPE),
		errors.Is(err, syscall.ETIMEDOUT), errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.ENETDOWN):
		return Transient
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return Transient
	case errors.As(err, &netErr) && netErr.Timeout():
		return Transient
	}
	// net/http reports some connection losses only as text.
	msg := err.Error()
	for _, s := range []string{"server closed idle connection", "transport connection broken",
		"use of closed network connection", "http2: client connection lost", "stream error:",
		"unexpected EOF reading trailer", "connection reset by peer", "broken pipe"} {
		if strings.Contains(msg, s) {
			return Transient
		}
	}
	return Final
}

// retryAfter returns the wait a Retry-After header of err's response asks for.
func (p *Policy) retryAfter(err error) (time.Duration, bool) {
	r, ok := p.response(err)
	if !ok || r.Header == nil {
		return 0, false
	}
	return ParseRetryAfter(r.Header.Get("Retry-After"), time.Now())
}

// ParseRetryAfter parses a Retry-After value: seconds ("120") or an HTTP date, relative to
// now. It reports false for an empty or malformed value.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 || n > int64(24*time.Hour/time.Second) {
			return 0, false
		}
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// Permanent marks err as Final whatever it wraps (a failure the driver knows another
// attempt cannot fix). Errors wrapping ufs.ErrChanged are Final too.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }
