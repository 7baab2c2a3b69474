package cache

// Tier names of TierOf.
const (
	TierMem  = "MEM"
	TierDisk = "DISK"
)

// TierOf returns the tier that holds block index of generation f.Gen of f.ID: TierMem
// when it is in memory (also when a copy is on disk), TierDisk when only on disk, ""
// when it is not cached.
func (c *Cache) TierOf(f File, index int64) string {
	k := key{f.ID, f.Gen, index}
	c.mu.Lock()
	defer c.mu.Unlock()
	fi := c.files[f.ID]
	if fi == nil {
		return ""
	}
	if _, ok := fi.mem[k]; ok {
		return TierMem
	}
	if _, ok := fi.disk[k]; ok {
		return TierDisk
	}
	return ""
}
