package oss

import (
	"errors"
	"io/fs"
	"net/http"

	sdk "github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"

	"github.com/unifiedfs/unifiedfs/ufs"
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
