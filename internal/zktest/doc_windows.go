// Package zktest runs a real ZooKeeper server for tests, on Unix systems only (the tests
// that use it stop and kill processes with Unix signals).
package zktest
