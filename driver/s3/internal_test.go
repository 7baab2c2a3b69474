package s3

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/unifiedfs/unifiedfs/ufs"
)

func TestRegionOf(t *testing.T) {
	for host, want := range map[string]string{
		"https://s3.eu-west-1.amazonaws.com":             "eu-west-1",
		"https://bucket.s3.ap-south-1.amazonaws.com":     "ap-south-1",
		"https://s3-us-west-2.amazonaws.com":             "us-west-2",
		"https://s3.dualstack.us-east-2.amazonaws.com":   "us-east-2",
		"https://s3-fips.us-gov-west-1.amazonaws.com":    "us-gov-west-1",
		"https://s3.cn-north-1.amazonaws.com.cn":         "cn-north-1",
		"https://s3-external-1.amazonaws.com":            "us-east-1",
		"https://s3.amazonaws.com":                       "",
		"https://s3-accelerate.amazonaws.com":            "",
		"http://127.0.0.1:9000":                          "",
		"https://minio.example.com":                      "",
		"https://s3.eu-west-1.amazonaws.com.example.org": "",
	} {
		t.Run(host, func(t *testing.T) {
			if got := regionOf(host); got != want {
				t.Errorf("regionOf(%s) = %q, want %q", host, got, want)
			}
		})
	}
}

func TestValidBucket(t *testing.T) {
	for _, tc := range []struct {
		name      string
		pathStyle bool
		ok        bool
	}{
		{"data-bucket", false, true}, {"a.b.c", false, true}, {"ab", false, false}, {"-ab", false, false},
		{"ab-", false, false}, {"a..b", false, false}, {"Upper", false, false}, {"Upper_Legacy", true, true},
		{"under_score", false, false}, {"has space", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := validBucket(tc.name, tc.pathStyle); got != tc.ok {
				t.Errorf("validBucket(%q, %v) = %v", tc.name, tc.pathStyle, got)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	apiErr := func(code string, status int) error {
		return &awshttp.ResponseError{
			ResponseError: &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
				Err: &smithy.GenericAPIError{Code: code, Message: "m"}},
		}
	}
	for _, tc := range []struct {
		code   string
		status int
		want   error
	}{
		{"NoSuchKey", 404, fs.ErrNotExist}, {"NoSuchBucket", 404, fs.ErrNotExist}, {"NotFound", 404, fs.ErrNotExist},
		{"AccessDenied", 403, fs.ErrPermission}, {"SignatureDoesNotMatch", 403, fs.ErrPermission},
		{"InvalidAccessKeyId", 403, fs.ErrPermission}, {"Forbidden", 403, fs.ErrPermission},
		{"AuthorizationHeaderMalformed", 400, fs.ErrPermission}, {"ExpiredToken", 400, fs.ErrPermission},
		{"PreconditionFailed", 412, ufs.ErrChanged}, {"BucketNotEmpty", 409, ufs.ErrNotEmpty},
		{"SomethingNew", 404, fs.ErrNotExist}, {"SomethingNew", 401, fs.ErrPermission},
		{"InternalError", 500, nil}, {"SlowDown", 503, nil},
	} {
		t.Run(fmt.Sprintf("%s/%d", tc.code, tc.status), func(t *testing.T) {
			err := classify(apiErr(tc.code, tc.status))
			for _, s := range []error{fs.ErrNotExist, fs.ErrPermission, ufs.ErrChanged, ufs.ErrNotEmpty} {
				if got := errors.Is(err, s); got != (s == tc.want) {
					t.Errorf("%s/%d: errors.Is(%v) = %v", tc.code, tc.status, s, got)
				}
			}
			if c, st := errorCode(err); c != tc.code || st != tc.status {
				t.Errorf("%s/%d: the chain lost the S3 error (%q, %d)", tc.code, tc.status, c, st)
			}
		})
	}
	if isNotFound(apiErr("NoSuchBucket", 404)) || !isNotFound(apiErr("NotFound", 404)) || !isNotFound(apiErr("NoSuchKey", 404)) {
		t.Error("isNotFound must mean a missing key, never a missing bucket")
	}
}
