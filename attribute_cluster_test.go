package unifiedfs_test

import (
	"context"
	"testing"
	"time"

	"github.com/unifiedfs/unifiedfs"
)

// SetAttribute from a remote client goes to the leader, which journals it; it is
// exactly-once by its request id, and survives a failover (the new leader replayed it).
func TestClusterForwardsSetAttribute(t *testing.T) {
	c := newHACluster(t, 3, 2*time.Second)
	leader := c.leader(30 * time.Second)
	cl := c.dial(t, 20*time.Second)
	ctx := context.Background()
	if err := cl.WriteFile(ctx, "/ttl", []byte("x"), unifiedfs.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cl.SetAttribute(ctx, "/ttl", unifiedfs.SetAttributeOptions{TTL: ptr(time.Hour), TTLAction: ptr(unifiedfs.TTLFree)}); err != nil {
		t.Fatal(err)
	}
	st, err := cl.GetStatus(ctx, "/ttl")
	if err != nil || st.TTL != time.Hour || st.TTLAction != unifiedfs.TTLFree {
		t.Fatalf("status through the leader: %+v %v", st, err)
	}
	c.kill(leader)
	st, err = cl.GetStatus(ctx, "/ttl")
	if err != nil || st.TTL != time.Hour || st.TTLAction != unifiedfs.TTLFree {
		t.Fatalf("status after the failover: %+v %v", st, err)
	}
}
