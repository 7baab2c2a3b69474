package kodotest

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// apiError is a Kodo error reply: an HTTP status (Kodo uses 6xx codes too) and a message.
type apiError struct {
	status int
	msg    string
}

// Kodo's error replies used by more than one service.
var (
	errBadToken      = &apiError{401, "bad token"}
	errExpiredToken  = &apiError{401, "expired token"}
	errNoSuchFile    = &apiError{612, "no such file or directory"}
	errFileExists    = &apiError{614, "file exists"}
	errNoSuchBucket  = &apiError{631, "no such bucket"}
	errNoSuchUpload  = &apiError{612, "no such uploadId"}
	errScopeMismatch = &apiError{403, "key doesn't match with scope"}
)

func badRequest(msg string) *apiError { return &apiError{400, msg} }

func setReqID(w http.ResponseWriter) {
	w.Header().Set("X-Reqid", newID())
}

// replyJSON writes v as a JSON reply with status.
func replyJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		replyError(w, 599, "kodotest: "+err.Error())
		return
	}
	setReqID(w)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// replyError writes Kodo's error shape: {"error": msg} with the status.
func replyError(w http.ResponseWriter, status int, msg string) {
	replyJSON(w, status, map[string]string{"error": msg})
}

func (e *apiError) reply(w http.ResponseWriter) { replyError(w, e.status, e.msg) }
