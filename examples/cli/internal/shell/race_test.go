//go:build race

package shell

// Under "go test -race" the binary the end-to-end tests run is race-enabled too; a race
// in it makes the invocation exit 66 and the test fail.
var raceBuildFlags = []string{"-race"}
