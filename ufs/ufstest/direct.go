package ufstest

import (
	"bytes"
	"io/fs"
	"sort"
	"strings"
	"time"

	"github.com/unifiedfs/unifiedfs/ufs"
)

// Direct changes a MemFS "out of band", as another program writing to the same storage
// would: no counters, no log, no faults. Paths are clean UFS paths; bad ones panic (they
// are test code's mistakes).
type Direct struct{ m *MemFS }

// Direct returns out-of-band access to m.
func (m *MemFS) Direct() Direct { return Direct{m} }

func mustClean(p string) string {
	c, err := ufs.CleanPath(p)
	if err != nil {
		panic(err)
	}
	return c
}

// Put writes a file (creating parent directories on the filesystem flavor).
func (d Direct) Put(p string, data []byte) { d.PutAt(p, data, time.Time{}) }

// PutAt writes a file with the given modification time (the clock's when zero).
func (d Direct) PutAt(p string, data []byte, mtime time.Time) {
	c := mustClean(p)
	m := d.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if mtime.IsZero() {
		mtime = m.clock()
	}
	if dir, _ := ufs.Split(c); dir != ufs.Root {
		m.mkdirs(dir)
	}
	data = bytes.Clone(data)
	m.put(c, &object{data: data, mtime: mtime, hash: hashOf(data), owner: "memory", group: "memory", mode: 0o644})
}

// Mkdir creates a directory (a marker on the object-store flavor).
func (d Direct) Mkdir(p string) {
	c := mustClean(p)
	m := d.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.flavor == ObjectStore {
		m.put(c+"/", &object{dir: true, mtime: m.clock()})
		return
	}
	m.mkdirs(c)
}

// Delete removes a file or a directory tree; it reports whether anything was there.
func (d Direct) Delete(p string) bool {
	c := mustClean(p)
	m := d.m
	m.mu.Lock()
	defer m.mu.Unlock()
	n := len(m.objs)
	m.removeAll(c)
	m.del(c + "/")
	return len(m.objs) != n
}

// Chown sets owner, group and mode of an existing entry (a metadata-only change).
func (d Direct) Chown(p, owner, group string, mode fs.FileMode) bool {
	c := mustClean(p)
	m := d.m
	m.mu.Lock()
	defer m.mu.Unlock()
	key := c
	o, ok := m.objs[key]
	if !ok {
		key = c + "/"
		o, ok = m.objs[key]
	}
	if ok {
		cp := *o
		cp.owner, cp.group, cp.mode = owner, group, mode.Perm()
		m.objs[key] = &cp
		m.noteChange(key)
	}
	return ok
}

// Get returns a file's bytes.
func (d Direct) Get(p string) ([]byte, bool) {
	c := mustClean(p)
	d.m.mu.Lock()
	defer d.m.mu.Unlock()
	o, ok := d.m.objs[c]
	if !ok || o.dir {
		return nil, false
	}
	return bytes.Clone(o.data), true
}

// Exists reports whether p is a file or a directory.
func (d Direct) Exists(p string) bool {
	c := mustClean(p)
	d.m.mu.Lock()
	defer d.m.mu.Unlock()
	_, ok := d.m.lookup(c)
	return ok
}

// Keys returns every stored key, sorted ("dir/" for directories and markers).
func (d Direct) Keys() []string {
	d.m.mu.Lock()
	defer d.m.mu.Unlock()
	return append([]string(nil), d.m.keys()...)
}

// Files returns the paths of every file below (or at) p, sorted.
func (d Direct) Files(p string) []string {
	c := mustClean(p)
	var out []string
	for _, k := range d.Keys() {
		if !strings.HasSuffix(k, "/") && ufs.IsWithin(k, c) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
