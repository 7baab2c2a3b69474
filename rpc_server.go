package unifiedfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/unifiedfs/unifiedfs/internal/cache"
	"github.com/unifiedfs/unifiedfs/internal/inode"
	"github.com/unifiedfs/unifiedfs/internal/rpc"
)

// The member-to-member service (see internal/rpc for the transport, its authentication
// and why it is plain HTTP). Every member serves it on HAConfig.Address:
//
//	POST /v1/op      a mutation (opRequest), on the leader only; answers the journal seq
//	POST /v1/write   a file's content, streamed (query: path, wt, overwrite, mode, reqid)
//	GET  /v1/stat    ?path= a *FileStatus        GET /v1/list   ?path= its entries
//	GET  /v1/read    ?path=&id=&off=&n= content of that version, streamed
//	GET  /v1/block   ?id=&gen=&size=&idx= a block of this member's cache (the data plane)
//	GET  /v1/role    RoleInfo                    GET /v1/mounts MountInfo list
//	GET  /v1/syncpoints                          POST /v1/local load, free, loadMetadata here

// opRequest is a mutation sent to the leader by a standby or a remote client.
type opRequest struct {
	Op            string // mkdir, delete, rename, mount, unmount, persist, startSync, stopSync
	Path, Dst     string
	Mode          fs.FileMode       `json:",omitempty"`
	WriteType     WriteType         `json:",omitempty"`
	Recursive     bool              `json:",omitempty"`
	Unmount       bool              `json:",omitempty"`
	NamespaceOnly bool              `json:",omitempty"`
	URI           string            `json:",omitempty"`
	ReadOnly      bool              `json:",omitempty"`
	Shared        bool              `json:",omitempty"`
	Options       map[string]string `json:",omitempty"`
	// Attr is setAttribute's change.
	Attr *SetAttributeOptions `json:",omitempty"`
	// ReqID makes a retried request apply once (see namespace.State.HasRequest).
	ReqID string
}

// opResult is the leader's answer: the journal seq at or after the mutation's entries.
type opResult struct {
	Seq uint64
}

// localRequest asks the member itself for something that stays on it (its cache, its
// metadata view).
type localRequest struct {
	Op               string // load, free, loadMetadata, invalidateSync
	Path             string
	Recursive, Force bool
}

type reqIDKey struct{}
type servingKey struct{}

// withReqID returns ctx carrying a request id, which the mutation's entry records.
func withReqID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, reqIDKey{}, id)
}

func reqIDOf(ctx context.Context) string {
	id, _ := ctx.Value(reqIDKey{}).(string)
	return id
}

// serving marks a context of a call the member serves for another: it is executed here
// or refused, never forwarded again.
func serving(ctx context.Context) context.Context { return context.WithValue(ctx, servingKey{}, true) }

func isServing(ctx context.Context) bool { return ctx.Value(servingKey{}) != nil }

// rpcServer builds the member's RPC handler.
func (f *FS) rpcServer(secret []byte) *rpc.Server {
	s := &rpc.Server{Secret: secret, Log: f.log, Streamed: map[string]bool{"/write": true}, Errors: errorBody}
	s.Handle("POST", "/op", func(w http.ResponseWriter, r *http.Request) error {
		var req opRequest
		if err := rpc.ReadJSON(r, &req); err != nil {
			return err
		}
		seq, err := f.serveOp(serving(r.Context()), req)
		if err != nil {
			return err
		}
		return rpc.WriteJSON(w, opResult{Seq: seq})
	})
	s.Handle("POST", "/write", func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		wt, _ := strconv.Atoi(q.Get("wt"))
		mode, _ := strconv.ParseUint(q.Get("mode"), 8, 32)
		opts := CreateOptions{WriteType: WriteType(wt), Overwrite: q.Get("overwrite") == "1", Recursive: q.Get("recursive") == "1", Mode: fs.FileMode(mode)}
		seq, err := f.serveWrite(serving(r.Context()), q.Get("path"), q.Get("reqid"), opts, r.Body)
		if err != nil {
			return err
		}
		return rpc.WriteJSON(w, opResult{Seq: seq})
	})
	s.Handle("GET", "/stat", func(w http.ResponseWriter, r *http.Request) error {
		st, err := f.GetStatus(serving(r.Context()), r.URL.Query().Get("path"))
		if err != nil {
			return err
		}
		return rpc.WriteJSON(w, st)
	})
	s.Handle("GET", "/list", func(w http.ResponseWriter, r *http.Request) error {
		ents, err := f.ListStatus(serving(r.Context()), r.URL.Query().Get("path"))
		if err != nil {
			return err
		}
		out := make([]*FileStatus, 0, len(ents))
		for _, e := range ents {
			info, err := e.Info()
			if err != nil {
				return err
			}
			out = append(out, info.Sys().(*FileStatus))
		}
		return rpc.WriteJSON(w, out)
	})
	s.Handle("GET", "/read", func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		id, _ := strconv.ParseUint(q.Get("id"), 10, 64)
		off, _ := strconv.ParseInt(q.Get("off"), 10, 64)
		n, _ := strconv.ParseInt(q.Get("n"), 10, 64)
		return f.serveRead(serving(r.Context()), w, q.Get("path"), id, off, n)
	})
	s.Handle("GET", "/blocks", func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		id, _ := strconv.ParseUint(q.Get("id"), 10, 64)
		gen, _ := strconv.ParseUint(q.Get("gen"), 10, 64)
		size, _ := strconv.ParseInt(q.Get("size"), 10, 64)
		off, _ := strconv.ParseInt(q.Get("off"), 10, 64)
		n, _ := strconv.ParseInt(q.Get("n"), 10, 64)
		return f.serveBlocks(r.Context(), w, cache.File{ID: id, Gen: gen, Size: size}, off, n)
	})
	s.Handle("GET", "/role", func(w http.ResponseWriter, r *http.Request) error { return rpc.WriteJSON(w, f.Role()) })
	s.Handle("GET", "/mounts", func(w http.ResponseWriter, r *http.Request) error { return rpc.WriteJSON(w, f.Mounts()) })
	s.Handle("GET", "/syncpoints", func(w http.ResponseWriter, r *http.Request) error { return rpc.WriteJSON(w, f.SyncPoints()) })
	s.Handle("POST", "/local", func(w http.ResponseWriter, r *http.Request) error {
		var req localRequest
		if err := rpc.ReadJSON(r, &req); err != nil {
			return err
		}
		ctx := serving(r.Context())
		var err error
		switch req.Op {
		case "load":
			err = f.Load(ctx, req.Path)
		case "free":
			err = f.Free(ctx, req.Path, FreeOptions{Force: req.Force})
		case "loadMetadata":
			err = f.LoadMetadata(ctx, req.Path, LoadMetadataOptions{Recursive: req.Recursive, Force: req.Force})
		case "invalidateSync":
			f.InvalidateSync(req.Path)
		default:
			err = pathErr(req.Op, req.Path, errorf(fs.ErrInvalid, "unknown local operation %q", req.Op))
		}
		if err != nil {
			return err
		}
		return rpc.WriteJSON(w, struct{}{})
	})
	return s
}

// serveOp executes a mutation another process sent; only the leader does (a standby
// answers ErrNotLeader naming the leader). A request it already applied (a retry after a
// failover) is answered without applying it again.
func (f *FS) serveOp(ctx context.Context, req opRequest) (uint64, error) {
	if err := f.checkLeader(req.Op, req.Path); err != nil {
		return 0, err
	}
	if req.ReqID != "" {
		if f.ns().HasRequest(req.ReqID) {
			return f.appliedSeq(), nil
		}
		ctx = withReqID(ctx, req.ReqID)
	}
	var err error
	switch req.Op {
	case "mkdir":
		o := MkdirOptions{Mode: req.Mode, WriteType: req.WriteType}
		if req.Recursive {
			// Several entries, and idempotent: a retry simply runs again.
			err = f.MkdirAll(withReqID(ctx, ""), req.Path, o)
		} else {
			err = f.Mkdir(ctx, req.Path, o)
		}
	case "delete":
		err = f.Delete(ctx, req.Path, DeleteOptions{Recursive: req.Recursive, Unmount: req.Unmount, NamespaceOnly: req.NamespaceOnly})
	case "rename":
		err = f.Rename(ctx, req.Path, req.Dst)
	case "mount":
		err = f.Mount(ctx, req.Path, req.URI, MountOptions{ReadOnly: req.ReadOnly, Shared: req.Shared, Options: req.Options})
	case "unmount":
		err = f.Unmount(ctx, req.Path)
	case "persist":
		err = f.Persist(ctx, req.Path)
	case "startSync":
		err = f.StartSync(ctx, req.Path)
	case "stopSync":
		err = f.StopSync(ctx, req.Path)
	case "setAttribute":
		if req.Attr == nil {
			req.Attr = &SetAttributeOptions{}
		}
		err = f.SetAttribute(ctx, req.Path, *req.Attr)
	case "updateMount":
		err = f.UpdateMount(ctx, req.Path, MountOptions{ReadOnly: req.ReadOnly, Shared: req.Shared, Options: req.Options})
	default:
		err = pathErr(req.Op, req.Path, errorf(fs.ErrInvalid, "unknown operation %q", req.Op))
	}
	if err != nil && req.ReqID != "" && f.ns().HasRequest(req.ReqID) {
		err = nil // the first attempt applied it; this retry failed only for that
	}
	if err == nil && afterCommitHook != nil {
		afterCommitHook(req.Path)
	}
	return f.appliedSeq(), err
}

// afterCommitHook, set by tests only, runs between a served mutation's journal commit and
// its answer.
var afterCommitHook func(path string)

// appliedSeq is the journal seq this member's state includes.
func (f *FS) appliedSeq() uint64 {
	if j := f.jnl(); j != nil {
		return j.LastSeq()
	}
	if f.ha != nil {
		return f.ha.applied.Load()
	}
	return 0
}

// serveWrite writes a file whose content another process streams.
func (f *FS) serveWrite(ctx context.Context, p, reqID string, opts CreateOptions, body io.Reader) (uint64, error) {
	if err := f.checkLeader("create", p); err != nil {
		return 0, err
	}
	if reqID != "" {
		if f.ns().HasRequest(reqID) {
			_, _ = io.Copy(io.Discard, body)
			return f.appliedSeq(), nil
		}
		ctx = withReqID(ctx, reqID)
	}
	w, err := f.Create(ctx, p, opts)
	if err != nil {
		if reqID != "" && f.ns().HasRequest(reqID) {
			return f.appliedSeq(), nil
		}
		return 0, err
	}
	if _, err := io.Copy(w, body); err != nil {
		w.Abort()
		return 0, pathErr("write", p, err)
	}
	if err := w.Close(); err != nil {
		return 0, err
	}
	if afterCommitHook != nil {
		afterCommitHook(p)
	}
	return f.appliedSeq(), nil
}

// serveRead streams n bytes (n < 0: to the end) at off of the version id of the file at
// p; ErrChanged when p holds another version now.
func (f *FS) serveRead(ctx context.Context, w http.ResponseWriter, p string, id uint64, off, n int64) error {
	fl, err := f.OpenFile(ctx, p, OpenOptions{})
	if err != nil {
		return err
	}
	defer fl.Close()
	file, ok := fl.(*File)
	if !ok {
		return pathErr("read", p, ErrIsDir)
	}
	if id != 0 && file.r.node.ID != id {
		return pathErr("read", p, errorf(ErrChanged, "%s was replaced since it was opened; open it again", p))
	}
	size := file.r.node.Size
	if n < 0 || off+n > size {
		n = max(size-off, 0)
	}
	w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
	w.Header().Set("Content-Type", "application/octet-stream")
	_, err = io.Copy(w, io.NewSectionReader(file, off, n))
	return err // after the header, an error can only cut the body short (the client sees it)
}

// serveBlocks streams bytes [off, off+n) of a version in this member's cache, for a
// member reading an unpersisted file this one holds. A block that is not cached fails
// the call when it is the first (a clear error) and cuts the stream short otherwise.
func (f *FS) serveBlocks(ctx context.Context, w http.ResponseWriter, cf cache.File, off, n int64) error {
	if off < 0 || n <= 0 || off+n > cf.Size {
		return errorf(fs.ErrInvalid, "bytes %d+%d of a %d-byte file", off, n, cf.Size)
	}
	bs := f.cache.BlockSize()
	r := f.cache.NewReader(cf, nil, cache.ReadNoCache)
	defer r.Close()
	buf := make([]byte, min(bs, n))
	for sent := int64(0); sent < n; {
		at := off + sent
		chunk := buf[:min(bs-at%bs, n-sent)] // to the end of at's block
		if _, err := r.ReadAt(ctx, chunk, at); err != nil && !errors.Is(err, io.EOF) {
			if errors.Is(err, cache.ErrBlockLost) {
				err = fmt.Errorf("%w: block %d of content %d is not in this member's cache: %w", ErrLost, at/bs, cf.ID, err)
			}
			return err
		}
		if sent == 0 {
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		}
		if _, err := w.Write(chunk); err != nil {
			return err
		}
		sent += int64(len(chunk))
	}
	return nil
}

// remoteBlocks returns the fetcher of an unpersisted version another member holds, or
// nil when this member holds it (or no member is recorded).
func (f *FS) remoteBlocks(in *inode.Inode) cache.Fetcher {
	open := f.holderRange(in)
	if open == nil {
		return nil
	}
	return func(ctx context.Context, off, n int64) (io.ReadCloser, error) {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second) // a fill is a span of blocks
		rc, err := open(ctx, off, n)
		if err != nil {
			cancel()
			return nil, err
		}
		return cancelOnClose{rc, cancel}, nil
	}
}

// holderRange returns how to open a stream of bytes [off, off+n) of an unpersisted
// version from the member holding it, or nil when this member holds it (or none is
// recorded). A stream that ends early fails with io.ErrUnexpectedEOF.
func (f *FS) holderRange(in *inode.Inode) cache.Fetcher {
	if f.ha == nil {
		return nil
	}
	holder := f.ns().HolderOf(in.ID)
	if holder == "" || holder == f.ha.cfg.Address {
		return nil
	}
	cf := cacheFile(in)
	return func(ctx context.Context, off, n int64) (io.ReadCloser, error) {
		if n == 0 {
			return io.NopCloser(strings.NewReader("")), nil // as the UFS contract's OpenRange
		}
		q := url.Values{"id": {strconv.FormatUint(cf.ID, 10)}, "gen": {strconv.FormatUint(cf.Gen, 10)},
			"size": {strconv.FormatInt(cf.Size, 10)}, "off": {strconv.FormatInt(off, 10)}, "n": {strconv.FormatInt(n, 10)}}
		rc, err := f.ha.rpc.Open(ctx, holder, "/blocks", q)
		if err != nil {
			if rpc.Unavailable(err) {
				return nil, fmt.Errorf("%w: the member holding it (%s) is unreachable: %w", ErrLost, holder, err)
			}
			return nil, remoteError("read", "", err)
		}
		return rc, nil
	}
}
