package s3test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Payload hashes SigV4 allows besides a hex digest.
const (
	unsignedPayload        = "UNSIGNED-PAYLOAD"
	streamingUnsignedTrail = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
	sigV4Algorithm         = "AWS4-HMAC-SHA256"
	sigV4Terminator        = "aws4_request"
	amzDateFormat          = "20060102T150405Z"
)

var emptySHA256 = func() string { s := sha256.Sum256(nil); return hex.EncodeToString(s[:]) }()

// credential is the parsed "<key>/<date>/<region>/<service>/aws4_request" scope.
type credential struct{ key, date, region, service, term string }

func parseCredential(v string) (credential, bool) {
	p := strings.Split(v, "/")
	if len(p) != 5 {
		return credential{}, false
	}
	return credential{p[0], p[1], p[2], p[3], p[4]}, true
}

func (c credential) scope() string {
	return c.date + "/" + c.region + "/" + c.service + "/" + c.term
}

// authenticate verifies the request's SigV4 signature (header or presigned URL) and its
// session token, and returns the payload hash the body must match.
func (s *Server) authenticate(c *call) (payloadHash string, e *s3Error) {
	auth := c.r.Header.Get("Authorization")
	presigned := c.query.Has("X-Amz-Signature") || c.query.Has("X-Amz-Credential") || c.query.Has("X-Amz-Algorithm")
	switch {
	case auth != "" && presigned:
		return "", errInvalidArgument("Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified", "Authorization", auth)
	case presigned:
		payloadHash, e = s.checkPresigned(c)
	case strings.HasPrefix(auth, sigV4Algorithm+" "):
		payloadHash, e = s.checkHeaderAuth(c, strings.TrimPrefix(auth, sigV4Algorithm+" "))
	case strings.HasPrefix(auth, "AWS "):
		return "", authErr(400, "InvalidRequest", "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.")
	case auth == "":
		return "", authErr(403, "AccessDenied", "Access Denied")
	default:
		return "", authErr(400, "InvalidArgument", "Unsupported Authorization Type", "ArgumentName", "Authorization", "ArgumentValue", auth)
	}
	if e != nil {
		return "", e
	}
	token := c.r.Header.Get("x-amz-security-token")
	if presigned {
		token = c.query.Get("X-Amz-Security-Token")
	}
	if token != s.SessionToken {
		return "", authErr(403, "InvalidToken", "The provided token is malformed or otherwise invalid.")
	}
	return payloadHash, nil
}

func errBadKeyID(id string) *s3Error {
	return authErr(403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.", "AWSAccessKeyId", id)
}

// checkHeaderAuth verifies "AWS4-HMAC-SHA256 Credential=...,SignedHeaders=...,Signature=...".
func (s *Server) checkHeaderAuth(c *call, params string) (string, *s3Error) {
	fields := map[string]string{}
	for _, p := range strings.Split(params, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		fields[k] = v
	}
	malformed := func(msg string, extra ...string) *s3Error {
		return authErr(400, "AuthorizationHeaderMalformed", msg, extra...)
	}
	cred, ok := parseCredential(fields["Credential"])
	if !ok {
		return "", malformed(`The authorization header is malformed; the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".`)
	}
	if fields["SignedHeaders"] == "" || fields["Signature"] == "" {
		return "", malformed("The authorization header is malformed; it must contain Credential, SignedHeaders and Signature.")
	}
	if cred.key != s.AccessKeyID {
		return "", errBadKeyID(cred.key)
	}
	xdate := c.r.Header.Get("x-amz-date")
	t, err := time.Parse(amzDateFormat, xdate)
	if err != nil {
		return "", authErr(403, "AccessDenied", "AWS authentication requires a valid Date or x-amz-date header")
	}
	now := s.now()
	if d := now.Sub(t); d > maxClockSkew || d < -maxClockSkew {
		return "", authErr(403, "RequestTimeTooSkewed", "The difference between the request time and the current time is too large.",
			"RequestTime", xdate, "ServerTime", now.UTC().Format(time.RFC3339), "MaxAllowedSkewMilliseconds", "900000")
	}
	if e := s.checkScope(cred, xdate, malformed, "The authorization header is malformed; "); e != nil {
		return "", e
	}
	payload := c.r.Header.Get("x-amz-content-sha256")
	switch {
	case payload == "":
		return "", authErr(400, "InvalidRequest", "Missing required header for this request: x-amz-content-sha256")
	case payload == unsignedPayload, payload == streamingUnsignedTrail:
	case strings.HasPrefix(payload, "STREAMING-"):
		return "", errNotImplemented("x-amz-content-sha256: " + payload + " (s3test serves only unsigned streaming payloads)")
	default:
		if b, err := hex.DecodeString(payload); err != nil || len(b) != sha256.Size {
			return "", authErr(400, "InvalidArgument", "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, or a valid sha256 value.",
				"ArgumentName", "x-amz-content-sha256", "ArgumentValue", payload)
		}
	}
	signed := strings.Split(fields["SignedHeaders"], ";")
	if e := checkSignedHeaders(c.r, signed); e != nil {
		return "", e
	}
	canonical := canonicalRequest(c, signed, payload, false)
	return payload, s.checkSignature(cred, xdate, canonical, fields["Signature"])
}

// checkPresigned verifies a presigned URL (X-Amz-* query parameters).
func (s *Server) checkPresigned(c *call) (string, *s3Error) {
	q := c.query
	bad := func(msg string, extra ...string) *s3Error {
		return authErr(400, "AuthorizationQueryParametersError", msg, extra...)
	}
	if q.Get("X-Amz-Algorithm") != sigV4Algorithm {
		return "", bad("X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"")
	}
	for _, k := range []string{"X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature"} {
		if q.Get(k) == "" {
			return "", bad("Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.")
		}
	}
	cred, ok := parseCredential(q.Get("X-Amz-Credential"))
	if !ok {
		return "", bad(`Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".`)
	}
	if cred.key != s.AccessKeyID {
		return "", errBadKeyID(cred.key)
	}
	xdate := q.Get("X-Amz-Date")
	t, err := time.Parse(amzDateFormat, xdate)
	if err != nil {
		return "", bad("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
	}
	expires, err := strconv.Atoi(q.Get("X-Amz-Expires"))
	if err != nil || expires < 0 {
		return "", bad("X-Amz-Expires should be a number")
	}
	if expires > maxPresignSecs {
		return "", bad("X-Amz-Expires must be less than a week (in seconds) that is 604800")
	}
	now := s.now()
	if now.Before(t.Add(-maxClockSkew)) {
		return "", authErr(403, "AccessDenied", "Request is not valid yet", "X-Amz-Date", xdate, "ServerTime", now.UTC().Format(time.RFC3339))
	}
	if now.After(t.Add(time.Duration(expires) * time.Second)) {
		return "", authErr(403, "AccessDenied", "Request has expired", "X-Amz-Expires", strconv.Itoa(expires),
			"Expires", t.Add(time.Duration(expires)*time.Second).UTC().Format(time.RFC3339), "ServerTime", now.UTC().Format(time.RFC3339))
	}
	if e := s.checkScope(cred, xdate, bad, "Error parsing the X-Amz-Credential parameter; "); e != nil {
		return "", e
	}
	signed := strings.Split(q.Get("X-Amz-SignedHeaders"), ";")
	if e := checkSignedHeaders(c.r, signed); e != nil {
		return "", e
	}
	payload := unsignedPayload
	for _, h := range signed {
		if h == "x-amz-content-sha256" {
			payload = c.r.Header.Get("x-amz-content-sha256")
		}
	}
	canonical := canonicalRequest(c, signed, payload, true)
	return payload, s.checkSignature(cred, xdate, canonical, q.Get("X-Amz-Signature"))
}

// checkScope checks the credential scope's date, region, service and terminator.
func (s *Server) checkScope(cred credential, xdate string, bad func(string, ...string) *s3Error, intro string) *s3Error {
	switch {
	case cred.date != xdate[:8]:
		return bad(intro + "Invalid credential date. Date is not the same as X-Amz-Date.")
	case cred.region != s.Region:
		return bad(intro+"the region '"+cred.region+"' is wrong; expecting '"+s.Region+"'", "Region", s.Region)
	case cred.service != "s3":
		return bad(intro + "incorrect service \"" + cred.service + "\". This endpoint belongs to \"s3\".")
	case cred.term != sigV4Terminator:
		return bad(intro + "incorrect terminal \"" + cred.term + "\". This endpoint uses \"aws4_request\".")
	}
	return nil
}

// checkSignedHeaders requires host and every x-amz-* header present to be signed.
func checkSignedHeaders(r *http.Request, signed []string) *s3Error {
	in := map[string]bool{}
	for _, h := range signed {
		in[h] = true
	}
	var missing []string
	if !in["host"] {
		missing = append(missing, "host")
	}
	for k := range r.Header {
		if lk := strings.ToLower(k); strings.HasPrefix(lk, "x-amz-") && !in[lk] {
			missing = append(missing, lk)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return authErr(403, "AccessDenied", "There were headers present in the request which were not signed", "HeadersNotSigned", strings.Join(missing, ", "))
	}
	return nil
}

// canonicalRequest builds SigV4's canonical request.
func canonicalRequest(c *call, signed []string, payload string, presigned bool) string {
	r := c.r
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(uriEncode(r.URL.Path, false))
	b.WriteByte('\n')
	b.WriteString(canonicalQuery(r.URL.RawQuery, presigned))
	b.WriteByte('\n')
	for _, name := range signed {
		var vals []string
		switch name {
		case "host":
			vals = []string{r.Host}
		case "content-length":
			if v := r.Header.Get("Content-Length"); v != "" {
				vals = []string{v}
			} else if r.ContentLength >= 0 {
				vals = []string{strconv.FormatInt(r.ContentLength, 10)}
			}
		case "transfer-encoding":
			vals = r.TransferEncoding
		default:
			vals = r.Header.Values(name)
		}
		for i, v := range vals {
			vals[i] = strings.Join(strings.Fields(v), " ")
		}
		b.WriteString(name + ":" + strings.Join(vals, ",") + "\n")
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(signed, ";"))
	b.WriteByte('\n')
	b.WriteString(payload)
	return b.String()
}

// canonicalQuery decodes and re-encodes the query parameters (RFC 3986), sorted by name
// and value; presigned URLs leave X-Amz-Signature out.
func canonicalQuery(raw string, presigned bool) string {
	type kv struct{ k, v string }
	var params []kv
	for _, p := range strings.Split(raw, "&") {
		if p == "" {
			continue
		}
		k, v, _ := strings.Cut(p, "=")
		dk, err1 := url.QueryUnescape(k)
		dv, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			dk, dv = k, v
		}
		if presigned && dk == "X-Amz-Signature" {
			continue
		}
		params = append(params, kv{uriEncode(dk, true), uriEncode(dv, true)})
	}
	sort.Slice(params, func(i, j int) bool {
		if params[i].k != params[j].k {
			return params[i].k < params[j].k
		}
		return params[i].v < params[j].v
	})
	var q strings.Builder
	for i, p := range params {
		if i > 0 {
			q.WriteByte('&')
		}
		q.WriteString(p.k + "=" + p.v)
	}
	return q.String()
}

// checkSignature compares the signature of canonical with the one provided.
func (s *Server) checkSignature(cred credential, xdate, canonical, provided string) *s3Error {
	sum := sha256.Sum256([]byte(canonical))
	toSign := sigV4Algorithm + "\n" + xdate + "\n" + cred.scope() + "\n" + hex.EncodeToString(sum[:])
	key := []byte("AWS4" + s.SecretAccessKey)
	for _, part := range []string{cred.date, cred.region, cred.service, cred.term} {
		key = hmacSHA256(key, part)
	}
	want := hex.EncodeToString(hmacSHA256(key, toSign))
	if !hmac.Equal([]byte(want), []byte(provided)) {
		return authErr(403, "SignatureDoesNotMatch",
			"The request signature we calculated does not match the signature you provided. Check your key and signing method.",
			"AWSAccessKeyId", cred.key, "StringToSign", toSign, "SignatureProvided", provided,
			"CanonicalRequest", canonical)
	}
	return nil
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}
