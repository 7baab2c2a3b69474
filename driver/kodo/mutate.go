package kodo

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"

	"github.com/qiniu/go-sdk/v7/client"
	"github.com/qiniu/go-sdk/v7/storagev2/apis"
	"github.com/unifiedfs/unifiedfs/ufs"
)

// Mkdir implements ufs.UFS by writing the empty marker object "<path>/". Parents need no
// markers: a key below them makes them exist. A file of the same name is allowed (object
// stores let a file and a directory share a name).
func (f *FS) Mkdir(ctx context.Context, c string) error {
	if c == ufs.Root {
		return nil
	}
	_, err := f.formUpload(ctx, f.dirPrefix(c), nil)
	return err
}

// Remove implements ufs.UFS: it deletes the key, or else the directory marker of an empty
// directory.
func (f *FS) Remove(ctx context.Context, c string) error {
	err := f.deleteKey(ctx, f.key(c))
	if !isCode(err, codeNoSuchFile) {
		return err
	}
	dir := f.dirPrefix(c)
	page, lerr := f.listOnce(ctx, dir, "", "", 2)
	if lerr != nil {
		return lerr
	}
	switch {
	case len(page.Items) == 0:
		return err // 612: fs.ErrNotExist
	case len(page.Items) > 1 || page.Items[0].Key != dir:
		return ufs.ErrNotEmpty
	}
	err = f.deleteKey(ctx, dir)
	if isCode(err, codeNoSuchFile) {
		err = nil // removed concurrently
	}
	return err
}

// RemoveAll implements ufs.UFS: it deletes the key and every key below "<path>/", a page
// of up to 1000 keys per /batch request.
func (f *FS) RemoveAll(ctx context.Context, c string) error {
	if err := f.deleteKey(ctx, f.key(c)); err != nil && !isCode(err, codeNoSuchFile) {
		return err
	}
	return f.eachPage(ctx, f.dirPrefix(c), func(keys []string) error {
		ops := make([]string, len(keys))
		for i, k := range keys {
			ops[i] = "/delete/" + f.encodedEntry(k)
		}
		return f.batch(ctx, ops, keys, codeNoSuchFile)
	})
}

// Rename implements ufs.UFS. A file is one /move without force (Kodo refuses an existing
// destination with 614); a directory moves key by key in /batch requests of up to 1000
// moves. Each move is atomic on the server, so a source key is never gone before its copy
// exists, but a failure can leave a directory half moved.
func (f *FS) Rename(ctx context.Context, s, d string) error {
	st, err := f.stat(ctx, s)
	if err != nil {
		return err
	}
	if _, err := f.stat(ctx, d); err == nil {
		return fmt.Errorf("%w: the destination %s exists", fs.ErrExist, ufs.Rooted(d))
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if !st.IsDir {
		_, err := call(ctx, f, func(ctx context.Context) (*apis.MoveObjectResponse, error) {
			return f.c.storage.MoveObject(ctx, &apis.MoveObjectRequest{SrcEntry: f.entry(f.key(s)), DestEntry: f.entry(f.key(d))}, nil)
		})
		return err
	}
	from, to := f.dirPrefix(s), f.dirPrefix(d)
	return f.eachPage(ctx, from, func(keys []string) error {
		ops := make([]string, len(keys))
		for i, k := range keys {
			ops[i] = "/move/" + f.encodedEntry(k) + "/" + f.encodedEntry(to+k[len(from):])
		}
		return f.batch(ctx, ops, keys, 0)
	})
}

// deleteKey deletes one key.
func (f *FS) deleteKey(ctx context.Context, key string) error {
	_, err := call(ctx, f, func(ctx context.Context) (*apis.DeleteObjectResponse, error) {
		return f.c.storage.DeleteObject(ctx, &apis.DeleteObjectRequest{Entry: f.entry(key)}, nil)
	})
	return err
}

func (f *FS) encodedEntry(key string) string {
	return base64.URLEncoding.EncodeToString([]byte(f.entry(key)))
}

// eachPage calls fn with each page of keys below prefix (no delimiter).
func (f *FS) eachPage(ctx context.Context, prefix string, fn func(keys []string) error) error {
	marker := ""
	for {
		resp, err := f.listOnce(ctx, prefix, "", marker, maxBatch)
		if err != nil {
			return err
		}
		if len(resp.Items) > 0 {
			keys := make([]string, len(resp.Items))
			for i, it := range resp.Items {
				keys[i] = it.Key
			}
			if err := fn(keys); err != nil {
				return err
			}
		}
		if resp.Marker == "" {
			return nil
		}
		marker = resp.Marker
	}
}

// batch runs ops (at most 1000) and returns the first failed operation's error as a
// *client.ErrorInfo naming its key; a failure with code ignore counts as success.
func (f *FS) batch(ctx context.Context, ops, keys []string, ignore int) error {
	resp, err := call(ctx, f, func(ctx context.Context) (*apis.BatchOpsResponse, error) {
		return f.c.storage.BatchOps(ctx, &apis.BatchOpsRequest{Operations: ops}, &apis.Options{OverwrittenBucketName: f.bucket})
	})
	if err != nil {
		return err
	}
	if len(resp.OperationResponses) != len(ops) {
		return fmt.Errorf("kodo: /batch answered %d of %d operations", len(resp.OperationResponses), len(ops))
	}
	for i, r := range resp.OperationResponses {
		if code := int(r.Code); code != codeOK && code != ignore {
			return &client.ErrorInfo{Code: code, Err: r.Data.Error, Key: keys[i]}
		}
	}
	return nil
}
