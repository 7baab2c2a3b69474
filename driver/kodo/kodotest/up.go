package kodotest

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"hash/crc32"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Resumable upload v2 limits, as Kodo documents them.
const (
	MinPartSize = 1 << 20 // every part but the last
	MaxPartSize = 1 << 30
	MaxParts    = 10000
	maxFormSize = 1 << 30
	uploadTTL   = 7 * 24 * time.Hour
)

type part struct {
	data []byte
	etag string
}

// upload is a resumable upload v2 in progress.
type upload struct {
	id     string
	bucket string
	key    string
	hasKey bool
	parts  map[int64]*part
}

// serveUP answers form uploads (POST /) and resumable upload v2 calls (/buckets/...).
func (s *Server) serveUP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/" {
		var ok bool
		if w, ok = s.enter(w, r, APIFormUpload); !ok {
			return
		}
		if r.Method != http.MethodPost {
			replyError(w, 405, "method not allowed")
			return
		}
		s.formUpload(w, r)
		return
	}
	// /buckets/<bucket>/objects/<key|~>/uploads[/<id>[/<n>]]
	segs := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if len(segs) < 5 || len(segs) > 7 || segs[0] != "buckets" || segs[2] != "objects" || segs[4] != "uploads" {
		replyError(w, 404, "not found")
		return
	}
	var api API
	switch {
	case len(segs) == 5 && r.Method == http.MethodPost:
		api = APIInitParts
	case len(segs) == 7 && r.Method == http.MethodPut:
		api = APIUploadPart
	case len(segs) == 6 && r.Method == http.MethodPost:
		api = APICompleteParts
	case len(segs) == 6 && r.Method == http.MethodDelete:
		api = APIAbortParts
	default:
		replyError(w, 405, "method not allowed")
		return
	}
	var ok bool
	if w, ok = s.enter(w, r, api); !ok {
		return
	}
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "UpToken ")
	if !ok {
		replyError(w, 401, "token not specified")
		return
	}
	policy, e := s.checkUploadToken(token)
	if e != nil {
		e.reply(w)
		return
	}
	bucketName := segs[1]
	if policy.bucket() != bucketName {
		errScopeMismatch.reply(w)
		return
	}
	key, hasKey := "", segs[3] != "~"
	if hasKey {
		raw, err := base64.URLEncoding.DecodeString(segs[3])
		if err != nil || !utf8.Valid(raw) {
			badRequest("invalid key").reply(w)
			return
		}
		key = string(raw)
	}
	switch api {
	case APIInitParts:
		s.initParts(w, policy, bucketName, key, hasKey)
	case APIUploadPart:
		s.uploadPart(w, r, segs[5], segs[6], bucketName, key)
	case APICompleteParts:
		s.completeParts(w, r, policy, segs[5], bucketName, key)
	case APIAbortParts:
		s.mu.Lock()
		u := s.uploads[segs[5]]
		if u == nil || u.bucket != bucketName || u.key != key {
			s.mu.Unlock()
			errNoSuchUpload.reply(w)
			return
		}
		delete(s.uploads, u.id)
		delete(s.partLog, u.id)
		s.mu.Unlock()
		replyJSON(w, 200, map[string]any{})
	}
}

func (s *Server) formUpload(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormSize+1<<20)
	if err := r.ParseMultipartForm(8 << 20); err != nil {
		badRequest("invalid multipart form").reply(w)
		return
	}
	defer r.MultipartForm.RemoveAll()
	policy, e := s.checkUploadToken(r.FormValue("token"))
	if e != nil {
		e.reply(w)
		return
	}
	f, _, err := r.FormFile("file")
	if err != nil {
		badRequest("file is not specified in multipart").reply(w)
		return
	}
	data, err := io.ReadAll(f)
	f.Close()
	if err != nil {
		badRequest("read file: " + err.Error()).reply(w)
		return
	}
	if v := r.FormValue("crc32"); v != "" {
		want, err := strconv.ParseUint(v, 10, 32)
		if err != nil || uint32(want) != crc32.ChecksumIEEE(data) {
			replyError(w, 406, "crc32 not match")
			return
		}
	}
	key, hasKey := r.MultipartForm.Value["key"]
	var k string
	if hasKey && len(key) > 0 {
		k = key[0]
	} else if _, sk, ok := strings.Cut(policy.Scope, ":"); ok {
		k = sk
	} else {
		k = Etag(data)
	}
	if !utf8.ValidString(k) {
		badRequest("key must be utf8 encoding").reply(w)
		return
	}
	s.mu.Lock()
	b := s.buckets[policy.bucket()]
	o := s.newObject(data, "")
	if e := s.checkScope(policy, b, k, o.hash); e != nil {
		s.mu.Unlock()
		e.reply(w)
		return
	}
	b.objects[k] = o
	s.mu.Unlock()
	replyJSON(w, 200, map[string]string{"hash": o.hash, "key": k})
}

func (s *Server) initParts(w http.ResponseWriter, policy *putPolicy, bucketName, key string, hasKey bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buckets[bucketName]
	if e := s.checkScope(policy, b, key, ""); e != nil {
		e.reply(w)
		return
	}
	u := &upload{id: newID(), bucket: bucketName, key: key, hasKey: hasKey, parts: map[int64]*part{}}
	s.uploads[u.id] = u
	replyJSON(w, 200, map[string]any{"uploadId": u.id, "expireAt": s.clock().Add(uploadTTL).Unix()})
}

func (s *Server) uploadPart(w http.ResponseWriter, r *http.Request, id, num, bucketName, key string) {
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 1 || n > MaxParts {
		badRequest("invalid partNumber").reply(w)
		return
	}
	s.mu.Lock()
	u := s.uploads[id]
	s.mu.Unlock()
	if u == nil || u.bucket != bucketName || u.key != key {
		errNoSuchUpload.reply(w)
		return
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, MaxPartSize+1))
	if err != nil {
		badRequest("read body: " + err.Error()).reply(w)
		return
	}
	if len(data) > MaxPartSize {
		replyError(w, 413, "part too large")
		return
	}
	if r.ContentLength >= 0 && int64(len(data)) != r.ContentLength {
		badRequest("incomplete body").reply(w)
		return
	}
	sum := md5.Sum(data)
	if want := r.Header.Get("Content-MD5"); want != "" && !strings.EqualFold(want, hex.EncodeToString(sum[:])) {
		badRequest("md5 not match").reply(w)
		return
	}
	p := &part{data: data, etag: Etag(data)}
	s.mu.Lock()
	if s.uploads[id] == nil { // aborted meanwhile
		s.mu.Unlock()
		errNoSuchUpload.reply(w)
		return
	}
	u.parts[n] = p
	s.partLog[id] = append(s.partLog[id], n)
	s.mu.Unlock()
	replyJSON(w, 200, map[string]string{"etag": p.etag, "md5": hex.EncodeToString(sum[:])})
}

func (s *Server) completeParts(w http.ResponseWriter, r *http.Request, policy *putPolicy, id, bucketName, key string) {
	var req struct {
		Parts []struct {
			PartNumber int64  `json:"partNumber"`
			Etag       string `json:"etag"`
		} `json:"parts"`
		MimeType string `json:"mimeType"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		badRequest("invalid json").reply(w)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.uploads[id]
	if u == nil || u.bucket != bucketName || u.key != key {
		errNoSuchUpload.reply(w)
		return
	}
	if len(req.Parts) == 0 {
		badRequest("empty parts").reply(w)
		return
	}
	var data []byte
	prev := int64(0)
	for i, p := range req.Parts {
		if p.PartNumber <= prev {
			badRequest("parts must be sorted by partNumber").reply(w)
			return
		}
		prev = p.PartNumber
		got := u.parts[p.PartNumber]
		if got == nil || got.etag != p.Etag {
			badRequest("invalid part " + strconv.FormatInt(p.PartNumber, 10)).reply(w)
			return
		}
		if i < len(req.Parts)-1 && len(got.data) < MinPartSize {
			badRequest("part " + strconv.FormatInt(p.PartNumber, 10) + " is smaller than 1 MiB").reply(w)
			return
		}
		data = append(data, got.data...)
	}
	k := key
	if !u.hasKey {
		if _, sk, ok := strings.Cut(policy.Scope, ":"); ok {
			k = sk
		} else {
			k = Etag(data)
		}
	}
	b := s.buckets[bucketName]
	o := s.newObject(data, req.MimeType)
	if e := s.checkScope(policy, b, k, o.hash); e != nil {
		e.reply(w)
		return
	}
	b.objects[k] = o
	s.lastDone = s.partLog[id]
	delete(s.partLog, id)
	delete(s.uploads, id)
	replyJSON(w, 200, map[string]string{"hash": o.hash, "key": k})
}
