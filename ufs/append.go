package ufs

import (
	"context"
	"errors"
	"io"
)

// ErrBusy is wrapped by the error of Append or Truncate when another writer has the file
// open for appending (on HDFS: holds its lease), and of any call on a file whose lease is
// being recovered. It is transient: the call succeeds once that writer closes, dies (its
// lease expires) or is sealed (Sealer).
var ErrBusy = errors.New("file is being written by another writer")

// Appender is implemented by filesystem-kind stores whose files can grow in place: local
// disk and HDFS. Object stores cannot append or flush and never implement it. A journal
// keeps its segments on an Appender.
type Appender interface {
	// Append opens the file at path for appending, creating it (mode 0600: appended files
	// are logs, which may hold secrets) and its missing parents when it is missing; a file
	// it creates is durably listed in its directory before Append returns. At most one
	// AppendWriter per file exists at a time, across processes and machines: while
	// another one is open (on HDFS: while its holder's lease lives), Append fails with an
	// error wrapping ErrBusy that names the holder where the store knows it. A directory
	// at path: ErrIsDir; Root or an invalid path: fs.ErrInvalid. The context governs
	// Append and the writer's life: once it is done, Write, Sync and Close fail (bytes
	// already synced stay).
	Append(ctx context.Context, path string) (AppendWriter, error)

	// Truncate durably cuts the file at path to size bytes; it returns once the new
	// length is final and visible to every reader. A size larger than the file, or
	// negative, fails with fs.ErrInvalid (nothing changes); a missing file fs.ErrNotExist;
	// a directory ErrIsDir. A file open in an AppendWriter fails with ErrBusy.
	Truncate(ctx context.Context, path string, size int64) error
}

// AppendWriter is a file opened by Appender.Append: every Write goes to its end. Its
// methods are not safe for concurrent use (one goroutine at a time, as an io.Writer).
// Unlike Writer, bytes are not staged: what Sync made durable stays in the file whatever
// happens to the writer later.
type AppendWriter interface {
	// Write appends p, possibly buffering it. An error is final: every later call fails.
	io.Writer
	// Sync makes every byte written so far durable and visible to readers in other
	// processes, which see the file's new length: fsync on local disk; on HDFS the
	// packets are sent with the DataNode's sync flag, acknowledged, and the length is
	// published to the NameNode (hflush+hsync). A writer whose file was sealed fails.
	Sync() error
	// Close syncs what is left and releases the file for another appender. A second
	// Close, or a call after Close, fails with an error wrapping fs.ErrClosed.
	Close() error
}

// Sealer is implemented by stores that can revoke another writer of a file: HDFS, by
// lease recovery. Local disk cannot take a file away from a process that has it open, so
// its driver does not implement Sealer; there, exclusion rests on Appender's single
// writer (a lock the kernel drops with a dead process) and on the caller's own fencing.
type Sealer interface {
	// Seal revokes any AppendWriter of the file at path, in this process or another, and
	// makes the file's length final, waiting until the store has closed the file. The
	// sealed writer's next Sync and its Close fail (a Write may still be taken into its
	// buffer), and nothing it writes afterwards becomes visible; bytes it had synced
	// stay, and so may bytes it sent but whose Sync had not returned. Sealing a closed
	// file is a no-op. A missing file: fs.ErrNotExist; a directory: ErrIsDir.
	Seal(ctx context.Context, path string) error
}
