package kodo

import (
	"errors"
	"io/fs"
	"net/http"
	"strconv"

	"github.com/qiniu/go-sdk/v7/client"
	sdkerrors "github.com/qiniu/go-sdk/v7/storagev2/errors"
	"github.com/unifiedfs/unifiedfs/ufs"
	"github.com/unifiedfs/unifiedfs/ufs/retry"
)

// Kodo error codes (HTTP status of the reply, or the code of one /batch operation).
const (
	codeOK           = 200
	codePartialBatch = 298 // some /batch operations failed
	codeBadRequest   = 400
	codeBadToken     = 401 // bad or expired access, upload or download token
	codeForbidden    = 403 // e.g. the key is outside the upload token's scope
	codeNotFound     = 404 // IO: no such object
	codeTooLarge     = 413
	codeNoSuchFile   = 612
	codeFileExists   = 614
	codeNoSuchBucket = 631
	codeBadMarker    = 640
)

// sentinelOf maps a Kodo error code to the ufs contract's sentinel, or nil.
func sentinelOf(code int) error {
	switch code {
	case codeNoSuchFile, codeNoSuchBucket, codeNotFound:
		return fs.ErrNotExist
	case codeFileExists:
		return fs.ErrExist
	case codeBadToken, codeForbidden:
		return fs.ErrPermission
	case codeBadRequest, codeTooLarge, codeBadMarker, http.StatusRequestedRangeNotSatisfiable:
		return fs.ErrInvalid
	}
	return nil
}

// errCode returns the Kodo code of err (an SDK *client.ErrorInfo), or 0.
func errCode(err error) int {
	var ei *client.ErrorInfo
	if errors.As(err, &ei) {
		return ei.Code
	}
	return 0
}

// isCode reports whether err is a Kodo error with the given code.
func isCode(err error, code int) bool { return err != nil && errCode(err) == code }

// classify wraps err with the sentinel of its Kodo code (a missing required field of a
// request is fs.ErrInvalid); other errors are returned as they are.
func classify(err error) error {
	if s := sentinelOf(errCode(err)); s != nil {
		return ufs.WrapErr(s, err)
	}
	var missing sdkerrors.MissingRequiredFieldError
	if errors.As(err, &missing) {
		return ufs.WrapErr(fs.ErrInvalid, err)
	}
	return err
}

// Classify implements ufs.Classifier.
func (f *FS) Classify(err error) error { return classify(err) }

// downloadError is an error answer of the IO service; unlike the SDK's errors it keeps the
// response headers (Retry-After).
type downloadError struct {
	info   *client.ErrorInfo
	header http.Header
}

func (e *downloadError) Error() string { return e.info.Error() }
func (e *downloadError) Unwrap() error { return e.info }

// inspect finds Kodo's answer (its status is its code) in an error, for the retry policy.
func inspect(err error) (retry.Response, bool) {
	var de *downloadError
	if errors.As(err, &de) {
		return retry.Response{Status: de.info.Code, Code: strconv.Itoa(de.info.Code), Header: de.header}, true
	}
	var ei *client.ErrorInfo
	if errors.As(err, &ei) && ei.Code != 0 {
		return retry.Response{Status: ei.Code, Code: strconv.Itoa(ei.Code)}, true
	}
	return retry.Response{}, false
}

// retryCodes are Kodo's codes whose status class alone would mislead the policy (6xx are
// final except 573, too many requests, and 599, a server error; see retry.ClassifyResponse).
var retryCodes = map[string]retry.Class{
	"579": retry.Final, // the upload callback failed: the object is stored
	"509": retry.Final, // bandwidth or traffic quota exceeded
}
