// Package ufs is the contract between unifiedfs and an under storage system (UFS): the UFS
// interface every driver implements, the Status it reports, fingerprints, the scheme
// registry, option helpers and the one path-cleaning function.
//
// # Paths
//
// Every path a UFS method takes is relative to the UFS's root (the path of the URI it was
// opened with) in the CleanPath form: "a/b", or Root (".") for the root itself. The guard
// around every driver (Guard; Registry.Open and the drivers' constructors return guarded
// values) cleans every path it is given, so "..", empty elements, NUL bytes and
// backslashes never reach storage and nothing outside the root can be named. Drivers
// implement the UFS methods for clean paths only.
//
// # Errors
//
// Every error a method returns is a *fs.PathError whose chain satisfies errors.Is with one
// of fs.ErrNotExist, fs.ErrExist, fs.ErrPermission, fs.ErrInvalid, ErrNotEmpty, ErrNotDir,
// ErrIsDir or ErrNotSupported when the failure is one of those, and keeps the storage
// system's own error in the chain (see WrapErr). Drivers map SDK errors by error code or
// HTTP status (see Classifier), never by message text, and never report an
// authentication failure as fs.ErrNotExist. The one exception to "never by message text"
// is the local driver's os.Root escape, which os reports without a sentinel. A cancelled
// or expired context yields an error satisfying errors.Is with ctx.Err(). The guard makes
// every error a *fs.PathError naming the operation and the rooted path ("/a/b").
package ufs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"
)

// Sentinel errors beyond those of io/fs. The unifiedfs package re-exports them.
var (
	ErrNotEmpty     = errors.New("directory not empty")
	ErrNotDir       = errors.New("not a directory")
	ErrIsDir        = errors.New("is a directory")
	ErrNotSupported = errors.New("operation not supported")
	// ErrChanged: the file at a path is no longer the version a reader asked for (its
	// content hash differs, or it ended before the range that version has).
	ErrChanged = errors.New("file changed: not the version asked for")
)

// WrapErr returns an error that satisfies errors.Is with both sentinel and cause, for
// keeping a driver's own error in the chain: WrapErr(fs.ErrNotExist, sdkErr).
func WrapErr(sentinel, cause error) error {
	if cause == nil || errors.Is(cause, sentinel) {
		if cause == nil {
			return sentinel
		}
		return cause
	}
	return fmt.Errorf("%w: %w", sentinel, cause)
}

// Status describes one UFS entry.
type Status struct {
	Name    string      // base name; Root for the root
	IsDir   bool        // a directory (or, on object stores, a marker or a common prefix)
	Size    int64       // bytes; 0 for directories
	ModTime time.Time   // zero when the store does not know (object-store prefixes)
	Owner   string      // empty when the store has no owners
	Group   string      // empty when the store has no groups
	Mode    fs.FileMode // permission bits only; 0 when the store has none
	// ContentHash changes whenever the content changes: an ETag, a Kodo hash, or
	// "len:<size>,mtime:<t>" on filesystems (nanoseconds on local disk, milliseconds on
	// HDFS, as Alluxio). Empty for directories.
	ContentHash string
}

// Capabilities tells the namespace how a UFS behaves.
type Capabilities struct {
	// Kind names the type of storage ("local", "oss", "kodo", "hdfs", "memory"); it is the
	// UFS tag of fingerprints.
	Kind string
	// ObjectStore is true when directories are implied by key prefixes: an empty directory
	// exists only as a marker object, and renaming a directory copies every key below it.
	ObjectStore bool
	// AtomicRename is true when Rename of a file or directory is atomic.
	AtomicRename bool
	// Owners is true when Status reports owner, group and mode.
	Owners bool
}

// ListOptions selects one page of a listing.
type ListOptions struct {
	// PageToken is empty for the first page, else the NextPageToken of the previous page.
	PageToken string
	// PageSize is the most entries the page may hold; 0 lets the driver choose.
	PageSize int
}

// ListPage is one page of a listing.
type ListPage struct {
	Entries       []Status // sorted by Name (byte order), directories included as entries
	NextPageToken string   // empty when this is the last page
}

// CreateOptions tunes Create.
type CreateOptions struct {
	// Size is the number of bytes that will be written, meaningful when SizeKnown; drivers
	// use it to choose a single upload or a multipart one.
	Size      int64
	SizeKnown bool
	// Mode is the permission of the new file on stores that have modes; 0 means 0644.
	Mode fs.FileMode
}

// Perm returns the permission bits of the new file: Mode's, or 0644 when they are 0.
func (o CreateOptions) Perm() fs.FileMode {
	if m := o.Mode.Perm(); m != 0 {
		return m
	}
	return 0o644
}

// Writer is an upload in progress. Bytes written become visible at the path, all at once,
// only when Close returns nil.
type Writer interface {
	// Write buffers or uploads p. An error is final: the upload is aborted.
	Write(p []byte) (int, error)
	// Close completes the upload and returns its error: a failed upload is never reported
	// as success and leaves nothing (not a partial object, not a temp file) visible at the
	// path. A cancelled context fails Close. Close after Abort or a second Close returns an
	// error wrapping fs.ErrClosed.
	Close() error
	// Abort discards the upload; nothing becomes visible. It is a no-op after Close.
	Abort() error
}

// UFS is an under storage system rooted at the path of the URI it was opened with. All
// methods are safe for concurrent use. A method given an invalid path (see CleanPath)
// returns an error wrapping fs.ErrInvalid without touching storage.
type UFS interface {
	// Stat returns the status of path. Stat(Root) describes the root, which is always a
	// directory when it exists. A missing path: fs.ErrNotExist. On object stores a path is a
	// directory when a marker "path/" exists or any key starts with "path/"; a file wins
	// over a directory of the same name.
	Stat(ctx context.Context, path string) (Status, error)

	// List returns one page of the entries directly below dir, each directory as one
	// entry, in ascending ListKey order across all pages: by name in byte order, where on
	// object stores a directory sorts as its name followed by "/" (the store's key order).
	// It returns at most opts.PageSize entries when that is positive. Pages continue where
	// the previous one ended even when entries were added or removed in between (a token
	// is a position, not a snapshot). A missing dir: fs.ErrNotExist; a file: ErrNotDir
	// (object stores may say fs.ErrNotExist). On object stores a prefix with no marker
	// lists like a directory, the marker object itself is not an entry, and a file and a
	// directory may share a name. Filesystems may list in-flight uploads (IsTempName).
	List(ctx context.Context, dir string, opts ListOptions) (ListPage, error)

	// OpenRange returns a reader of at most n bytes of the file at path starting at byte
	// off; n < 0 reads to the end. An offset at or past the end yields an empty reader
	// (its first Read returns io.EOF), not an error; n == 0 likewise. The reader may
	// return fewer bytes per Read than asked but ends with io.EOF only after the whole
	// range. Missing path: fs.ErrNotExist; a directory: ErrIsDir; off < 0: fs.ErrInvalid.
	// The context governs the whole read: cancelling it fails later Reads.
	OpenRange(ctx context.Context, path string, off, n int64) (io.ReadCloser, error)

	// Create starts an atomic upload to path, replacing an existing file when it
	// completes and creating missing parent directories. On filesystems the data goes to
	// a temporary name (TempName) in the target directory and is renamed into place; on
	// object stores it is a single PUT or a multipart upload. On filesystems, creating over
	// an existing directory fails with ErrIsDir (at Create or at Close); object stores may
	// allow it (the file then wins in Stat). Creating Root fails with fs.ErrInvalid.
	Create(ctx context.Context, path string, opts CreateOptions) (Writer, error)

	// Mkdir creates the directory path and any missing parents. It succeeds when the
	// directory already exists. On filesystems a file in the way fails with fs.ErrExist.
	// On object stores it writes a marker object "path/".
	Mkdir(ctx context.Context, path string) error

	// Remove deletes a file or an empty directory. A missing path: fs.ErrNotExist; a
	// directory with entries: ErrNotEmpty; Root: fs.ErrInvalid.
	Remove(ctx context.Context, path string) error

	// RemoveAll deletes path and everything below it. A missing path is not an error;
	// Root: fs.ErrInvalid (unmount, never wipe a mount).
	RemoveAll(ctx context.Context, path string) error

	// Rename moves a file or a directory (with everything below it) from src to dst,
	// creating dst's missing parents. It never overwrites: an existing dst fails with
	// fs.ErrExist. A missing src: fs.ErrNotExist. dst below src, or either being Root:
	// fs.ErrInvalid. When Capabilities().AtomicRename is false a failure may leave the
	// move half done (object stores copy then delete, key by key); the source keys that
	// remain are never deleted before their copy exists.
	Rename(ctx context.Context, src, dst string) error

	// Capabilities describes the store. It does no I/O.
	Capabilities() Capabilities

	// Close releases connections and background work. Methods called after Close fail.
	Close() error
}

// ListKey is the key List orders entries by: the name, and for directories on object
// stores the name followed by "/".
func ListKey(st Status, objectStore bool) string {
	if objectStore && st.IsDir {
		return st.Name + "/"
	}
	return st.Name
}

// ListAll returns every entry below dir, reading all pages.
func ListAll(ctx context.Context, u UFS, dir string) ([]Status, error) {
	var all []Status
	opts := ListOptions{}
	for {
		page, err := u.List(ctx, dir, opts)
		if err != nil {
			return all, err
		}
		all = append(all, page.Entries...)
		if page.NextPageToken == "" {
			return all, nil
		}
		opts.PageToken = page.NextPageToken
	}
}

// ReadFile reads the whole file at path.
func ReadFile(ctx context.Context, u UFS, path string) ([]byte, error) {
	r, err := u.OpenRange(ctx, path, 0, -1)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// WriteFile uploads data to path through Create and reports Close's error.
func WriteFile(ctx context.Context, u UFS, path string, data []byte) error {
	w, err := u.Create(ctx, path, CreateOptions{Size: int64(len(data)), SizeKnown: true})
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		_ = w.Abort()
		return err
	}
	return w.Close()
}

// VersionReader is implemented by stores that can read one exact version of a file: the
// namespace asks for the version its fingerprint describes, so that a file replaced behind
// it is never read as a mix of two versions.
type VersionReader interface {
	// OpenVersion is OpenRange of the version of the file at path whose Status.ContentHash
	// is hash. When the file has another content hash (it was overwritten), it fails with an
	// error wrapping ErrChanged, at OpenVersion or, on stores that learn the version only
	// from the response, at the first Read; it never returns bytes of another version.
	// A file that ends before off+n (n >= 0) fails the Read that reaches its end with
	// ErrChanged, not io.EOF: the version asked for had those bytes.
	OpenVersion(ctx context.Context, path, hash string, off, n int64) (io.ReadCloser, error)
}

// ChangeCounter is implemented by stores that report changes made below a directory,
// as HDFS's inotify does. Active sync uses it to measure activity; without it, every
// interval counts as quiet.
type ChangeCounter interface {
	// ChangesSince returns how many changes happened at or below dir after cursor (0:
	// since the store was opened) and the cursor of now.
	ChangesSince(ctx context.Context, dir string, cursor uint64) (n int, now uint64, err error)
}

// WrittenStatus returns the status of what the completed upload w stored at path: from the
// writer when it knows (StatWriter), else with one Stat of u.
func WrittenStatus(ctx context.Context, u UFS, path string, w Writer) (Status, error) {
	if sw, ok := w.(StatWriter); ok {
		if st, ok := sw.Written(); ok {
			return st, nil
		}
	}
	return u.Stat(ctx, path)
}

// StatWriter is implemented by writers that know, once Close returned nil, the status of
// what they stored (from the upload's response), sparing the caller a Stat round trip.
type StatWriter interface {
	// Written returns the stored file's status (Name, Size and ContentHash as Stat would
	// report them; ModTime may be zero) and true, or false when Close has not succeeded
	// or the store did not say.
	Written() (Status, bool)
}
