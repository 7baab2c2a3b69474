package journal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/unifiedfs/unifiedfs/ufs"
)

// Sealer is implemented by storages whose UFS can revoke another process's writers
// (ufs.Sealer: HDFS lease recovery). The HA layer calls Seal as the newly elected leader,
// before Open, to fence the old one.
type Sealer interface {
	// Seal revokes every other writer of the journal: the holder of its writer lock and
	// the writer of any of its files, in any process, and makes every file's length
	// final. A sealed holder's next Sync of a segment fails (its journal fails), and so
	// does any later Append, WriteAtomic, Truncate or Remove through its storage (an error
	// wrapping ErrLocked); entries it synced before stay. A Lock held through this very
	// storage is revoked too: call Seal before Open.
	Seal() error
}

// lockRecordMax bounds how much of a lock file is read to name its holder.
const lockRecordMax = 4 << 10

// ufsStorage is a Storage in a directory of a UFS that implements ufs.Appender.
type ufsStorage struct {
	u    ufs.UFS
	app  ufs.Appender
	seal ufs.Sealer // nil when the UFS cannot revoke writers (local disk)
	dir  string     // clean UFS path of the journal directory
	ctx  context.Context

	mu   sync.Mutex       // serializes use of lock, an AppendWriter
	lock ufs.AppendWriter // the writer lock while held through this storage
}

// NewUFSStorage returns a Storage keeping its files in dir (a path of u, created when
// missing), for a journal on shared storage: file:// on a shared mount, or hdfs://.
// The UFS must be a filesystem implementing ufs.Appender: an object store cannot append
// or flush, and is refused with an error saying so.
//
// Files are created 0600 (Append and Create with that mode); temporary files are the
// UFS's own (ufs.TempName), which List skips. On file:// the UFS must be opened with
// local.fsync=true (the default), or checkpoints are not durable; on hdfs:// segments are
// hsync'ed (ufs.AppendWriter.Sync) and checkpoints are as durable as any HDFS file
// (replicated). When the UFS implements ufs.Sealer the storage implements Sealer.
//
// Lock is the Appender's single writer, taken on the lock file ".lock" in dir: an
// AppendWriter kept open for as long as the lock is held, holding the holder's pid, host
// and start time (named in ErrLocked errors). On local disk and NFS that is a flock,
// which the kernel drops when the holder dies; on HDFS it is the lock file's lease, which
// the holder's client renews, and which frees once it has not been renewed for the soft
// limit (60 s by default): a crashed holder's lock is taken by the next Lock after that,
// without waiting for the HA layer. Once held, Lock seals (ufs.Sealer) every file of the
// journal, so that a former holder cannot land a late write in a segment the new holder
// recovers, and removes temporary files a crashed WriteAtomic left behind. Every
// mutation made through a storage holding the lock (Append, WriteAtomic, Truncate,
// Remove) first checks that the lock is still its own (a Sync of the lock file: on HDFS
// the NameNode checks the lease), so that a holder sealed by the HA layer stops changing
// the journal; the check and the change are two steps, so a seal landing between them
// is caught by the next one. Epochs remain the HA layer's fence for entries.
func NewUFSStorage(u ufs.UFS, dir string) (Storage, error) {
	if u == nil {
		return nil, errors.New("journal: nil UFS")
	}
	caps := u.Capabilities()
	if caps.ObjectStore {
		return nil, fmt.Errorf("journal: %s is an object store: object stores cannot append or flush: the journal needs a filesystem: file:// on a shared mount, or hdfs://", caps.Kind)
	}
	app, ok := u.(ufs.Appender)
	if !ok {
		return nil, fmt.Errorf("journal: the %s UFS cannot append or flush files (it does not implement ufs.Appender): the journal needs a filesystem: file:// on a shared mount, or hdfs://", caps.Kind)
	}
	c, err := ufs.CheckPath("journal", dir)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	ctx := context.Background()
	if err := u.Mkdir(ctx, c); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	s := &ufsStorage{u: u, app: app, dir: c, ctx: ctx}
	if sealer, ok := u.(ufs.Sealer); ok {
		s.seal = sealer
		return sealingStorage{s}, nil
	}
	return s, nil
}

// sealingStorage is a ufsStorage whose UFS can seal: it implements Sealer.
type sealingStorage struct{ *ufsStorage }

// String names the UFS kind and directory (for log lines).
func (s *ufsStorage) String() string { return s.u.Capabilities().Kind + ":" + ufs.Rooted(s.dir) }

func (s *ufsStorage) path(op, name string) (string, error) {
	if err := checkName(op, name); err != nil {
		return "", err
	}
	return ufs.CheckPath(op, ufs.Join(s.dir, name))
}

func (s *ufsStorage) List() ([]string, error) {
	ents, err := ufs.ListAll(s.ctx, s.u, s.dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		if !e.IsDir && !strings.HasPrefix(e.Name, ".") {
			names = append(names, e.Name)
		}
	}
	return names, nil
}

func (s *ufsStorage) Open(name string) (io.ReadCloser, error) {
	p, err := s.path("open", name)
	if err != nil {
		return nil, err
	}
	return s.u.OpenRange(s.ctx, p, 0, -1)
}

// OpenAt implements RangeOpener.
func (s *ufsStorage) OpenAt(name string, off int64) (io.ReadCloser, error) {
	p, err := s.path("open", name)
	if err != nil {
		return nil, err
	}
	return s.u.OpenRange(s.ctx, p, off, -1)
}

func (s *ufsStorage) Append(name string) (AppendFile, error) {
	p, err := s.path("append", name)
	if err != nil {
		return nil, err
	}
	if err := s.fence("append", name); err != nil {
		return nil, err
	}
	return s.app.Append(s.ctx, p)
}

func (s *ufsStorage) WriteAtomic(name string, data []byte) error {
	p, err := s.path("write", name)
	if err != nil {
		return err
	}
	if err := s.fence("write", name); err != nil {
		return err
	}
	w, err := s.u.Create(s.ctx, p, ufs.CreateOptions{Size: int64(len(data)), SizeKnown: true, Mode: 0o600})
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		_ = w.Abort()
		return err
	}
	return w.Close()
}

func (s *ufsStorage) Truncate(name string, size int64) error {
	p, err := s.path("truncate", name)
	if err != nil {
		return err
	}
	if err := s.fence("truncate", name); err != nil {
		return err
	}
	return s.app.Truncate(s.ctx, p, size)
}

func (s *ufsStorage) Remove(name string) error {
	p, err := s.path("remove", name)
	if err != nil {
		return err
	}
	if err := s.fence("remove", name); err != nil {
		return err
	}
	return s.u.Remove(s.ctx, p)
}

// fence fails when this storage took the lock and it is no longer its own.
func (s *ufsStorage) fence(op, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lock == nil {
		return nil
	}
	if err := s.lock.Sync(); err != nil {
		return &fs.PathError{Op: op, Path: name, Err: fmt.Errorf("%w: the journal's lock was revoked: %w", ErrLocked, err)}
	}
	return nil
}

// Lock takes the lock file's single appender (see NewUFSStorage).
func (s *ufsStorage) Lock() (func() error, error) {
	p := ufs.Join(s.dir, lockName)
	// Cut the previous holder's record; refused while a holder has the file open.
	if err := s.app.Truncate(s.ctx, p, 0); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, s.lockErr(p, err)
	}
	w, err := s.app.Append(s.ctx, p)
	if err != nil {
		return nil, s.lockErr(p, err)
	}
	host, _ := os.Hostname()
	if _, err := fmt.Fprintf(w, "pid %d on %s since %s\n", os.Getpid(), host, time.Now().UTC().Format(time.RFC3339)); err == nil {
		err = w.Sync()
	}
	if err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("journal: lock %s: %w", p, err)
	}
	if err := s.afterLock(); err != nil {
		_ = w.Close()
		return nil, err
	}
	s.mu.Lock()
	s.lock = w
	s.mu.Unlock()
	return func() error {
		s.mu.Lock()
		s.lock = nil
		s.mu.Unlock()
		return w.Close()
	}, nil
}

// afterLock fences former holders and removes temporary files they left.
func (s *ufsStorage) afterLock() error {
	ents, err := ufs.ListAll(s.ctx, s.u, s.dir)
	if err != nil {
		return fmt.Errorf("journal: lock: %w", err)
	}
	for _, e := range ents {
		switch p := ufs.Join(s.dir, e.Name); {
		case e.IsDir:
		case ufs.IsTempName(e.Name):
			_ = s.u.Remove(s.ctx, p)
		case s.seal != nil && e.Name != lockName:
			if err := s.seal.Seal(s.ctx, p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("journal: lock: fence former writers: %w", err)
			}
		}
	}
	return nil
}

// lockErr turns a refused Truncate or Append of the lock file into ErrLocked, naming the
// holder from its record.
func (s *ufsStorage) lockErr(p string, err error) error {
	if !errors.Is(err, ufs.ErrBusy) {
		return fmt.Errorf("journal: lock %s: %w", p, err)
	}
	holder := ""
	if r, rerr := s.u.OpenRange(s.ctx, p, 0, lockRecordMax); rerr == nil {
		b, _ := io.ReadAll(r)
		r.Close()
		lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
		if last := strings.TrimSpace(string(lines[len(lines)-1])); last != "" {
			holder = " (" + last + ")"
		}
	}
	return fmt.Errorf("%w: %s%s: %w", ErrLocked, p, holder, err)
}

// Seal implements Sealer: it seals the lock file, then every file of the journal.
func (s sealingStorage) Seal() error {
	ents, err := ufs.ListAll(s.ctx, s.u, s.dir)
	if err != nil {
		return fmt.Errorf("journal: seal: %w", err)
	}
	for _, e := range ents {
		if e.IsDir || ufs.IsTempName(e.Name) {
			continue
		}
		if err := s.seal.Seal(s.ctx, ufs.Join(s.dir, e.Name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("journal: seal: %w", err)
		}
	}
	return nil
}
