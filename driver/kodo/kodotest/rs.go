package kodotest

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// maxBatch is the most operations one /batch request may hold.
const maxBatch = 1000

// serveUC answers GET /v4/query?ak=&bucket=, the bucket region query. The hosts it reports
// are this server's own listeners.
func (s *Server) serveUC(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v4/query" {
		replyError(w, 404, "not found")
		return
	}
	var ok bool
	if w, ok = s.enter(w, r, APIQuery); !ok {
		return
	}
	q := r.URL.Query()
	if q.Get("ak") != s.accessKey {
		errBadToken.reply(w)
		return
	}
	s.mu.Lock()
	_, ok = s.buckets[q.Get("bucket")]
	s.mu.Unlock()
	if !ok {
		errNoSuchBucket.reply(w)
		return
	}
	hosts := func(h string) map[string][]string { return map[string][]string{"domains": {h}} }
	replyJSON(w, 200, map[string]any{"hosts": []map[string]any{{
		"region": "z0",
		"ttl":    86400,
		"io":     hosts(s.IOHost()),
		"up":     hosts(s.UPHost()),
		"rs":     hosts(s.RSHost()),
		"rsf":    hosts(s.RSFHost()),
		"api":    hosts(s.RSHost()),
		"uc":     hosts(s.UCHost()),
	}}})
}

// serveRS answers the object management calls.
func (s *Server) serveRS(w http.ResponseWriter, r *http.Request) {
	segs := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	api := map[string]API{"stat": APIStat, "delete": APIDelete, "move": APIMove, "copy": APICopy, "batch": APIBatch}[segs[0]]
	if api == "" {
		replyError(w, 404, "not found")
		return
	}
	var ok bool
	if w, ok = s.enter(w, r, api); !ok {
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		badRequest("read body: " + err.Error()).reply(w)
		return
	}
	if e := s.checkManagement(r, body); e != nil {
		e.reply(w)
		return
	}
	if api == APIBatch {
		s.batch(w, r, body)
		return
	}
	if r.Method != http.MethodPost && !(api == APIStat && r.Method == http.MethodGet) {
		replyError(w, 405, "method not allowed")
		return
	}
	status, ret := s.op(segs)
	if status != 200 {
		replyJSON(w, status, ret)
		return
	}
	if ret == nil {
		ret = map[string]any{}
	}
	replyJSON(w, 200, ret)
}

// batch runs each "op" form value; the reply is 200 when every operation succeeded and
// 298 otherwise, with one {"code", "data"} per operation.
func (s *Server) batch(w http.ResponseWriter, r *http.Request, body []byte) {
	if r.Method != http.MethodPost {
		replyError(w, 405, "method not allowed")
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		badRequest("invalid form").reply(w)
		return
	}
	ops := form["op"]
	if len(ops) == 0 {
		badRequest("empty op").reply(w)
		return
	}
	if len(ops) > maxBatch {
		badRequest("too many ops").reply(w)
		return
	}
	status := 200
	rets := make([]map[string]any, 0, len(ops))
	for _, op := range ops {
		code, data := s.op(strings.Split(strings.TrimPrefix(op, "/"), "/"))
		ret := map[string]any{"code": code}
		if data != nil {
			ret["data"] = data
		}
		if code != 200 {
			status = 298
		}
		rets = append(rets, ret)
	}
	replyJSON(w, status, rets)
}

// op runs one management operation given its path segments and returns the status and
// the reply body (nil for an empty success).
func (s *Server) op(segs []string) (int, map[string]any) {
	fail := func(e *apiError) (int, map[string]any) { return e.status, map[string]any{"error": e.msg} }
	switch segs[0] {
	case "stat", "delete":
		if len(segs) != 2 {
			return fail(badRequest("invalid argument"))
		}
		b, key, e := decodeEntry(segs[1])
		if e != nil {
			return fail(e)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		bk := s.buckets[b]
		if bk == nil {
			return fail(errNoSuchBucket)
		}
		o, ok := bk.objects[key]
		if !ok {
			return fail(errNoSuchFile)
		}
		if segs[0] == "delete" {
			delete(bk.objects, key)
			return 200, nil
		}
		return 200, map[string]any{"fsize": len(o.data), "hash": o.hash, "md5": o.md5, "mimeType": o.mime, "putTime": o.putTime, "type": 0}
	case "move", "copy":
		force := false
		switch {
		case len(segs) == 3:
		case len(segs) == 5 && segs[3] == "force" && (segs[4] == "true" || segs[4] == "false"):
			force = segs[4] == "true"
		default:
			return fail(badRequest("invalid argument"))
		}
		sb, sk, e := decodeEntry(segs[1])
		if e != nil {
			return fail(e)
		}
		db, dk, e := decodeEntry(segs[2])
		if e != nil {
			return fail(e)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		src, dst := s.buckets[sb], s.buckets[db]
		if src == nil || dst == nil {
			return fail(errNoSuchBucket)
		}
		o, ok := src.objects[sk]
		if !ok {
			return fail(errNoSuchFile)
		}
		if _, exists := dst.objects[dk]; exists && !force {
			return fail(errFileExists)
		}
		if segs[0] == "move" {
			if sb == db && sk == dk {
				return 200, nil
			}
			delete(src.objects, sk)
			dst.objects[dk] = o
			return 200, nil
		}
		cp := s.newObject(o.data, o.mime) // data is never mutated in place
		dst.objects[dk] = cp
		return 200, nil
	}
	return fail(badRequest("unknown op"))
}

// decodeEntry decodes a URL-safe base64 "bucket:key" entry.
func decodeEntry(enc string) (bucketName, key string, e *apiError) {
	raw, err := base64.URLEncoding.DecodeString(enc)
	if err != nil {
		if raw, err = base64.RawURLEncoding.DecodeString(enc); err != nil {
			return "", "", badRequest("invalid argument")
		}
	}
	if !utf8.Valid(raw) {
		return "", "", badRequest("key must be utf8 encoding")
	}
	b, k, ok := strings.Cut(string(raw), ":")
	if !ok || b == "" {
		return "", "", badRequest("invalid argument")
	}
	return b, k, nil
}
