package hdfs

import (
	"context"
	"os"
	"sort"
	"time"

	hdfs "github.com/colinmarc/hdfs/v2"

	"github.com/unifiedfs/unifiedfs/ufs"
)

// defaultPageSize is the page size when the caller leaves it to the driver (the
// NameNode's own dfs.ls.limit).
const defaultPageSize = 1000

// maxCachedListings bounds the sorted listings kept for paging.
const maxCachedListings = 16

// The NameNode lists a directory in its own order: names compared as *signed* Java
// bytes, so "é" sorts before "a". The contract wants byte order, which no window of the
// NameNode's order can give, so List reads the whole directory (the client pages through
// getListing with startAfter), sorts it, and returns the page after the token (the last
// name of the previous page). The sorted listing is kept for later pages of the same
// walk while the directory's modification time is unchanged and for at most
// OptListCacheTTL, so walking a huge directory costs one full read, not one per page.
// The first page always reads afresh.
type listing struct {
	fileID  uint64
	mtime   uint64
	read    time.Time
	entries []ufs.Status
}

// List implements ufs.UFS.
func (f *FS) List(ctx context.Context, c string, opts ufs.ListOptions) (ufs.ListPage, error) {
	abs := f.abs(c)
	info, err := f.stat(ctx, abs)
	if err != nil {
		return ufs.ListPage{}, err
	}
	if !info.IsDir() {
		return ufs.ListPage{}, ufs.ErrNotDir
	}
	raw, _ := info.Sys().(*hdfs.FileStatus)
	entries := f.cachedListing(abs, raw, opts.PageToken != "")
	if entries == nil {
		if entries, err = f.readDir(ctx, abs); err != nil {
			return ufs.ListPage{}, err
		}
		f.cacheListing(abs, raw, entries)
	}
	start := 0
	if opts.PageToken != "" {
		start = sort.Search(len(entries), func(i int) bool { return entries[i].Name > opts.PageToken })
	}
	size := opts.PageSize
	if size <= 0 {
		size = defaultPageSize
	}
	end := min(len(entries), start+size)
	page := ufs.ListPage{Entries: append([]ufs.Status(nil), entries[start:end]...)}
	if end < len(entries) {
		page.NextPageToken = entries[end-1].Name
	}
	return page, nil
}

func (f *FS) readDir(ctx context.Context, abs string) ([]ufs.Status, error) {
	fis, err := nnValue(ctx, f, func() ([]os.FileInfo, error) {
		r, err := f.client.Open(abs)
		if err != nil {
			return nil, err
		}
		defer r.Close()
		return r.Readdir(0)
	})
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	entries := make([]ufs.Status, 0, len(fis))
	for _, fi := range fis {
		entries = append(entries, status(fi.Name(), fi.(*hdfs.FileInfo)))
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name < entries[j].Name })
	return entries, nil
}

func (f *FS) cachedListing(abs string, raw *hdfs.FileStatus, paging bool) []ufs.Status {
	f.listMu.Lock()
	defer f.listMu.Unlock()
	l := f.listCache[abs]
	if !paging || l == nil || raw == nil || l.fileID != raw.GetFileId() || l.mtime != raw.GetModificationTime() ||
		time.Since(l.read) > f.set.listCacheTTL {
		return nil
	}
	return l.entries
}

// cacheListing keeps a listing long enough to need several pages.
func (f *FS) cacheListing(abs string, raw *hdfs.FileStatus, entries []ufs.Status) {
	f.listMu.Lock()
	defer f.listMu.Unlock()
	now := time.Now()
	for k, l := range f.listCache {
		if now.Sub(l.read) > f.set.listCacheTTL {
			delete(f.listCache, k)
		}
	}
	if raw == nil || f.set.listCacheTTL <= 0 || len(entries) <= 1 {
		delete(f.listCache, abs)
		return
	}
	for len(f.listCache) >= maxCachedListings {
		var oldest string
		for k, l := range f.listCache {
			if oldest == "" || l.read.Before(f.listCache[oldest].read) {
				oldest = k
			}
		}
		delete(f.listCache, oldest)
	}
	f.listCache[abs] = &listing{fileID: raw.GetFileId(), mtime: raw.GetModificationTime(), read: now, entries: entries}
}
