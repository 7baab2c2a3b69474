//go:build !race

package shell

var raceBuildFlags []string
