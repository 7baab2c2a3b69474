package osstest

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"net/http"
	"strconv"
)

// ossError is one OSS error response: the status and the <Error> document.
type ossError struct {
	status  int
	code    string
	message string
	extra   [][2]string // additional elements (Key, BucketName, StringToSign, ...)
	header  http.Header // additional response headers
}

func (e *ossError) Error() string { return e.code + ": " + e.message }

func newErr(status int, code, message string, extra ...string) *ossError {
	e := &ossError{status: status, code: code, message: message}
	for i := 0; i+1 < len(extra); i += 2 {
		e.extra = append(e.extra, [2]string{extra[i], extra[i+1]})
	}
	return e
}

// Errors the handlers return, named as OSS names them.
func errNoSuchBucket(b string) *ossError {
	return newErr(404, "NoSuchBucket", "The specified bucket does not exist.", "BucketName", b)
}

func errNoSuchKey(key string) *ossError {
	return newErr(404, "NoSuchKey", "The specified key does not exist.", "Key", key)
}

func errNoSuchUpload(id string) *ossError {
	return newErr(404, "NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.", "UploadId", id)
}

func errInvalidArgument(msg, name, value string) *ossError {
	return newErr(400, "InvalidArgument", msg, "ArgumentName", name, "ArgumentValue", value)
}

func errAccessDenied(msg string) *ossError { return newErr(403, "AccessDenied", msg) }

func errFileAlreadyExists() *ossError {
	return newErr(409, "FileAlreadyExists", "The object you specified already exists and can not be overwritten.")
}

func errMalformedXML() *ossError {
	return newErr(400, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema.")
}

// defaultCode is the error code a fault uses for a bare status.
func defaultCode(status int) string {
	switch status {
	case 400:
		return "InvalidArgument"
	case 403:
		return "AccessDenied"
	case 404:
		return "NoSuchKey"
	case 409:
		return "Conflict"
	case 412:
		return "PreconditionFailed"
	case 429:
		return "TooManyRequests"
	case 503:
		return "ServiceUnavailable"
	}
	if status >= 500 {
		return "InternalError"
	}
	return "InvalidRequest"
}

// writeError writes e as OSS does: an XML <Error> body, or for HEAD requests no body and
// the document base64-encoded in x-oss-err.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, reqID string, e *ossError) {
	if e.status == http.StatusNotModified {
		w.WriteHeader(e.status) // no body, as HTTP requires
		return
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString("<Error>\n")
	elem := func(name, value string) {
		b.WriteString("  <" + name + ">")
		_ = xml.EscapeText(&b, []byte(value))
		b.WriteString("</" + name + ">\n")
	}
	elem("Code", e.code)
	elem("Message", e.message)
	elem("RequestId", reqID)
	elem("HostId", r.Host)
	for _, kv := range e.extra {
		elem(kv[0], kv[1])
	}
	b.WriteString("</Error>\n")
	h := w.Header()
	for k, vs := range e.header {
		h[k] = vs
	}
	h.Set("Content-Type", "application/xml")
	if r.Method == http.MethodHead {
		h.Set("x-oss-err", base64.StdEncoding.EncodeToString(b.Bytes()))
		h.Set("Content-Length", "0")
		w.WriteHeader(e.status)
		return
	}
	h.Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(e.status)
	_, _ = w.Write(b.Bytes())
}
