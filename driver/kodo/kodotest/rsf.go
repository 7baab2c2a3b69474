package kodotest

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// listMarker is the position a /list marker encodes: the last key or common prefix
// returned. Kodo's markers are opaque base64 JSON of this shape.
type listMarker struct {
	C int    `json:"c"`
	K string `json:"k"`
}

// serveRSF answers /list?bucket=&prefix=&delimiter=&marker=&limit=.
func (s *Server) serveRSF(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/list" {
		replyError(w, 404, "not found")
		return
	}
	var ok bool
	if w, ok = s.enter(w, r, APIList); !ok {
		return
	}
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		replyError(w, 405, "method not allowed")
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
	q := r.URL.Query()
	limit := 1000
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			badRequest("invalid limit").reply(w)
			return
		}
		limit = min(n, 1000)
	}
	after, hasMarker := "", false
	if m := q.Get("marker"); m != "" {
		raw, err := base64.URLEncoding.DecodeString(m)
		var lm listMarker
		if err != nil || json.Unmarshal(raw, &lm) != nil || lm.K == "" {
			replyError(w, 640, "invalid marker")
			return
		}
		after, hasMarker = lm.K, true
	}
	prefix, delim := q.Get("prefix"), q.Get("delimiter")

	s.mu.Lock()
	b := s.buckets[q.Get("bucket")]
	if b == nil {
		s.mu.Unlock()
		errNoSuchBucket.reply(w)
		return
	}
	keys := b.sortedKeys()
	type item struct {
		Key      string `json:"key"`
		Hash     string `json:"hash"`
		Fsize    int    `json:"fsize"`
		MimeType string `json:"mimeType"`
		PutTime  int64  `json:"putTime"`
		Type     int    `json:"type"`
		Status   int    `json:"status"`
		Md5      string `json:"md5"`
	}
	items := []item{}
	var prefixes []string
	last, more := "", false
	i := sort.SearchStrings(keys, prefix)
	if hasMarker && after >= prefix {
		i = sort.Search(len(keys), func(j int) bool { return keys[j] > after })
	}
	for ; i < len(keys) && strings.HasPrefix(keys[i], prefix); i++ {
		key := keys[i]
		if hasMarker && delim != "" && strings.HasSuffix(after, delim) && strings.HasPrefix(key, after) {
			continue // inside the common prefix the marker names
		}
		if len(items)+len(prefixes) == limit {
			more = true
			break
		}
		if delim != "" {
			if j := strings.Index(key[len(prefix):], delim); j >= 0 {
				cp := key[:len(prefix)+j+len(delim)]
				prefixes = append(prefixes, cp)
				last = cp
				for i+1 < len(keys) && strings.HasPrefix(keys[i+1], cp) {
					i++
				}
				continue
			}
		}
		o := b.objects[key]
		items = append(items, item{Key: key, Hash: o.hash, Fsize: len(o.data), MimeType: o.mime, PutTime: o.putTime, Md5: o.md5})
		last = key
	}
	s.mu.Unlock()

	ret := map[string]any{"items": items}
	if len(prefixes) > 0 {
		ret["commonPrefixes"] = prefixes
	}
	if more {
		m, _ := json.Marshal(listMarker{K: last})
		ret["marker"] = base64.URLEncoding.EncodeToString(m)
	}
	replyJSON(w, 200, ret)
}
