package unifiedfs

import (
	"context"
	"errors"
	"io/fs"
	"time"

	"github.com/unifiedfs/unifiedfs/internal/namespace"
	"github.com/unifiedfs/unifiedfs/ufs"
)

// TTLs, as Alluxio's: an entry's TTL counts from the moment it was set (for a file given
// Config.CreateTTL, its creation: the same instant, journaled with the file), so it
// expires at that time + TTL. The namespace indexes the entries with a TTL in buckets of
// Config.TTLCheckInterval by expiry time (Alluxio's TtlBucketList); every interval the
// leader (or single process) visits only the buckets that ended and applies each expired
// entry's action: TTLDelete removes it from the namespace and its UFS as Delete does
// (a directory recursively), TTLFree drops its cached blocks as Free does and then clears
// the TTL. TTLs are journaled and in snapshots, so the index is rebuilt on restart and on
// failover by replay; the clock is Config.Clock.

// createAttr returns the attributes a new file gets from Config.CreateTTL, or nil.
func (f *FS) createAttr() *namespace.AttrRecord {
	if f.cfg.CreateTTL <= 0 {
		return nil
	}
	return &namespace.AttrRecord{Set: namespace.AttrTTL | namespace.AttrTTLAction,
		TTL: int64(f.cfg.CreateTTL), TTLBase: f.now().UnixNano(), TTLAction: uint8(f.cfg.CreateTTLAction)}
}

// startTTLChecker runs CheckTTL every Config.TTLCheckInterval until the FS closes.
func (f *FS) startTTLChecker() {
	if f.remote != nil {
		return
	}
	go func() {
		t := time.NewTicker(f.cfg.TTLCheckInterval)
		defer t.Stop()
		for {
			select {
			case <-f.ctx.Done():
				return
			case <-t.C:
				if f.ha != nil && f.ha.role() != Leader {
					continue // the leader applies TTLs; standbys replay what it did
				}
				if err := f.CheckTTL(f.ctx); err != nil && f.ctx.Err() == nil {
					f.log.Warn("unifiedfs: TTL check", "err", err)
				}
			}
		}
	}()
}

// CheckTTL applies the action of every TTL expired by now (Config.Clock), as the
// background checker does every Config.TTLCheckInterval, and returns the errors of the
// actions that failed (joined; those entries are tried again at the next check). It is
// for tests and for callers that want expiry applied at once. On a standby it does
// nothing: the leader applies TTLs.
func (f *FS) CheckTTL(ctx context.Context) error {
	if err := f.check(ctx, "checkTTL", ufs.Root); err != nil {
		return err
	}
	if f.remote != nil || f.ha != nil && f.ha.role() != Leader {
		return nil
	}
	now := f.now().UnixNano()
	var errs []error
	for _, p := range f.ns().DueTTL(now) {
		a, ok := f.ns().AttrOf(p)
		if !ok || a.TTL <= 0 || a.Expiry() > now {
			continue
		}
		if err := f.expire(ctx, p, TTLAction(a.TTLAction)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// expire applies action to the entry at p whose TTL ended.
func (f *FS) expire(ctx context.Context, p string, action TTLAction) error {
	_, err := f.resolve(ctx, "checkTTL", p, lookupOpts{})
	if errors.Is(err, fs.ErrNotExist) {
		// Gone (out of band in the UFS): the TTL has nothing left to act on.
		return f.apply(&namespace.Entry{Op: namespace.OpSetAttr, Path: p, Attr: &namespace.AttrRecord{Set: namespace.AttrUnsetTTL}}, nil)
	}
	if err != nil {
		return err
	}
	switch action {
	case TTLFree:
		if err := f.Free(ctx, p, FreeOptions{Force: true}); err != nil { // as Alluxio's checker: pinned too
			return err
		}
		return f.SetAttribute(ctx, p, SetAttributeOptions{UnsetTTL: true})
	default:
		err := f.Delete(ctx, p, DeleteOptions{Recursive: true})
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
}
