package kodotest

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
)

const (
	ctForm = "application/x-www-form-urlencoded"
	ctJSON = "application/json"
)

// sign returns base64url(HMAC-SHA1(secret, data)), Qiniu's signature.
func (s *Server) sign(data []byte) string {
	h := hmac.New(sha1.New, []byte(s.secretKey))
	h.Write(data)
	return base64.URLEncoding.EncodeToString(h.Sum(nil))
}

// checkSigned checks an "AK:signature" pair against data.
func (s *Server) checkSigned(token string, data []byte) *apiError {
	ak, sig, ok := strings.Cut(token, ":")
	if !ok || ak != s.accessKey {
		return errBadToken
	}
	if !hmac.Equal([]byte(sig), []byte(s.sign(data))) {
		return errBadToken
	}
	return nil
}

// checkManagement verifies the access token of a management request (RS, RSF): "Qiniu
// AK:sign" over method, path, query, Host, Content-Type, X-Qiniu-* headers and (for form and
// JSON bodies) the body; or the older "QBox AK:sign" over path, query and a form body.
func (s *Server) checkManagement(r *http.Request, body []byte) *apiError {
	auth := r.Header.Get("Authorization")
	ct := r.Header.Get("Content-Type")
	pathQuery := r.URL.Path
	if r.URL.RawQuery != "" {
		pathQuery += "?" + r.URL.RawQuery
	}
	switch {
	case strings.HasPrefix(auth, "Qiniu "):
		var b strings.Builder
		b.WriteString(r.Method + " " + pathQuery + "\nHost: " + r.Host + "\n")
		if ct == "" {
			ct = ctForm
		}
		b.WriteString("Content-Type: " + ct + "\n")
		var names []string
		for name := range r.Header {
			if len(name) > len("X-Qiniu-") && strings.HasPrefix(name, "X-Qiniu-") {
				names = append(names, name)
			}
		}
		sort.Strings(names)
		for _, name := range names {
			b.WriteString(name + ": " + r.Header.Get(name) + "\n")
		}
		b.WriteString("\n")
		data := []byte(b.String())
		if len(body) > 0 && (ct == ctForm || ct == ctJSON) {
			data = append(data, body...)
		}
		return s.checkSigned(strings.TrimPrefix(auth, "Qiniu "), data)
	case strings.HasPrefix(auth, "QBox "):
		data := []byte(pathQuery + "\n")
		if len(body) > 0 && ct == ctForm {
			data = append(data, body...)
		}
		return s.checkSigned(strings.TrimPrefix(auth, "QBox "), data)
	}
	return &apiError{401, "bad token"}
}

// putPolicy is the part of an upload token's policy the server enforces.
type putPolicy struct {
	Scope           string `json:"scope"`
	Deadline        int64  `json:"deadline"`
	IsPrefixalScope int    `json:"isPrefixalScope"`
	InsertOnly      int    `json:"insertOnly"`
}

// bucket returns the bucket of the policy's scope.
func (p *putPolicy) bucket() string {
	b, _, _ := strings.Cut(p.Scope, ":")
	return b
}

// checkUploadToken verifies "AK:sign:encodedPolicy" and the policy's deadline.
func (s *Server) checkUploadToken(token string) (*putPolicy, *apiError) {
	parts := strings.Split(token, ":")
	if len(parts) != 3 || parts[0] != s.accessKey {
		return nil, errBadToken
	}
	if !hmac.Equal([]byte(parts[1]), []byte(s.sign([]byte(parts[2])))) {
		return nil, errBadToken
	}
	raw, err := base64.URLEncoding.DecodeString(parts[2])
	if err != nil {
		if raw, err = base64.RawURLEncoding.DecodeString(parts[2]); err != nil {
			return nil, errBadToken
		}
	}
	var p putPolicy
	if err := json.Unmarshal(raw, &p); err != nil || p.Scope == "" {
		return nil, errBadToken
	}
	if p.Deadline < s.clock().Unix() {
		return nil, errExpiredToken
	}
	return &p, nil
}

// checkScope checks that the policy allows writing key into b, which currently holds old
// (nil when absent) and would receive content hashed newHash ("" when not known yet);
// s.mu must be held.
func (s *Server) checkScope(p *putPolicy, b *bucket, key, newHash string) *apiError {
	if b == nil {
		return errNoSuchBucket
	}
	bucketName, scopeKey, hasKey := strings.Cut(p.Scope, ":")
	if bucketName != b.name {
		return errScopeMismatch
	}
	old := b.objects[key]
	switch {
	case !hasKey:
		// Scope "bucket" only inserts: an existing key with other content is refused.
		if old != nil && newHash != "" && old.hash != newHash {
			return errFileExists
		}
	case p.IsPrefixalScope == 1:
		if !strings.HasPrefix(key, scopeKey) {
			return errScopeMismatch
		}
	default:
		if key != scopeKey {
			return errScopeMismatch
		}
	}
	if hasKey && p.InsertOnly == 1 && old != nil {
		return errFileExists
	}
	return nil
}

// checkDownload verifies a private download URL: the request's Host must be a bucket's
// download domain and its query must end with "e=<deadline>&token=AK:sign", the signature
// covering "http://<host><path>?...e=<deadline>". It returns the bucket.
func (s *Server) checkDownload(r *http.Request) (string, *apiError) {
	s.mu.Lock()
	bucketName, ok := s.domains[r.Host]
	s.mu.Unlock()
	if !ok {
		return "", &apiError{404, "no such domain"}
	}
	uri := r.RequestURI
	i := strings.LastIndex(uri, "&token=")
	if i < 0 {
		return "", &apiError{401, "download token not specified"}
	}
	token := uri[i+len("&token="):]
	signed := "http://" + r.Host + uri[:i]
	if err := s.checkSigned(token, []byte(signed)); err != nil {
		return "", err
	}
	e := r.URL.Query().Get("e")
	var deadline int64
	for _, c := range e {
		if c < '0' || c > '9' {
			return "", errBadToken
		}
		deadline = deadline*10 + int64(c-'0')
	}
	if e == "" {
		return "", errBadToken
	}
	if deadline < s.clock().Unix() {
		return "", &apiError{401, "token out of date"}
	}
	return bucketName, nil
}
