package unifiedfs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"

	"github.com/unifiedfs/unifiedfs/internal/inode"
	"github.com/unifiedfs/unifiedfs/ufs"
)

// InconsistencyKind says how the namespace and the UFS differ at a path.
type InconsistencyKind uint8

// Kinds of Inconsistency.
const (
	// MissingInUFS: the namespace holds a persisted entry the UFS no longer has.
	MissingInUFS InconsistencyKind = iota
	// MissingInNamespace: the UFS has an entry in a directory the namespace listed fully,
	// and the namespace does not hold it.
	MissingInNamespace
	// Differs: both have the entry, but its type, size, content hash or owner differ.
	Differs
)

func (k InconsistencyKind) String() string {
	switch k {
	case MissingInUFS:
		return "MISSING_IN_UFS"
	case MissingInNamespace:
		return "MISSING_IN_NAMESPACE"
	case Differs:
		return "DIFFERS"
	}
	return fmt.Sprintf("InconsistencyKind(%d)", uint8(k))
}

// Inconsistency is one difference CheckConsistency found.
type Inconsistency struct {
	Path   string // rooted namespace path
	Kind   InconsistencyKind
	Detail string // what differs, for people
}

// CheckConsistencyOptions tune CheckConsistency.
type CheckConsistencyOptions struct {
	// Repair re-syncs the parents of the entries found (as LoadMetadata with Force), so
	// that a second check finds none of them.
	Repair bool
}

// CheckConsistency compares the namespace with the UFS at and below path, as Alluxio's
// checkConsistency (always recursive): the entries the namespace holds are compared with
// the UFS's, without loading metadata first (which would hide the differences). Entries
// only the namespace has by design (unpersisted, being written, mount points) are never
// reported; directories never listed are not compared for extra UFS entries (loading
// them lazily is not an inconsistency). The result is sorted by path; with Repair the
// differences are fixed before it returns (the list still names them).
func (f *FS) CheckConsistency(ctx context.Context, path string, opts CheckConsistencyOptions) ([]Inconsistency, error) {
	const op = "checkConsistency"
	p, err := clean(op, path)
	if err != nil {
		return nil, err
	}
	if err := f.check(ctx, op, p); err != nil {
		return nil, err
	}
	r, err := f.resolve(ctx, op, p, lookupOpts{noLoad: true})
	if err != nil {
		return nil, err
	}
	var out []Inconsistency
	if err := f.compareEntry(ctx, r, &out); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	if opts.Repair && len(out) > 0 {
		done := map[string]bool{}
		for _, in := range out {
			c, _ := ufs.CleanPath(in.Path)
			dir := c
			if c != ufs.Root {
				dir, _ = ufs.Split(c)
			}
			if done[dir] {
				continue
			}
			done[dir] = true
			if err := f.LoadMetadata(ctx, dir, LoadMetadataOptions{Force: true}); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return out, err
			}
		}
	}
	return out, nil
}

// compareEntry compares the entry r (and, for a directory, what is below it) with the UFS.
func (f *FS) compareEntry(ctx context.Context, r resolved, out *[]Inconsistency) error {
	in := r.node
	if in.Persist() != inode.Persisted || in.Flags&inode.FlagOpen != 0 {
		return nil
	}
	if !in.IsDir() {
		st, err := r.mount.ufs.Stat(ctx, r.ufsPath)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			*out = append(*out, Inconsistency{Path: ufs.Rooted(r.path), Kind: MissingInUFS, Detail: "not in " + r.mount.ufsURI(r.path)})
			return nil
		case err != nil:
			return pathErr("checkConsistency", r.path, err)
		}
		if d := differs(in, st); d != "" {
			*out = append(*out, Inconsistency{Path: ufs.Rooted(r.path), Kind: Differs, Detail: d})
		}
		return nil
	}
	return f.compareDir(ctx, r, out)
}

// compareDir compares the children of the directory r with a listing of its UFS location.
func (f *FS) compareDir(ctx context.Context, r resolved, out *[]Inconsistency) error {
	var sts []ufs.Status
	opts := ufs.ListOptions{}
	for {
		page, err := r.mount.ufs.List(ctx, r.ufsPath, opts)
		if errors.Is(err, fs.ErrNotExist) && r.path != r.mount.Path {
			*out = append(*out, Inconsistency{Path: ufs.Rooted(r.path), Kind: MissingInUFS, Detail: "not in " + r.mount.ufsURI(r.path)})
			return nil
		}
		if err != nil {
			return pathErr("checkConsistency", r.path, err)
		}
		sts = append(sts, page.Entries...)
		if page.NextPageToken == "" {
			break
		}
		opts.PageToken = page.NextPageToken
	}
	inUFS := make(map[string]ufs.Status, len(sts))
	for _, st := range sts {
		if ufs.IsTempName(st.Name) {
			continue
		}
		if prev, ok := inUFS[st.Name]; ok && !prev.IsDir {
			continue // a file wins over a directory of the same name (object stores)
		}
		inUFS[st.Name] = st
	}
	d := r.node.Dir()
	listed := d.SyncedAt.Load() != 0
	for _, c := range d.Children() {
		cp := ufs.Join(r.path, c.Name)
		st, ok := inUFS[c.Name]
		delete(inUFS, c.Name)
		if c.IsMount() {
			if cr, err := f.resolve(ctx, "checkConsistency", cp, lookupOpts{noLoad: true}); err == nil {
				if err := f.compareEntry(ctx, cr, out); err != nil {
					return err
				}
			}
			continue
		}
		if c.Persist() != inode.Persisted || c.Flags&inode.FlagOpen != 0 {
			continue
		}
		if !ok {
			*out = append(*out, Inconsistency{Path: ufs.Rooted(cp), Kind: MissingInUFS, Detail: "not in " + r.mount.ufsURI(cp)})
			continue
		}
		if dd := differs(c, st); dd != "" {
			*out = append(*out, Inconsistency{Path: ufs.Rooted(cp), Kind: Differs, Detail: dd})
			continue
		}
		if c.IsDir() {
			child := resolved{path: cp, node: c, mount: r.mount, ufsPath: ufs.Join(r.ufsPath, c.Name)}
			if err := f.compareDir(ctx, child, out); err != nil {
				return err
			}
		}
	}
	if listed {
		for name, st := range inUFS {
			kind := "file"
			if st.IsDir {
				kind = "directory"
			}
			*out = append(*out, Inconsistency{Path: ufs.Rooted(ufs.Join(r.path, name)), Kind: MissingInNamespace, Detail: kind + " in " + r.mount.ufsURI(ufs.Join(r.path, name)) + " not in the namespace"})
		}
	}
	return nil
}

// differs says how the persisted entry in and the UFS status st differ ("" when they
// agree), by the sync engine's rule (inSync).
func differs(in *inode.Inode, st ufs.Status) string {
	if inSync(in, st) {
		return ""
	}
	switch {
	case in.IsDir() != st.IsDir:
		return fmt.Sprintf("a %s in the namespace, a %s in the UFS", kindName(in.IsDir()), kindName(st.IsDir))
	case !in.IsDir() && in.Size != st.Size:
		return fmt.Sprintf("size %d in the namespace, %d in the UFS", in.Size, st.Size)
	case !in.IsDir() && !in.HashIs(st.ContentHash):
		return fmt.Sprintf("content hash %q in the namespace, %q in the UFS", in.Hash(), st.ContentHash)
	}
	return fmt.Sprintf("owner %s:%s %v in the namespace, %s:%s %v in the UFS", in.Owner.Owner, in.Owner.Group, in.Owner.Mode, st.Owner, st.Group, st.Mode.Perm())
}

func kindName(dir bool) string {
	if dir {
		return "directory"
	}
	return "file"
}
