package s3test

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Fault makes matching requests fail, slow down, lose their connection, receive a
// truncated body, or receive S3's "200 OK with an error document". Matching requests are
// counted from when the fault is injected.
//
// DeleteObjects applies faults whose Op is "DeleteObject" to each key of its list: a hit
// with a Status becomes that key's <Error> entry in the result, as a per-key permission
// failure does on S3.
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
	// Status, when not zero, answers each hit request with this HTTP status and an S3
	// error document whose code is Code (by default one matching the status, e.g.
	// InternalError for 500, SlowDown for 503).
	Status int
	Code   string
	// Header is added to the error answer of a Status fault (Retry-After, as S3 may send
	// with 503 SlowDown).
	Header http.Header
	// OKWithError answers a hit request 200 OK with an error document of Code
	// (InternalError by default), as S3 may for CopyObject, UploadPartCopy and
	// CompleteMultipartUpload.
	OKWithError bool
	// Drop closes the connection of each hit request without answering.
	Drop bool
	// TruncateBody lets a hit request succeed but closes the connection after half of the
	// response body (GetObject).
	TruncateBody bool
	// Before, when set, runs before a hit request is served (after Latency), so that a
	// test can change the store at that exact moment, e.g. replace an object between a
	// client's HeadObject and its CopyObject.
	Before func()

	seen int
}

// Inject adds a fault and returns a function that removes it.
func (s *Server) Inject(f Fault) (remove func()) {
	return s.faults.Inject(f)
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() { s.faults.Clear() }

// hits counts a request for op on key against the faults and returns those it hits.
func (s *Server) hits(op, key string) []*Fault {
	var out []*Fault
	s.faults.Each(func(f *Fault) {
		if f.Op != "" && f.Op != op || f.KeyPrefix != "" && !strings.HasPrefix(key, f.KeyPrefix) {
			return
		}
		f.seen++
		first := max(f.Nth, 1)
		if f.seen < first || f.Times > 0 && f.seen >= first+f.Times {
			return
		}
		out = append(out, f)
	})
	return out
}

// faultErr is the error a fault with a Status answers with.
func faultErr(f *Fault) *s3Error {
	code := f.Code
	if code == "" {
		code = defaultCode(f.Status)
	}
	e := newErr(f.Status, code, "s3test: injected fault")
	e.header = f.Header.Clone()
	return e
}

// applyFaults runs the faults that hit c. done reports that the request was answered or
// its connection dropped (nothing more to do); e is an injected error to answer with.
func (s *Server) applyFaults(c *call) (done bool, e *s3Error) {
	s.mu.Lock()
	hit := s.hits(c.op, c.key)
	s.mu.Unlock()
	var delay time.Duration
	var answer *Fault
	for _, f := range hit {
		delay += f.Latency
		if f.TruncateBody {
			c.w = &truncatingWriter{ResponseWriter: c.w, s: s}
		}
		if answer == nil && (f.Status != 0 || f.Drop || f.OKWithError) {
			answer = f
		}
	}
	if delay > 0 {
		t := time.NewTimer(delay) // the fault's deliberate delay
		select {
		case <-t.C:
		case <-c.r.Context().Done():
			t.Stop()
		}
	}
	for _, f := range hit {
		if f.Before != nil {
			f.Before()
		}
	}
	switch {
	case answer == nil:
		return false, nil
	case answer.Drop:
		s.drop(c.w)
		return true, nil
	case answer.OKWithError:
		code := answer.Code
		if code == "" {
			code = "InternalError"
		}
		body := errorDocument(newErr(200, code, "s3test: injected fault"), c.id, c.r.URL.Path)
		c.w.Header().Set("Content-Type", "application/xml")
		c.w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		c.w.WriteHeader(http.StatusOK)
		_, _ = c.w.Write(body)
		return true, nil
	}
	return false, faultErr(answer)
}

// drop closes the connection under w.
func (s *Server) drop(w http.ResponseWriter) {
	if tw, ok := w.(*truncatingWriter); ok {
		w = tw.ResponseWriter
	}
	// Counted before the close, so that a client seeing the connection die sees the count;
	// atomically, as a handler may drop while it holds s.mu (a truncated reply).
	s.dropped.Add(1)
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // closes the connection too
	}
	_ = conn.Close()
}

// truncatingWriter forwards the first half of a successful response body (by its
// Content-Length) and then closes the connection.
type truncatingWriter struct {
	http.ResponseWriter
	s       *Server
	limit   int64
	written int64
	cut     bool
}

func (t *truncatingWriter) WriteHeader(status int) {
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
