package s3

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// CleanUploads aborts the multipart uploads below the root's prefix that were initiated
// more than olderThan ago, and returns how many it aborted. Uploads are aborted by Close
// and Abort when they fail; only a process that dies mid-upload leaves one behind (S3
// keeps, and bills, its parts until it is aborted). New runs it at mount when
// CleanUploadsOlderThan is set (alluxio.underfs.cleanup.enabled or
// alluxio.underfs.s3.intermediate.upload.clean.age); a bucket lifecycle rule
// (AbortIncompleteMultipartUpload) does the same on S3's side. Uploads younger than
// olderThan may belong to live writers and are left alone.
func (f *FS) CleanUploads(ctx context.Context, olderThan time.Duration) (int, error) {
	cutoff := time.Now().Add(-olderThan)
	var keyMarker, idMarker *string
	aborted := 0
	for {
		res, err := call(ctx, f, func(ctx context.Context) (*s3.ListMultipartUploadsOutput, error) {
			return f.c.s3.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{
				Bucket: &f.bucket, Prefix: aws.String(f.prefix), KeyMarker: keyMarker, UploadIdMarker: idMarker,
			})
		})
		if err != nil {
			return aborted, withCtx(ctx, classify(err))
		}
		for _, u := range res.Uploads {
			if u.Initiated == nil || !u.Initiated.Before(cutoff) {
				continue
			}
			if err := f.abortUpload(ctx, aws.ToString(u.Key), aws.ToString(u.UploadId)); err != nil {
				return aborted, withCtx(ctx, classify(err))
			}
			aborted++
		}
		if !aws.ToBool(res.IsTruncated) {
			return aborted, nil
		}
		keyMarker, idMarker = res.NextKeyMarker, res.NextUploadIdMarker
	}
}
