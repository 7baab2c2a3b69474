package osstest

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Fault makes matching requests fail, slow down, lose their connection or receive a
// truncated body. Matching requests are counted from when the fault is injected.
type Fault struct {
	// Op is the operation to match ("PutObject", "UploadPart", "GetObject", ...); empty
	// matches every operation.
	Op string
	// KeyPrefix restricts the fault to object keys with this prefix.
	KeyPrefix string
	// Nth is the first matching request (1-based) the fault hits; 0 means the first.
	Nth int
	// Times is how many consecutive matching requests from the Nth are hit; 0 means all.
	Times int
	// Latency delays each hit request (before anything else); the wait ends early when
	// the client goes away.
	Latency time.Duration
	// Status, when not zero, answers each hit request with this HTTP status and an OSS
	// error document whose code is Code (by default one matching the status, e.g.
	// InternalError for 500).
	Status int
	Code   string
	// Header is added to each injected error response, e.g. a Retry-After with a 503
	// SlowDown as OSS's QPS limit answers.
	Header http.Header
	// Drop closes the connection of each hit request without answering.
	Drop bool
	// TruncateBody lets a hit request succeed but closes the connection after half of the
	// response body (GetObject).
	TruncateBody bool

	seen int
}

// Inject adds a fault and returns a function that removes it.
func (s *Server) Inject(f Fault) (remove func()) {
	return s.faults.Inject(f)
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() { s.faults.Clear() }

// applyFaults runs the faults that hit c. done reports that the connection was dropped
// (nothing more to do); e is an injected error to answer with.
func (s *Server) applyFaults(c *call) (done bool, e *ossError) {
	var delay time.Duration
	var hit *Fault
	truncate := false
	s.faults.Each(func(f *Fault) {
		if f.Op != "" && f.Op != c.op || f.KeyPrefix != "" && !strings.HasPrefix(c.key, f.KeyPrefix) {
			return
		}
		f.seen++
		first := max(f.Nth, 1)
		if f.seen < first || f.Times > 0 && f.seen >= first+f.Times {
			return
		}
		delay += f.Latency
		if f.TruncateBody {
			truncate = true
		}
		if hit == nil && (f.Status != 0 || f.Drop) {
			hit = f
		}
	})
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-c.r.Context().Done():
			t.Stop()
		}
	}
	if truncate {
		c.w = &truncatingWriter{ResponseWriter: c.w, s: s}
	}
	if hit == nil {
		return false, nil
	}
	if hit.Drop {
		s.drop(c.w)
		return true, nil
	}
	code := hit.Code
	if code == "" {
		code = defaultCode(hit.Status)
	}
	e = newErr(hit.Status, code, "osstest: injected fault")
	e.header = hit.Header.Clone()
	return false, e
}

// DenyDelete makes the keys of bucket that start with prefix undeletable, as a RAM policy
// denying oss:DeleteObject on them would: DeleteObject answers 403 AccessDenied, and
// DeleteMultipleObjects leaves them in place and out of its list of deleted keys (in
// quiet mode nothing tells). It returns a function that lifts the denial.
func (s *Server) DenyDelete(bucket, prefix string) (remove func()) {
	d := &denial{bucket: bucket, prefix: prefix}
	s.mu.Lock()
	s.denied = append(s.denied, d)
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for i, g := range s.denied {
			if g == d {
				s.denied = append(s.denied[:i], s.denied[i+1:]...)
				return
			}
		}
	}
}

type denial struct{ bucket, prefix string }

// deleteDenied reports whether a denial covers the key; s.mu must be held.
func (s *Server) deleteDenied(bucket, key string) bool {
	for _, d := range s.denied {
		if d.bucket == bucket && strings.HasPrefix(key, d.prefix) {
			return true
		}
	}
	return false
}

// drop closes the connection under w.
func (s *Server) drop(w http.ResponseWriter) {
	if tw, ok := w.(*truncatingWriter); ok {
		w = tw.ResponseWriter
	}
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // closes the connection too
	}
	_ = conn.Close()
	s.dropped.Add(1) // not under s.mu: handlers may answer while holding it
}

// truncatingWriter forwards the first half of a successful response body (by its
// Content-Length) and then closes the connection.
type truncatingWriter struct {
	http.ResponseWriter
	s       *Server
	limit   int64
	status  int
	written int64
	cut     bool
}

func (t *truncatingWriter) WriteHeader(status int) {
	t.status = status
	t.limit = -1
	if status/100 == 2 {
		if n, err := strconv.ParseInt(t.Header().Get("Content-Length"), 10, 64); err == nil && n > 1 {
			t.limit = n / 2
		}
	}
	t.ResponseWriter.WriteHeader(status)
}

func (t *truncatingWriter) Write(p []byte) (int, error) {
	if t.cut {
		return 0, io.ErrClosedPipe
	}
	if t.limit < 0 {
		return t.ResponseWriter.Write(p)
	}
	room := t.limit - t.written
	if int64(len(p)) < room {
		n, err := t.ResponseWriter.Write(p)
		t.written += int64(n)
		return n, err
	}
	n, _ := t.ResponseWriter.Write(p[:room])
	t.written += int64(n)
	_ = http.NewResponseController(t.ResponseWriter).Flush()
	t.cut = true
	t.s.drop(t.ResponseWriter)
	return n, io.ErrClosedPipe
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (t *truncatingWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }
