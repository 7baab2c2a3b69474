package oss

import (
	"errors"
	"io/fs"
	"net/http"

	sdk "github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"

	"github.com/unifiedfs/unifiedfs/ufs"
	"github.com/unifiedfs/unifiedfs/ufs/retry"
)

// codeSentinels maps OSS error codes to the ufs contract's sentinels.
var codeSentinels = map[string]error{
	"NoSuchKey":             fs.ErrNotExist,
	"NoSuchBucket":          fs.ErrNotExist,
	"NoSuchUpload":          fs.ErrNotExist,
	"AccessDenied":          fs.ErrPermission,
	"SignatureDoesNotMatch": fs.ErrPermission,
	"InvalidAccessKeyId":    fs.ErrPermission,
	"InvalidSecurityToken":  fs.ErrPermission,
	"SecurityTokenExpired":  fs.ErrPermission,
	"RequestTimeTooSkewed":  fs.ErrPermission,
	"AccessForbidden":       fs.ErrPermission,
	"UserDisable":           fs.ErrPermission,
	"FileAlreadyExists":     fs.ErrExist,
	"ObjectAlreadyExists":   fs.ErrExist,
	"BucketNotEmpty":        ufs.ErrNotEmpty,
	"InvalidArgument":       fs.ErrInvalid,
	"InvalidObjectName":     fs.ErrInvalid,
	"KeyTooLong":            fs.ErrInvalid,
	"InvalidBucketName":     fs.ErrInvalid,
}

// serviceError returns the OSS service error in err's chain.
func serviceError(err error) (*sdk.ServiceError, bool) {
	var se *sdk.ServiceError
	ok := errors.As(err, &se)
	return se, ok
}

// classify wraps err with the sentinel its OSS error code (or, failing that, its HTTP
// status) stands for. Errors without a service response are returned as they are.
func classify(err error) error {
	se, ok := serviceError(err)
	if !ok {
		return err
	}
	if s, ok := codeSentinels[se.Code]; ok {
		return ufs.WrapErr(s, err)
	}
	switch se.StatusCode {
	case http.StatusNotFound:
		return ufs.WrapErr(fs.ErrNotExist, err)
	case http.StatusUnauthorized, http.StatusForbidden:
		return ufs.WrapErr(fs.ErrPermission, err)
	}
	return err
}

// isNotFound reports whether err is OSS's "no such key" (a 404 that is not a missing
// bucket: a missing bucket must surface, not read as a missing file).
func isNotFound(err error) bool {
	se, ok := serviceError(err)
	return ok && se.StatusCode == http.StatusNotFound && se.Code != "NoSuchBucket"
}

// hasCode reports whether err is an OSS error with the given code.
func hasCode(err error, code string) bool {
	se, ok := serviceError(err)
	return ok && se.Code == code
}

// inspect finds the OSS answer in an SDK error, for the retry policy.
func inspect(err error) (retry.Response, bool) {
	se, ok := serviceError(err)
	if !ok {
		return retry.Response{}, false
	}
	return retry.Response{Status: se.StatusCode, Code: se.Code, Header: se.Headers}, true
}

// retryCodes classifies OSS error codes whose status alone would mislead the policy.
// SlowDown and TooManyRequests (OSS's QPS and bandwidth limits) are Throttled by default.
var retryCodes = map[string]retry.Class{
	"NoSuchKey":             retry.Final,
	"NoSuchBucket":          retry.Final,
	"NoSuchUpload":          retry.Final,
	"PreconditionFailed":    retry.Final,
	"RequestTimeTooSkewed":  retry.Final,
	"InvalidAccessKeyId":    retry.Final,
	"SignatureDoesNotMatch": retry.Final,
	"AccessDenied":          retry.Final,
	"RequestTimeout":        retry.Transient,
}
