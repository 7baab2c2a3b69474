package kodotest

import (
	"net/http"
	"time"
)

// API names one Kodo API for counters and fault injection.
type API string

// The APIs the server implements.
const (
	APIQuery         API = "uc.query"         // GET /v4/query
	APIStat          API = "rs.stat"          // /stat/<entry>
	APIDelete        API = "rs.delete"        // /delete/<entry>
	APIMove          API = "rs.move"          // /move/<src>/<dst>[/force/true]
	APICopy          API = "rs.copy"          // /copy/<src>/<dst>[/force/true]
	APIBatch         API = "rs.batch"         // /batch
	APIList          API = "rsf.list"         // /list
	APIFormUpload    API = "up.form"          // POST / (multipart form)
	APIInitParts     API = "up.initparts"     // POST /buckets/<b>/objects/<k>/uploads
	APIUploadPart    API = "up.uploadpart"    // PUT  /buckets/<b>/objects/<k>/uploads/<id>/<n>
	APICompleteParts API = "up.completeparts" // POST /buckets/<b>/objects/<k>/uploads/<id>
	APIAbortParts    API = "up.abortparts"    // DELETE /buckets/<b>/objects/<k>/uploads/<id>
	APIGet           API = "io.get"           // GET <download domain>/<key>
)

// Fault makes requests of one API fail or slow down. Faults apply before authentication, as
// a failing front end would.
type Fault struct {
	API API
	// Nth is the first matching request (1-based, counted from when the fault was added)
	// the fault hits; 0 hits every matching request.
	Nth int
	// Times is how many consecutive matching requests from Nth are hit; 0 means 1 when Nth
	// is set and unlimited otherwise.
	Times int
	// Status is the HTTP status returned (e.g. 503, 599); 0 only delays (Latency).
	Status int
	// Error is the {"error": ...} message; empty gives a generic one.
	Error string
	// Header is added to each injected error reply, e.g. a Retry-After with a 573 (too
	// many requests) or 503.
	Header http.Header
	// Latency delays each hit request before it is answered or failed; a client that gives
	// up earlier sees its own context error.
	Latency time.Duration
	// LoseReply lets the request be handled (its effect stays) but closes the connection
	// instead of answering, as when a reply is lost on the way back.
	LoseReply bool
	// Match, when set, restricts the fault to requests it returns true for.
	Match func(*http.Request) bool

	seen int
}

// Inject adds a fault and returns a function removing it.
func (s *Server) Inject(f Fault) (remove func()) {
	return s.faults.Inject(f)
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() { s.faults.Clear() }

// Calls returns how many requests of api the server received (faulted ones included).
func (s *Server) Calls(api API) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[api]
}

// ResetCalls zeroes the counters.
func (s *Server) ResetCalls() { s.mu.Lock(); s.calls = map[API]int{}; s.mu.Unlock() }

// enter counts a request of api and applies faults. It reports false when it has already
// answered the request; else it returns the writer the handler must answer through.
func (s *Server) enter(w http.ResponseWriter, r *http.Request, api API) (http.ResponseWriter, bool) {
	s.mu.Lock()
	s.calls[api]++
	var delay time.Duration
	status, msg := 0, ""
	var header http.Header
	lose := false
	s.faults.Each(func(f *Fault) {
		if f.API != api || f.Match != nil && !f.Match(r) {
			return
		}
		f.seen++
		hit := true
		if f.Nth > 0 {
			times := f.Times
			if times <= 0 {
				times = 1
			}
			hit = f.seen >= f.Nth && f.seen < f.Nth+times
		} else if f.Times > 0 {
			hit = f.seen <= f.Times
		}
		if !hit {
			return
		}
		delay += f.Latency
		lose = lose || f.LoseReply
		if status == 0 && f.Status != 0 {
			status, msg, header = f.Status, f.Error, f.Header
		}
	})
	s.mu.Unlock()
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
	}
	if status != 0 {
		if msg == "" {
			msg = "kodotest: injected fault"
		}
		for k, vs := range header {
			w.Header()[k] = vs
		}
		replyError(w, status, msg)
		return w, false
	}
	if lose {
		return &lostReply{ResponseWriter: w}, true
	}
	return w, true
}

// lostReply closes the connection when the handler starts its answer.
type lostReply struct {
	http.ResponseWriter
	lost bool
}

func (l *lostReply) WriteHeader(int) { l.lose() }

func (l *lostReply) Write(p []byte) (int, error) {
	l.lose()
	return len(p), nil
}

func (l *lostReply) lose() {
	if l.lost {
		return
	}
	l.lost = true
	if c, _, err := http.NewResponseController(l.ResponseWriter).Hijack(); err == nil {
		_ = c.Close()
	}
}
