// Package journal makes a sequence of opaque entries durable: an append-only,
// checksummed, group-committed write-ahead log with atomic checkpoints and compaction.
//
// The package knows nothing about what an entry means. The caller (the namespace)
// encodes each mutation, calls Append while holding its own apply lock (so sequence
// order is apply order), and calls Ticket.Wait before reporting the mutation done.
// Concurrent waiters share one fsync (group commit). From time to time the caller
// writes a Checkpoint: a snapshot covering every entry up to a sequence number, after
// which those entries are compacted away. Open recovers the newest valid checkpoint
// and every entry after it.
//
// # Storage
//
// Files live in a Storage: a flat set of named files. NewDirStorage keeps them in a
// local directory (created 0700, files 0600: checkpoints and entries may hold mount
// secrets). NewUFSStorage keeps them in a directory of a filesystem UFS that can append
// (ufs.Appender: file:// on a shared mount, or hdfs://), so that standby processes can
// Replay the leader's journal; it refuses object stores. Exactly one process writes a
// journal: Open takes Storage.Lock and fails with ErrLocked while another holder is
// alive. On local disk the lock is a flock'ed lock file, released by the kernel if the
// holder dies; on a UFS it is the lock file's single appender (a flock, or an HDFS lease
// that frees after its soft limit), and a storage whose UFS can revoke writers
// (ufs.Sealer) implements Sealer, with which the HA layer fences an old leader.
//
// # Format (version 1)
//
// Segment files are named "log-" + the 20-digit zero-padded sequence number of their
// first entry (log-00000000000000000001). A segment is a plain concatenation of records,
// no header; the segment's name is its starting point. Each record is
//
//	offset 0  uint32 LE  length of data (at most MaxRecordSize)
//	offset 4  uint32 LE  CRC-32C (Castagnoli) over bytes 0..3, bytes 8..15 and data
//	offset 8  uint64 LE  sequence number
//	offset 16 data
//
// Sequence numbers start at 1 and are contiguous across segments: segment k+1 starts at
// the sequence number after the last record of segment k.
//
// Checkpoint files are named "checkpoint-" + the 20-digit sequence number they cover.
// They are written with Storage.WriteAtomic and hold a 32-byte header followed by the
// payload:
//
//	offset 0  [8]byte    magic "UFSJCKP1"
//	offset 8  uint64 LE  covered sequence number (must match the name)
//	offset 16 uint64 LE  payload length
//	offset 24 uint32 LE  CRC-32C over bytes 0..23 and the payload
//	offset 28 uint32     zero (reserved)
//
// Names that match neither pattern are ignored.
//
// # Recovery
//
// Open picks the newest checkpoint whose header and checksum are valid; an invalid one is
// logged and removed, and the previous checkpoint (or, when none remains, the empty state
// at sequence 0) is used instead, provided that every entry after it is still present.
// Then it reads the segments from the one holding the first entry after the checkpoint.
// Every record must carry the next sequence number. In the newest segment, a record that
// is partial or fails its checksum, with no valid record after it, is a torn tail: it is
// cut (Storage.Truncate) at the end of the last good record and reported through
// Options.Logf and Recovered.DroppedBytes. Anything else (a bad record followed by a
// good one, a damaged record in an older segment, a gap in the sequence, a missing
// segment) is ErrCorrupt: history is never skipped silently.
//
// # Checkpoints and retention
//
// Checkpoint(snapshot, seq) waits until entries up to seq are durable, rolls to a new
// segment (so later entries never share a segment with covered ones), writes the
// checkpoint atomically, and then removes what is no longer needed. Two checkpoints are
// retained, the newest and the previous one, together with the segments holding entries
// after the previous one, so that a checkpoint found damaged on Open can fall back to
// its predecessor. Disk usage is therefore bounded by about two checkpoint intervals of
// entries plus two snapshots. Every step is crash-safe: a crash between any two storage
// operations leaves either the old or the new checkpoint valid, with every entry after it.
//
// # Failure
//
// A failed write or fsync poisons the Journal: every later Wait and Append reports the
// error (after a failed fsync the page cache can no longer be trusted). Close it and Open
// again; recovery cuts whatever partial record the failure left.
package journal
