package s3test

import (
	"bytes"
	"encoding/xml"
	"net/http"
	"strconv"
)

// s3Error is one S3 error response: the status and the <Error> document.
type s3Error struct {
	status  int
	code    string
	message string
	extra   [][2]string // additional elements (Key, BucketName, StringToSign, ...)
	header  http.Header // additional response headers
	auth    bool        // an authentication failure (counted in Stats)
}

func (e *s3Error) Error() string { return e.code + ": " + e.message }

func newErr(status int, code, message string, extra ...string) *s3Error {
	e := &s3Error{status: status, code: code, message: message}
	for i := 0; i+1 < len(extra); i += 2 {
		e.extra = append(e.extra, [2]string{extra[i], extra[i+1]})
	}
	return e
}

func authErr(status int, code, message string, extra ...string) *s3Error {
	e := newErr(status, code, message, extra...)
	e.auth = true
	return e
}

// Errors the handlers return, named and worded as S3 does.
func errNoSuchBucket(b string) *s3Error {
	return newErr(404, "NoSuchBucket", "The specified bucket does not exist", "BucketName", b)
}

func errNoSuchKey(key string) *s3Error {
	return newErr(404, "NoSuchKey", "The specified key does not exist.", "Key", key)
}

func errNoSuchUpload(id string) *s3Error {
	return newErr(404, "NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.", "UploadId", id)
}

func errInvalidArgument(msg, name, value string) *s3Error {
	return newErr(400, "InvalidArgument", msg, "ArgumentName", name, "ArgumentValue", value)
}

func errInvalidRequest(msg string) *s3Error { return newErr(400, "InvalidRequest", msg) }

func errMalformedXML() *s3Error {
	return newErr(400, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema")
}

func errPrecondition(condition string) *s3Error {
	return newErr(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold", "Condition", condition)
}

func errNotImplemented(what string) *s3Error {
	return newErr(501, "NotImplemented", "A header or query you provided implies functionality that is not implemented: "+what)
}

// defaultCode is the error code a fault uses for a bare status.
func defaultCode(status int) string {
	switch status {
	case 400:
		return "InvalidRequest"
	case 403:
		return "AccessDenied"
	case 404:
		return "NoSuchKey"
	case 409:
		return "OperationAborted"
	case 412:
		return "PreconditionFailed"
	case 500:
		return "InternalError"
	case 503:
		return "SlowDown"
	}
	if status >= 500 {
		return "ServiceUnavailable"
	}
	return "InvalidRequest"
}

// errorDocument renders e as S3's <Error> document.
func errorDocument(e *s3Error, reqID, resource string) []byte {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString("<Error>")
	elem := func(name, value string) {
		b.WriteString("<" + name + ">")
		_ = xml.EscapeText(&b, []byte(value))
		b.WriteString("</" + name + ">")
	}
	elem("Code", e.code)
	elem("Message", e.message)
	for _, kv := range e.extra {
		elem(kv[0], kv[1])
	}
	elem("Resource", resource)
	elem("RequestId", reqID)
	elem("HostId", hostID(reqID))
	b.WriteString("</Error>")
	return b.Bytes()
}

// writeError writes e as S3 does: an XML <Error> body, or for HEAD requests the status
// alone.
func (s *Server) writeError(c *call, e *s3Error) {
	if e.auth {
		s.mu.Lock()
		s.stats.AuthFailures++
		s.mu.Unlock()
	}
	h := c.w.Header()
	for k, vs := range e.header {
		h[k] = vs
	}
	if c.r.Method == http.MethodHead {
		h.Set("Content-Length", "0")
		c.w.WriteHeader(e.status)
		return
	}
	body := errorDocument(e, c.id, c.r.URL.Path)
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	c.w.WriteHeader(e.status)
	_, _ = c.w.Write(body)
}
