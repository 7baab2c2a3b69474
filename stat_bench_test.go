package unifiedfs_test

import (
	"fmt"
	"testing"

	"github.com/unifiedfs/unifiedfs"
	"github.com/unifiedfs/unifiedfs/ufs/ufstest"
)

func BenchmarkStatSamePath(b *testing.B) {
	var stores ufstest.Stores
	m := stores.Add("b", ufstest.ObjectStore)
	for i := 0; i < 16; i++ {
		m.Direct().Put(fmt.Sprintf("year=2010/month=01/day=02/hour=03/part-%05d-c000.snappy.parquet", i), []byte("x"))
	}
	fsys, _ := unifiedfs.New(ctx, unifiedfs.Config{RootUFS: "mem://b/", Registry: stores.Registry()})
	defer fsys.Close()
	p := "year=2010/month=01/day=02/hour=03/part-00007-c000.snappy.parquet"
	fsys.Stat(p)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		fsys.Stat(p)
	}
}
