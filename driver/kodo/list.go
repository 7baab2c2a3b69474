package kodo

import (
	"context"
	"fmt"
	"io/fs"
	"sort"

	"github.com/qiniu/go-sdk/v7/storagev2/apis"
	"github.com/unifiedfs/unifiedfs/ufs"
)

// Stat implements ufs.UFS. A key wins over a directory of the same name; a directory exists
// when its marker or any key below it does. Stat(Root) lists one key to check access.
func (f *FS) Stat(ctx context.Context, c string) (ufs.Status, error) {
	if c == ufs.Root {
		if _, err := f.listOnce(ctx, f.prefix, "", "", 1); err != nil {
			return ufs.Status{}, err
		}
		return ufs.Status{Name: ufs.Root, IsDir: true}, nil
	}
	st, err := f.stat(ctx, c)
	if err != nil {
		return ufs.Status{}, err
	}
	return st, nil
}

// stat returns the status of clean path c (not Root), or an error satisfying
// fs.ErrNotExist.
func (f *FS) stat(ctx context.Context, c string) (ufs.Status, error) {
	resp, err := call(ctx, f, func(ctx context.Context) (*apis.StatObjectResponse, error) {
		return f.c.storage.StatObject(ctx, &apis.StatObjectRequest{Entry: f.entry(f.key(c))}, nil)
	})
	if err == nil {
		return ufs.Status{Name: ufs.Base(c), Size: resp.Size, ModTime: putTime(resp.PutTime), ContentHash: resp.Hash}, nil
	}
	if !isCode(err, codeNoSuchFile) {
		return ufs.Status{}, err
	}
	dir := f.dirPrefix(c)
	page, lerr := f.listOnce(ctx, dir, "", "", 1)
	if lerr != nil {
		return ufs.Status{}, lerr
	}
	if len(page.Items) == 0 {
		return ufs.Status{}, ufs.WrapErr(fs.ErrNotExist, err)
	}
	st := ufs.Status{Name: ufs.Base(c), IsDir: true}
	if it := page.Items[0]; it.Key == dir { // the marker sorts first
		st.ModTime = putTime(it.PutTime)
	}
	return st, nil
}

// List implements ufs.UFS. The page token is Kodo's list marker (a position). Keys whose
// name cannot be a path element ("", ".", "..", backslashes, NUL, invalid UTF-8) are not
// listed: no path could reach them. A page size above fs.kodo.list.pagesize is lowered to
// it.
func (f *FS) List(ctx context.Context, c string, opts ufs.ListOptions) (ufs.ListPage, error) {
	prefix := f.dirPrefix(c)
	limit := opts.PageSize
	if limit <= 0 || limit > f.cfg.pageSize {
		limit = f.cfg.pageSize
	}
	marker := opts.PageToken
	first := marker == ""
	seen := false // any key below prefix, the marker included
	var page ufs.ListPage
	for {
		resp, err := f.listOnce(ctx, prefix, "/", marker, limit)
		if err != nil {
			if isCode(err, codeBadMarker) {
				err = fmt.Errorf("%w: bad page token: %w", fs.ErrInvalid, err)
			}
			return ufs.ListPage{}, err
		}
		seen = seen || len(resp.Items) > 0 || len(resp.CommonPrefixes) > 0
		page.Entries = append(page.Entries, entries(resp, prefix)...)
		marker = resp.Marker
		// A page holding only the directory's marker (or unlistable keys) is skipped.
		if marker == "" || len(page.Entries) > 0 {
			break
		}
		if err := ctx.Err(); err != nil {
			return ufs.ListPage{}, err
		}
	}
	page.NextPageToken = marker
	if first && !seen && c != ufs.Root {
		// Nothing below the prefix: the directory does not exist, or is a file.
		st, err := f.stat(ctx, c)
		switch {
		case err == nil && !st.IsDir:
			return ufs.ListPage{}, ufs.ErrNotDir
		case err == nil:
			return page, nil
		default:
			return ufs.ListPage{}, err
		}
	}
	return page, nil
}

// entries converts one /list reply below prefix to sorted entries.
func entries(resp *apis.GetObjectsResponse, prefix string) []ufs.Status {
	out := make([]ufs.Status, 0, len(resp.Items)+len(resp.CommonPrefixes))
	for _, it := range resp.Items {
		name := it.Key[min(len(prefix), len(it.Key)):]
		if it.Key == prefix || !validName(name) {
			continue
		}
		out = append(out, ufs.Status{Name: name, Size: it.Size, ModTime: putTime(it.PutTime), ContentHash: it.Hash})
	}
	for _, cp := range resp.CommonPrefixes {
		if len(cp) <= len(prefix) {
			continue
		}
		name := cp[len(prefix) : len(cp)-1]
		if !validName(name) {
			continue
		}
		out = append(out, ufs.Status{Name: name, IsDir: true})
	}
	sort.Slice(out, func(i, j int) bool { return ufs.ListKey(out[i], true) < ufs.ListKey(out[j], true) })
	return out
}

// validName reports whether name is one valid path element.
func validName(name string) bool {
	c, err := ufs.CleanPath(name)
	return err == nil && c == name && c != ufs.Root
}
