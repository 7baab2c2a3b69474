package cache

import "errors"

// Writer stores content produced by the application, cutting it into blocks
// of BlockSize. It is not safe for concurrent use.
type Writer struct {
	c        *Cache
	id, gen  uint64
	pin      bool
	buf      []byte // the block being filled
	idx      int64  // index of buf's block
	reserved int64  // pinned bytes reserved for buf
	stored   []key
	err      error // sticky
	done     bool
	dropped  bool // set by Drop; guarded by Cache.mu
}

// NewWriter returns a Writer of generation f.Gen of file f.ID (f.Size is
// ignored). With pin, its blocks are pinned until Unpin or Drop; without, they
// are ordinary cached blocks.
func (c *Cache) NewWriter(f File, pin bool) *Writer {
	w := &Writer{c: c, id: f.ID, gen: f.Gen, pin: pin}
	c.mu.Lock()
	c.writers[w] = struct{}{}
	c.mu.Unlock()
	return w
}

// Write appends p. For a pinned writer it first reserves len(p) bytes and
// fails, accepting nothing, with an error wrapping ErrNoSpace when pinned
// bytes would exceed the capacity. After any other error the writer is
// failed: Close returns the error and drops what was written.
func (w *Writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, ErrClosed
	}
	if w.err != nil {
		return 0, w.err
	}
	c := w.c
	if w.pin && len(p) > 0 {
		c.mu.Lock()
		if w.dropped || c.closed {
			c.mu.Unlock()
			return 0, w.deadErr()
		}
		victims, err := c.reservePinned(w.id, int64(len(p)))
		c.mu.Unlock()
		removeAll(victims)
		if err != nil {
			return 0, err
		}
		w.reserved += int64(len(p))
	}
	n := 0
	for n < len(p) {
		if w.buf == nil {
			w.buf = c.getBuf(c.bs)[:0]
		}
		m := copy(w.buf[len(w.buf):cap(w.buf)], p[n:])
		w.buf = w.buf[:len(w.buf)+m]
		n += m
		if int64(len(w.buf)) == c.bs {
			if err := w.flush(); err != nil {
				w.err = err
				return n, err
			}
		}
	}
	return n, nil
}

func (w *Writer) deadErr() error {
	if w.dropped {
		return ErrDropped
	}
	return ErrClosed
}

// flush stores the buffered block. Pinned blocks go to the disk tier (written
// durably) when there is one, else to memory.
func (w *Writer) flush() error {
	c := w.c
	data := w.buf
	w.buf = nil
	if len(data) < cap(data) {
		full := data
		data = append([]byte(nil), data...) // keep only what the block holds
		c.putBuf(full)
	}
	n := int64(len(data))
	k := key{w.id, w.gen, w.idx}
	var e *diskEntry
	if w.pin && c.disk != nil {
		seq := c.disk.seq.Add(1)
		path, err := writeBlockFile(c.disk.dir, k, seq, true, true, data)
		if err != nil {
			return err
		}
		e = &diskEntry{k: k, size: n, seq: seq, pinned: true, path: path}
	}
	c.mu.Lock()
	if w.dropped || c.closed {
		c.mu.Unlock()
		if e != nil {
			e.removeFile()
		}
		c.putBuf(data)
		return w.deadErr()
	}
	b := newBlock(data, 1)
	switch {
	case e != nil:
		c.disk.insert(e) // the reservation moves to the stored block
		c.memAdd(k, b)
	case w.pin:
		c.pinAdd(k, b)
	default:
		c.memAdd(k, b)
	}
	if w.pin {
		w.reserved -= n
	}
	w.stored = append(w.stored, k)
	w.idx++
	var victims []*diskEntry
	if c.disk != nil {
		victims = c.disk.takeVictims()
	}
	c.mu.Unlock()
	removeAll(victims)
	return nil
}

// Close stores the last partial block and ends the writer. With a disk tier,
// pinned blocks are on disk and fsynced when Close returns. If the writer
// failed or its file was dropped, Close drops what was written and returns
// the error.
func (w *Writer) Close() error {
	if w.done {
		if w.err != nil {
			return w.err
		}
		return nil
	}
	if w.err == nil && len(w.buf) > 0 {
		w.err = w.flush()
	}
	if w.err == nil {
		w.c.mu.Lock()
		if w.dropped {
			w.err = ErrDropped
		}
		w.c.mu.Unlock()
	}
	if w.err != nil {
		err := w.err
		w.Abort()
		w.err = err
		return err
	}
	w.done = true
	w.c.mu.Lock()
	delete(w.c.writers, w)
	w.c.mu.Unlock()
	return nil
}

// Abort drops every block written so far and releases the writer's
// reservations; nothing it wrote stays pinned.
func (w *Writer) Abort() {
	c := w.c
	w.done = true
	if w.buf != nil {
		c.putBuf(w.buf)
		w.buf = nil
	}
	c.mu.Lock()
	for _, k := range w.stored {
		c.removeBlock(k)
	}
	w.stored = nil
	c.pinBytes -= w.reserved
	w.reserved = 0
	delete(c.writers, w)
	var victims []*diskEntry
	if c.disk != nil {
		victims = c.disk.takeVictims()
	}
	c.mu.Unlock()
	removeAll(victims)
	if w.err == nil {
		w.err = errors.New("cache: writer aborted")
	}
}

func removeAll(es []*diskEntry) {
	for _, e := range es {
		e.removeFile()
	}
}
