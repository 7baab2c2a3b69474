//go:build !race

package main

var raceBuildFlags []string
