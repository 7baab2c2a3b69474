package oss

import (
	"context"
	"io/fs"
	"strings"

	sdk "github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"

	"github.com/unifiedfs/unifiedfs/ufs"
)

// List implements ufs.UFS with ListObjectsV2 (delimiter "/", encoding-type=url). Files
// and common prefixes are merged in key order; the directory's own marker and keys whose
// names no UFS path can address ("a//b", ".", "..", backslashes) are skipped. The page
// token is the OSS continuation token, a position in the key space. A page is filled up to
// opts.PageSize (or fs.oss.list.pageSize) entries with further requests when needed.
func (f *FS) List(ctx context.Context, c string, opts ufs.ListOptions) (ufs.ListPage, error) {
	prefix := f.dirKey(c)
	want := opts.PageSize
	if want <= 0 {
		want = f.cfg.pageSize
	}
	token := opts.PageToken
	first := token == ""
	sawKeys := false
	var page ufs.ListPage
	for {
		req := &sdk.ListObjectsV2Request{
			Bucket:    &f.bucket,
			Prefix:    sdk.Ptr(prefix),
			Delimiter: sdk.Ptr("/"),
			MaxKeys:   int32(min(want-len(page.Entries), maxListKeys)),
		}
		if token != "" {
			req.ContinuationToken = sdk.Ptr(token)
		}
		res, err := call(ctx, f, func(ctx context.Context) (*sdk.ListObjectsV2Result, error) {
			return f.client.ListObjectsV2(ctx, req)
		})
		if err != nil {
			return ufs.ListPage{}, err
		}
		if len(res.Contents)+len(res.CommonPrefixes) > 0 {
			sawKeys = true
		}
		page.Entries = mergeListing(page.Entries, prefix, res)
		token = ""
		if res.IsTruncated && res.NextContinuationToken != nil {
			token = *res.NextContinuationToken
		}
		if token == "" || len(page.Entries) >= want {
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
	page.NextPageToken = token
	return page, nil
}

// mergeListing appends the files and directories of one ListObjectsV2 response to out in
// key order.
func mergeListing(out []ufs.Status, prefix string, res *sdk.ListObjectsV2Result) []ufs.Status {
	files, dirs := res.Contents, res.CommonPrefixes
	for len(files) > 0 || len(dirs) > 0 {
		takeFile := len(dirs) == 0 || len(files) > 0 && sdk.ToString(files[0].Key) < sdk.ToString(dirs[0].Prefix)
		if takeFile {
			o := files[0]
			files = files[1:]
			name := strings.TrimPrefix(sdk.ToString(o.Key), prefix)
			if validName(name) {
				out = append(out, fileStatus(name, o.Size, o.LastModified, o.ETag))
			}
			continue
		}
		cp := sdk.ToString(dirs[0].Prefix)
		dirs = dirs[1:]
		name := strings.TrimSuffix(strings.TrimPrefix(cp, prefix), "/")
		if validName(name) {
			out = append(out, ufs.Status{Name: name, IsDir: true})
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
