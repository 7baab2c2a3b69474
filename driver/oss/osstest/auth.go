package osstest

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

const (
	unsignedPayload = "UNSIGNED-PAYLOAD"
	v4Algorithm     = "OSS4-HMAC-SHA256"
	v4Terminator    = "aliyun_v4_request"
	maxClockSkew    = 15 * time.Minute
)

// v1SubResources are the query parameters the V1 signature covers (OSS API reference,
// "Include signatures in the Authorization header").
var v1SubResources = map[string]bool{
	"acl": true, "bucketInfo": true, "location": true, "stat": true, "delete": true, "append": true,
	"tagging": true, "objectMeta": true, "uploads": true, "uploadId": true, "partNumber": true,
	"security-token": true, "position": true, "response-content-type": true,
	"response-content-language": true, "response-expires": true, "response-cache-control": true,
	"response-content-disposition": true, "response-content-encoding": true, "restore": true,
	"callback": true, "callback-var": true, "versions": true, "versioning": true, "versionId": true,
	"sequential": true, "continuation-token": true, "regionList": true, "cloudboxes": true, "symlink": true,
}

// authenticate checks the request's signature and STS token.
func (s *Server) authenticate(c *call) *ossError {
	auth := c.r.Header.Get("Authorization")
	var e *ossError
	switch {
	case strings.HasPrefix(auth, v4Algorithm+" "):
		e = s.checkV4(c, strings.TrimPrefix(auth, v4Algorithm+" "))
	case strings.HasPrefix(auth, "OSS "):
		e = s.checkV1(c, strings.TrimPrefix(auth, "OSS "))
	case auth == "":
		return errAccessDenied("You have no right to access this object because of bucket acl.")
	default:
		return newErr(400, "InvalidArgument", "Authorization header is invalid.", "Authorization", auth)
	}
	if e != nil {
		return e
	}
	if tok := c.r.Header.Get("x-oss-security-token"); tok != s.SecurityToken {
		return newErr(403, "InvalidSecurityToken", "The security token you provided is invalid.")
	}
	return nil
}

func errBadKeyID(id string) *ossError {
	return newErr(403, "InvalidAccessKeyId", "The OSS Access Key Id you provided does not exist in our records.", "OSSAccessKeyId", id)
}

func (s *Server) checkSkew(t time.Time, raw string) *ossError {
	now := s.now()
	if d := now.Sub(t); d > maxClockSkew || d < -maxClockSkew {
		return newErr(403, "RequestTimeTooSkewed", "The difference between the request time and the current time is too large.",
			"RequestTime", raw, "ServerTime", now.UTC().Format("2006-01-02T15:04:05.000Z"))
	}
	return nil
}

// checkV4 verifies an "OSS4-HMAC-SHA256 Credential=...,AdditionalHeaders=...,Signature=..."
// header.
func (s *Server) checkV4(c *call, params string) *ossError {
	fields := map[string]string{}
	for _, p := range strings.Split(params, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		fields[k] = v
	}
	cred := strings.Split(fields["Credential"], "/")
	if len(cred) != 5 || fields["Signature"] == "" {
		return newErr(400, "InvalidArgument", "Authorization header is invalid.")
	}
	keyID, date, region, product, term := cred[0], cred[1], cred[2], cred[3], cred[4]
	if keyID != s.AccessKeyID {
		return errBadKeyID(keyID)
	}
	xdate := c.r.Header.Get("x-oss-date")
	t, err := time.Parse("20060102T150405Z", xdate)
	if err != nil {
		return errAccessDenied("x-oss-date header is missing or malformed.")
	}
	if e := s.checkSkew(t, xdate); e != nil {
		return e
	}
	sigErr := func(msg string) *ossError {
		return newErr(403, "SignatureDoesNotMatch", msg, "OSSAccessKeyId", keyID)
	}
	switch {
	case date != xdate[:8]:
		return sigErr("Invalid signing date in Authorization header.")
	case region != s.Region:
		return sigErr("Invalid signing region in Authorization header.")
	case product != "oss":
		return sigErr("Invalid signing product in Authorization header.")
	case term != v4Terminator:
		return sigErr("Invalid signing terminator in Authorization header.")
	}
	payload := c.r.Header.Get("x-oss-content-sha256")
	if payload == "" {
		return newErr(400, "InvalidArgument", "x-oss-content-sha256 header is required for V4 signatures.")
	}
	var additional []string
	if v := fields["AdditionalHeaders"]; v != "" {
		additional = strings.Split(strings.ToLower(v), ";")
	}
	canonical := s.canonicalRequestV4(c, additional, payload)
	sum := sha256.Sum256([]byte(canonical))
	scope := date + "/" + region + "/" + product + "/" + v4Terminator
	toSign := v4Algorithm + "\n" + xdate + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
	key := []byte("aliyun_v4" + s.AccessKeySecret)
	for _, part := range []string{date, region, product, v4Terminator} {
		key = hmacSum(sha256.New, key, part)
	}
	want := hex.EncodeToString(hmacSum(sha256.New, key, toSign))
	if !hmac.Equal([]byte(want), []byte(fields["Signature"])) {
		return newErr(403, "SignatureDoesNotMatch",
			"The request signature we calculated does not match the signature you provided. Check your key and signing method.",
			"OSSAccessKeyId", keyID, "SignatureProvided", fields["Signature"],
			"StringToSign", toSign, "CanonicalRequest", canonical)
	}
	return nil
}

func (s *Server) canonicalRequestV4(c *call, additional []string, payload string) string {
	r := c.r
	uri := "/"
	if c.bucket != "" {
		uri += c.bucket + "/" + c.key
	}
	// Query: decoded, re-encoded with RFC 3986 unreserved characters, sorted.
	type kv struct{ k, v string }
	var params []kv
	for _, p := range strings.Split(r.URL.RawQuery, "&") {
		if p == "" {
			continue
		}
		k, v, _ := strings.Cut(p, "=")
		dk, err1 := url.QueryUnescape(k)
		dv, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			dk, dv = k, v
		}
		params = append(params, kv{escape(dk, true), escape(dv, true)})
	}
	sort.Slice(params, func(i, j int) bool { return params[i].k < params[j].k })
	var q strings.Builder
	for i, p := range params {
		if i > 0 {
			q.WriteByte('&')
		}
		q.WriteString(p.k)
		if p.v != "" {
			q.WriteString("=" + p.v)
		}
	}
	// Headers: x-oss-*, content-type, content-md5 and the additional ones.
	extra := map[string]bool{}
	for _, h := range additional {
		extra[h] = true
	}
	var names []string
	for k := range r.Header {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "x-oss-") || lk == "content-type" || lk == "content-md5" || extra[lk] {
			names = append(names, lk)
		}
	}
	if extra["host"] {
		names = append(names, "host")
	}
	sort.Strings(names)
	var hb strings.Builder
	for _, k := range names {
		vals := r.Header.Values(k)
		if k == "host" {
			vals = []string{r.Host}
		}
		trimmed := make([]string, len(vals))
		for i, v := range vals {
			trimmed[i] = strings.TrimSpace(v)
		}
		hb.WriteString(k + ":" + strings.Join(trimmed, ",") + "\n")
	}
	return r.Method + "\n" + escape(uri, false) + "\n" + q.String() + "\n" + hb.String() + "\n" +
		strings.Join(additional, ";") + "\n" + payload
}

// checkV1 verifies an "OSS <AccessKeyId>:<Signature>" header.
func (s *Server) checkV1(c *call, cred string) *ossError {
	r := c.r
	keyID, sig, ok := strings.Cut(cred, ":")
	if !ok {
		return newErr(400, "InvalidArgument", "Authorization header is invalid.")
	}
	if keyID != s.AccessKeyID {
		return errBadKeyID(keyID)
	}
	date := r.Header.Get("Date")
	t, err := http.ParseTime(date)
	if err != nil {
		return errAccessDenied("Date header is missing or malformed.")
	}
	if e := s.checkSkew(t, date); e != nil {
		return e
	}
	var names []string
	for k := range r.Header {
		if lk := strings.ToLower(k); strings.HasPrefix(lk, "x-oss-") {
			names = append(names, lk)
		}
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString(r.Method + "\n" + r.Header.Get("Content-MD5") + "\n" + r.Header.Get("Content-Type") + "\n" + date + "\n")
	for _, k := range names {
		vals := r.Header.Values(k)
		for i := range vals {
			vals[i] = strings.TrimSpace(vals[i])
		}
		b.WriteString(k + ":" + strings.Join(vals, ",") + "\n")
	}
	b.WriteString("/")
	if c.bucket != "" {
		b.WriteString(c.bucket + "/" + c.key)
	}
	var subs []string
	for k := range c.query {
		if v1SubResources[k] || strings.HasPrefix(k, "x-oss-") {
			subs = append(subs, k)
		}
	}
	sort.Strings(subs)
	for i, k := range subs {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(k)
		if v := c.query.Get(k); v != "" {
			b.WriteString("=" + v)
		}
	}
	toSign := b.String()
	want := base64.StdEncoding.EncodeToString(hmacSum(sha1.New, []byte(s.AccessKeySecret), toSign))
	if !hmac.Equal([]byte(want), []byte(sig)) {
		return newErr(403, "SignatureDoesNotMatch",
			"The request signature we calculated does not match the signature you provided. Check your key and signing method.",
			"OSSAccessKeyId", keyID, "SignatureProvided", sig, "StringToSign", toSign)
	}
	return nil
}

func hmacSum(h func() hash.Hash, key []byte, msg string) []byte {
	m := hmac.New(h, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}
