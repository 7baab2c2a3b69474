package kodotest

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// serveIO answers downloads: GET /<key>?e=<deadline>&token=<token> with Host set to a
// bucket's download domain, honouring a single "Range: bytes=a-b" (206 with Content-Range,
// 416 when unsatisfiable).
func (s *Server) serveIO(w http.ResponseWriter, r *http.Request) {
	var ok bool
	if w, ok = s.enter(w, r, APIGet); !ok {
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		replyError(w, 405, "method not allowed")
		return
	}
	bucketName, e := s.checkDownload(r)
	if e != nil {
		e.reply(w)
		return
	}
	key := strings.TrimPrefix(r.URL.Path, "/")
	s.mu.Lock()
	var o *object
	if b := s.buckets[bucketName]; b != nil {
		o = b.objects[key]
	}
	s.mu.Unlock()
	if o == nil {
		replyError(w, 404, "Document not found")
		return
	}
	size := int64(len(o.data))
	h := w.Header()
	setReqID(w)
	h.Set("Accept-Ranges", "bytes")
	h.Set("Content-Type", o.mime)
	h.Set("ETag", `"`+o.hash+`"`)
	h.Set("Last-Modified", time.Unix(0, o.putTime*100).UTC().Format(http.TimeFormat))
	start, end, status := int64(0), size, http.StatusOK
	if rg := r.Header.Get("Range"); rg != "" {
		a, b, ok := parseRange(rg, size)
		if !ok {
			h.Set("Content-Range", "bytes */"+strconv.FormatInt(size, 10))
			replyError(w, http.StatusRequestedRangeNotSatisfiable, "invalid range")
			return
		}
		start, end, status = a, b, http.StatusPartialContent
		h.Set("Content-Range", "bytes "+strconv.FormatInt(a, 10)+"-"+strconv.FormatInt(b-1, 10)+"/"+strconv.FormatInt(size, 10))
	}
	h.Set("Content-Length", strconv.FormatInt(end-start, 10))
	w.WriteHeader(status)
	if r.Method == http.MethodGet {
		_, _ = w.Write(o.data[start:end])
	}
}

// parseRange parses one "bytes=a-b", "bytes=a-" or "bytes=-n" range over size bytes and
// returns [start, end). ok is false when it is malformed or unsatisfiable.
func parseRange(h string, size int64) (start, end int64, ok bool) {
	spec, found := strings.CutPrefix(h, "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false
	}
	a, b, found := strings.Cut(spec, "-")
	if !found {
		return 0, 0, false
	}
	if a == "" { // suffix range
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 || size == 0 {
			return 0, 0, false
		}
		return max(size-n, 0), size, true
	}
	first, err := strconv.ParseInt(a, 10, 64)
	if err != nil || first < 0 || first >= size {
		return 0, 0, false
	}
	last := size - 1
	if b != "" {
		if last, err = strconv.ParseInt(b, 10, 64); err != nil || last < first {
			return 0, 0, false
		}
		last = min(last, size-1)
	}
	return first, last + 1, true
}
