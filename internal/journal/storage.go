package journal

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ErrLocked is wrapped by Open's (and Storage.Lock's) error when another holder has the
// journal locked.
var ErrLocked = errors.New("journal: locked by another process")

// Storage is where journal files live: a local directory (NewDirStorage), or a directory
// of a filesystem UFS (NewUFSStorage: a shared mount or HDFS, for HA). Names are plain file names: no slashes, not starting with a dot
// (dot names are reserved for the storage's own temporary and lock files, which List
// does not return). A Journal calls the methods concurrently (the group-commit writer
// appends while Checkpoint writes and removes other files).
//
// A shared-filesystem implementation for HA must keep these guarantees: Lock excludes
// other writers on every machine and is released (or expires) when its holder dies, and
// it should fence a deposed holder (e.g. HDFS lease recovery on the newest segment) before
// returning; readers that do not lock (Replay) must tolerate files vanishing under them.
type Storage interface {
	// List returns the names of the complete files, in any order.
	List() ([]string, error)
	// Open opens name for reading; the error satisfies errors.Is(err, fs.ErrNotExist)
	// when it is missing.
	Open(name string) (io.ReadCloser, error)
	// Append opens name for appending, creating it (mode 0600) if missing. A file it
	// creates is durably listed (directory synced) before Append returns.
	Append(name string) (AppendFile, error)
	// WriteAtomic replaces name with data so that a crash leaves either the old file or
	// the complete new one: temporary file, fsync, rename, directory fsync (mode 0600).
	WriteAtomic(name string, data []byte) error
	// Truncate durably cuts name to size bytes.
	Truncate(name string, size int64) error
	// Remove deletes name; removing a missing name satisfies errors.Is(err, fs.ErrNotExist).
	Remove(name string) error
	// Lock takes the storage's exclusive writer lock without blocking; the error wraps
	// ErrLocked when another holder has it. The lock must be released when the holder
	// dies (on local disk: flock, which the kernel drops with the process). unlock
	// releases it.
	Lock() (unlock func() error, err error)
}

// AppendFile is a file opened by Storage.Append: writes go to its end.
type AppendFile interface {
	io.Writer
	// Sync makes every byte written so far durable.
	Sync() error
	Close() error
}

// lockName is the lock file inside a DirStorage directory.
const lockName = ".lock"

// tmpPrefix starts the names of WriteAtomic's temporary files.
const tmpPrefix = ".tmp-"

// dirStorage is a Storage in a local directory.
type dirStorage struct {
	dir string
}

// NewDirStorage returns a Storage keeping its files in dir, creating dir (mode 0700) if it
// is missing. Existing directories keep their mode; files are always created 0600.
func NewDirStorage(dir string) (Storage, error) {
	if dir == "" {
		return nil, fmt.Errorf("journal: empty directory name")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("journal: %s is not a directory", dir)
	}
	return &dirStorage{dir: dir}, nil
}

// String names the directory (for log lines).
func (d *dirStorage) String() string { return d.dir }

// checkName refuses a name that is not a plain file name of the journal's own.
func checkName(op, name string) error {
	if name == "" || strings.HasPrefix(name, ".") || strings.ContainsAny(name, `/\`) || name != filepath.Base(name) {
		return &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	return nil
}

func (d *dirStorage) path(op, name string) (string, error) {
	if err := checkName(op, name); err != nil {
		return "", err
	}
	return filepath.Join(d.dir, name), nil
}

func (d *dirStorage) List() ([]string, error) {
	ents, err := os.ReadDir(d.dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

func (d *dirStorage) Open(name string) (io.ReadCloser, error) {
	p, err := d.path("open", name)
	if err != nil {
		return nil, err
	}
	return os.Open(p)
}

func (d *dirStorage) Append(name string) (AppendFile, error) {
	p, err := d.path("append", name)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		if err := d.syncDir(); err != nil {
			f.Close()
			return nil, err
		}
		return f, nil
	}
	if !errors.Is(err, fs.ErrExist) {
		return nil, err
	}
	return os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
}

func (d *dirStorage) WriteAtomic(name string, data []byte) (err error) {
	p, err := d.path("write", name)
	if err != nil {
		return err
	}
	tmp := filepath.Join(d.dir, tmpPrefix+name)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err = f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, p); err != nil {
		return err
	}
	return d.syncDir()
}

func (d *dirStorage) Truncate(name string, size int64) error {
	p, err := d.path("truncate", name)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (d *dirStorage) Remove(name string) error {
	p, err := d.path("remove", name)
	if err != nil {
		return err
	}
	return os.Remove(p)
}

// Lock flocks the lock file (.lock, 0600, holding the holder's pid for diagnostics) and,
// once held, removes temporary files a crashed WriteAtomic left behind.
func (d *dirStorage) Lock() (func() error, error) {
	unlock, err := lockFile(filepath.Join(d.dir, lockName))
	if err != nil {
		return nil, err
	}
	ents, _ := os.ReadDir(d.dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), tmpPrefix) {
			os.Remove(filepath.Join(d.dir, e.Name()))
		}
	}
	return unlock, nil
}

// syncDir makes directory entries (creations, renames) durable.
func (d *dirStorage) syncDir() error {
	f, err := os.Open(d.dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// LockDir takes the lock of the journal in dir, as Open does, for tools that must keep
// every process off a journal while they change it (format). It fails with an error
// wrapping ErrLocked while a process has the journal open.
func LockDir(dir string) (unlock func() error, err error) {
	st, err := NewDirStorage(dir)
	if err != nil {
		return nil, err
	}
	return st.Lock()
}

// IsLockFile reports whether name is the journal's lock file (which LockDir's holder keeps).
func IsLockFile(name string) bool { return name == lockName }
