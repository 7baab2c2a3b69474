//go:build race

package main

// The CLI binary the end-to-end tests run is built with the race detector too.
var raceBuildFlags = []string{"-race"}
