package hdfs

import (
	"testing"

	hdfsclient "github.com/colinmarc/hdfs/v2"

	"github.com/unifiedfs/unifiedfs/driver/hdfs/hdfstest"
)

// TestClientInternals guards the one reach into the client's internals (rpc.go): a
// client upgrade that moves its NameNode connection fails here, not in production.
func TestClientInternals(t *testing.T) {
	c := hdfstest.NewCluster(t, hdfstest.Config{})
	cl, err := hdfsclient.NewClient(hdfsclient.ClientOptions{Addresses: []string{c.Addr()}, User: c.User()})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	nn, err := namenodeOf(cl)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := reconnectorOf(cl)
	if err != nil {
		t.Fatal(err)
	}
	rc.reset() // closes the connection: the next call dials again
	if _, err := cl.Stat("/"); err != nil {
		t.Fatalf("a call after reset: %v", err)
	}
	if nn.name != cl.Name() {
		t.Fatalf("client name %q, want %q", nn.name, cl.Name())
	}
	if closed, err := nn.isFileClosed("/"); err == nil || closed {
		t.Fatalf("isFileClosed of the root directory = %v, %v; want the NameNode's FileNotFoundException", closed, err)
	} else if exceptionClass(err) != "java.io.FileNotFoundException" {
		t.Fatalf("isFileClosed of the root directory: %v", err)
	}
}
