package s3

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strings"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/unifiedfs/unifiedfs/ufs"
	"github.com/unifiedfs/unifiedfs/ufs/retry"
)

// ErrNoCredentials is wrapped (with fs.ErrPermission) by the error of a mount that found
// no credentials anywhere; its message lists the sources tried.
var ErrNoCredentials = errors.New("no AWS credentials found")

// codeSentinels maps S3 error codes to the ufs contract's sentinels. HEAD responses have
// no body, so the SDK names their errors after the status ("NotFound", "Forbidden").
var codeSentinels = map[string]error{
	"NoSuchKey":                         fs.ErrNotExist,
	"NoSuchBucket":                      fs.ErrNotExist,
	"NoSuchUpload":                      fs.ErrNotExist,
	"NotFound":                          fs.ErrNotExist,
	"AccessDenied":                      fs.ErrPermission,
	"Forbidden":                         fs.ErrPermission,
	"SignatureDoesNotMatch":             fs.ErrPermission,
	"InvalidAccessKeyId":                fs.ErrPermission,
	"InvalidToken":                      fs.ErrPermission,
	"ExpiredToken":                      fs.ErrPermission,
	"TokenRefreshRequired":              fs.ErrPermission,
	"RequestTimeTooSkewed":              fs.ErrPermission,
	"AuthorizationHeaderMalformed":      fs.ErrPermission,
	"AuthorizationQueryParametersError": fs.ErrPermission,
	"AccountProblem":                    fs.ErrPermission,
	"AllAccessDisabled":                 fs.ErrPermission,
	"InvalidSecurity":                   fs.ErrPermission,
	"BucketAlreadyExists":               fs.ErrExist,
	"BucketAlreadyOwnedByYou":           fs.ErrExist,
	"BucketNotEmpty":                    ufs.ErrNotEmpty,
	"InvalidArgument":                   fs.ErrInvalid,
	"InvalidBucketName":                 fs.ErrInvalid,
	"KeyTooLongError":                   fs.ErrInvalid,
	"EntityTooLarge":                    fs.ErrInvalid,
	// The driver's only conditions are on versions (If-Match, copy-source-if-match).
	"PreconditionFailed": ufs.ErrChanged,
}

// errorCode returns the S3 error code and HTTP status in err's chain ("" and 0 when err
// carries no service response).
func errorCode(err error) (code string, status int) {
	var api smithy.APIError
	if errors.As(err, &api) {
		code = api.ErrorCode()
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	return code, status
}

// inspect finds S3's answer in an SDK error for the retry policy: the status and headers
// of *awshttp.ResponseError, the code of smithy.APIError. A 2xx or 3xx answer without an
// error code is a response whose body broke (a truncated document): it is left to the
// network classification.
func inspect(err error) (retry.Response, bool) {
	var re *awshttp.ResponseError
	if !errors.As(err, &re) {
		return retry.Response{}, false
	}
	r := retry.Response{Status: re.HTTPStatusCode()}
	if re.Response != nil && re.Response.Response != nil {
		r.Header = re.Response.Header
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		r.Code = api.ErrorCode()
	}
	var sdkRetryable interface{ RetryableError() bool }
	if r.Code != "" && errors.As(err, &sdkRetryable) && sdkRetryable.RetryableError() {
		// The SDK marks a signature refused for the client's clock (RequestTimeTooSkewed,
		// ...) when the response's Date shows the skew; it corrects the clock of the next
		// attempt.
		r.Code = codeSkewCorrected
	}
	if r.Code == "" && r.Status < 400 {
		return retry.Response{}, false
	}
	return r, true
}

// codeSkewCorrected stands, for the retry policy, for an authentication failure the SDK
// attributes to clock skew it has measured and corrects (see inspect).
const codeSkewCorrected = "unifiedfs:ClockSkewCorrected"

// retryCodes classifies S3 error codes whose status alone would mislead: S3 answers some
// failures 200 with an error document (InternalError during CopyObject, UploadPartCopy
// and CompleteMultipartUpload), RequestTimeout (the socket was idle) is a 400 worth
// retrying, and OperationAborted (409) asks to try again.
var retryCodes = map[string]retry.Class{
	codeSkewCorrected:      retry.Transient,
	"InternalError":        retry.Transient,
	"RequestTimeout":       retry.Transient,
	"OperationAborted":     retry.Transient,
	"NoSuchKey":            retry.Final,
	"NoSuchBucket":         retry.Final,
	"NoSuchUpload":         retry.Final,
	"PreconditionFailed":   retry.Final,
	"RequestTimeTooSkewed": retry.Final,
	"ExpiredToken":         retry.Final,
}

// classify wraps err with the sentinel its S3 error code (or, failing that, its HTTP
// status) stands for. An authentication failure is never fs.ErrNotExist.
func classify(err error) error {
	code, status := errorCode(err)
	if s, ok := codeSentinels[code]; ok {
		return ufs.WrapErr(s, err)
	}
	switch status {
	case http.StatusNotFound:
		return ufs.WrapErr(fs.ErrNotExist, err)
	case http.StatusUnauthorized, http.StatusForbidden:
		return ufs.WrapErr(fs.ErrPermission, err)
	case http.StatusPreconditionFailed:
		return ufs.WrapErr(ufs.ErrChanged, err)
	}
	return err
}

// isNotFound reports whether err is S3's "no such key" (HEAD's bare 404 included), never
// a missing bucket: that must surface, not read as a missing file.
func isNotFound(err error) bool {
	code, status := errorCode(err)
	return code == "NoSuchKey" || code == "NotFound" || status == http.StatusNotFound && code != "NoSuchBucket" && code != "NoSuchUpload"
}

func hasCode(err error, code string) bool {
	c, _ := errorCode(err)
	return c == code
}

// Classify implements ufs.Classifier: S3 error codes and statuses to sentinels.
func (f *FS) Classify(err error) error { return classify(err) }

// withCtx keeps ctx's error in the chain when the context ended.
func withCtx(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return ufs.WrapErr(cerr, err)
	}
	return err
}

// KeyError is one key a DeleteObjects request could not delete.
type KeyError struct {
	Key, Code, Message string
}

// DeleteError lists the keys of a DeleteObjects batch that S3 did not delete. errors.Is
// matches the sentinel of any of their codes (AccessDenied: fs.ErrPermission).
type DeleteError struct {
	Keys []KeyError // at most maxReportedKeys
	More int        // further failed keys not listed
}

const maxReportedKeys = 20

func (e *DeleteError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "s3: %d key(s) not deleted:", len(e.Keys)+e.More)
	for i, k := range e.Keys {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, " %q (%s: %s)", k.Key, k.Code, k.Message)
	}
	if e.More > 0 {
		fmt.Fprintf(&b, " and %d more", e.More)
	}
	return b.String()
}

// Unwrap returns the sentinels of the failed keys' codes.
func (e *DeleteError) Unwrap() []error {
	var out []error
	seen := map[error]bool{}
	for _, k := range e.Keys {
		if s, ok := codeSentinels[k.Code]; ok && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func (e *DeleteError) add(k KeyError) {
	if len(e.Keys) < maxReportedKeys {
		e.Keys = append(e.Keys, k)
	} else {
		e.More++
	}
}
