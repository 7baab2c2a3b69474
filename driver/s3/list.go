package s3

import (
	"context"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/unifiedfs/unifiedfs/ufs"
)

// object is one key of a listing.
type object struct {
	key   string
	size  int64
	mtime *time.Time
	etag  *string
}

// page is one listing response, the same for ListObjectsV2 and ListObjects (V1).
type page struct {
	objects  []object
	prefixes []string
	next     string // the token (V2) or marker (V1) of the next page; "" after the last
}

// listPage sends one listing request (V2, or V1 with ListV1) with encoding-type=url and
// decodes its keys.
func (f *FS) listPage(ctx context.Context, prefix, delim, token string, maxKeys int) (page, error) {
	var (
		objs     []types.Object
		prefixes []types.CommonPrefix
		pg       page
	)
	var d *string
	if delim != "" {
		d = &delim
	}
	if f.opts.ListV1 {
		in := &s3.ListObjectsInput{Bucket: &f.bucket, Prefix: &prefix, Delimiter: d,
			MaxKeys: aws.Int32(int32(maxKeys)), EncodingType: types.EncodingTypeUrl}
		if token != "" {
			in.Marker = &token
		}
		res, err := call(ctx, f, func(ctx context.Context) (*s3.ListObjectsOutput, error) { return f.c.s3.ListObjects(ctx, in) })
		if err != nil {
			return page{}, err
		}
		objs, prefixes = res.Contents, res.CommonPrefixes
		if aws.ToBool(res.IsTruncated) {
			// V1 names the next marker only when a delimiter is given; else it is the last key.
			switch {
			case res.NextMarker != nil:
				pg.next = *res.NextMarker
			case len(objs) > 0:
				pg.next = aws.ToString(objs[len(objs)-1].Key)
			case len(prefixes) > 0:
				pg.next = aws.ToString(prefixes[len(prefixes)-1].Prefix)
			}
			var err error
			if pg.next, err = decodeKey(pg.next); err != nil {
				return page{}, err
			}
		}
	} else {
		in := &s3.ListObjectsV2Input{Bucket: &f.bucket, Prefix: &prefix, Delimiter: d,
			MaxKeys: aws.Int32(int32(maxKeys)), EncodingType: types.EncodingTypeUrl}
		if token != "" {
			in.ContinuationToken = &token
		}
		res, err := call(ctx, f, func(ctx context.Context) (*s3.ListObjectsV2Output, error) { return f.c.s3.ListObjectsV2(ctx, in) })
		if err != nil {
			return page{}, err
		}
		objs, prefixes = res.Contents, res.CommonPrefixes
		if aws.ToBool(res.IsTruncated) {
			pg.next = aws.ToString(res.NextContinuationToken)
		}
	}
	for _, o := range objs {
		k, err := decodeKey(aws.ToString(o.Key))
		if err != nil {
			return page{}, err
		}
		pg.objects = append(pg.objects, object{key: k, size: aws.ToInt64(o.Size), mtime: o.LastModified, etag: o.ETag})
	}
	for _, p := range prefixes {
		k, err := decodeKey(aws.ToString(p.Prefix))
		if err != nil {
			return page{}, err
		}
		pg.prefixes = append(pg.prefixes, k)
	}
	return pg, nil
}

// decodeKey undoes encoding-type=url (S3 form-encodes: '+' is a space).
func decodeKey(k string) (string, error) {
	d, err := url.QueryUnescape(k)
	if err != nil {
		return "", fmt.Errorf("s3: listing returned a badly encoded key %q: %w", k, err)
	}
	return d, nil
}

// List implements ufs.UFS with ListObjectsV2 (ListObjects with ListV1), delimiter "/".
// Files and common prefixes are merged in key order; the directory's own marker and keys
// that no UFS path can address ("a//b", ".", "..", backslashes) are skipped. The page token
// is S3's continuation token (V1: the marker), a position in the key space. A page is
// filled up to opts.PageSize (or the listing length) entries with further requests when
// needed.
func (f *FS) List(ctx context.Context, c string, opts ufs.ListOptions) (ufs.ListPage, error) {
	prefix := f.dirKey(c)
	want := opts.PageSize
	if want <= 0 {
		want = f.opts.ListPageSize
	}
	token := opts.PageToken
	first := token == ""
	sawKeys := false
	var out ufs.ListPage
	for {
		pg, err := f.listPage(ctx, prefix, "/", token, min(want-len(out.Entries), f.opts.ListPageSize))
		if err != nil {
			return ufs.ListPage{}, err
		}
		if len(pg.objects)+len(pg.prefixes) > 0 {
			sawKeys = true
		}
		out.Entries = f.merge(out.Entries, prefix, pg)
		token = pg.next
		if token == "" || len(out.Entries) >= want {
			break
		}
		if err := ctx.Err(); err != nil {
			return ufs.ListPage{}, err
		}
	}
	if first && !sawKeys && c != ufs.Root {
		_, isFile, err := f.statFile(ctx, c)
		switch {
		case err != nil:
			return ufs.ListPage{}, err
		case isFile:
			return ufs.ListPage{}, ufs.ErrNotDir
		}
		return ufs.ListPage{}, fs.ErrNotExist
	}
	out.NextPageToken = token
	return out, nil
}

// merge appends the files and directories of one listing page to out in key order.
func (f *FS) merge(out []ufs.Status, prefix string, pg page) []ufs.Status {
	files, dirs := pg.objects, pg.prefixes
	for len(files) > 0 || len(dirs) > 0 {
		if len(dirs) == 0 || len(files) > 0 && files[0].key < dirs[0] {
			o := files[0]
			files = files[1:]
			if name := strings.TrimPrefix(o.key, prefix); validName(name) {
				out = append(out, f.fileStatus(name, o.size, o.mtime, o.etag))
			}
			continue
		}
		name := strings.TrimSuffix(strings.TrimPrefix(dirs[0], prefix), "/")
		dirs = dirs[1:]
		if validName(name) {
			out = append(out, f.dirStatus(name))
		}
	}
	return out
}

// validName reports whether name is one element a UFS path can address.
func validName(name string) bool {
	if name == "" || strings.Contains(name, "/") {
		return false
	}
	c, err := ufs.CleanPath(name)
	return err == nil && c == name && name != ufs.Root
}

// walkKeys calls fn with every page of keys below prefix (no delimiter), in key order.
// Pages continue by position, so fn may delete the keys it is given.
func (f *FS) walkKeys(ctx context.Context, prefix string, fn func([]object) error) error {
	token := ""
	for {
		pg, err := f.listPage(ctx, prefix, "", token, maxListKeys)
		if err != nil {
			return err
		}
		if len(pg.objects) > 0 {
			if err := fn(pg.objects); err != nil {
				return err
			}
		}
		if pg.next == "" {
			return nil
		}
		token = pg.next
	}
}
