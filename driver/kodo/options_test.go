package kodo

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"
	"time"

	"github.com/unifiedfs/unifiedfs/ufs"
)

func baseOptions() map[string]string {
	return map[string]string{
		OptAccessKey: "ak", OptSecretKey: "sk", OptDownloadHost: "dl.example.com", OptEndpoint: "z1",
	}
}

func TestRegionAbbreviations(t *testing.T) {
	for abbr, host := range map[string]string{
		"z0": "iovip.qbox.me", "z1": "iovip-z1.qbox.me", "z2": "iovip-z2.qbox.me",
		"na0": "iovip-na0.qbox.me", "as0": "iovip-as0.qbox.me", "Z1": "iovip-z1.qbox.me",
	} {
		t.Run(abbr, func(t *testing.T) {
			got, err := endpointURL(abbr, true)
			if err != nil || got != "https://"+host {
				t.Errorf("endpoint %q = %q, %v; want https://%s", abbr, got, err, host)
			}
		})
	}
	for in, want := range map[string]string{
		"iovip-z1.qbox.me":        "http://iovip-z1.qbox.me",
		"127.0.0.1:9000":          "http://127.0.0.1:9000",
		"https://io.example.com/": "https://io.example.com",
	} {
		t.Run(in, func(t *testing.T) {
			if got, err := endpointURL(in, false); err != nil || got != want {
				t.Errorf("endpoint %q = %q, %v; want %q", in, got, err, want)
			}
		})
	}
	for _, bad := range []string{"ftp://x", "http://", "a/b", "http://h/p"} {
		if _, err := endpointURL(bad, true); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("endpoint %q: %v, want fs.ErrInvalid", bad, err)
		}
	}
}

func TestParseConfig(t *testing.T) {
	uri := ufs.URI{Scheme: "kodo", Authority: "b", Path: "d"}
	cfg, err := parseConfig(uri, ufs.NewOptions(baseOptions()))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.endpoint != "https://iovip-z1.qbox.me" || cfg.downloadHost != "dl.example.com" || !cfg.useHTTPS ||
		cfg.partSize != 4<<20 || cfg.threshold != 4<<20 || cfg.concurrency != 4 || cfg.net.Policy.Attempts != 4 ||
		cfg.pageSize != 1000 || cfg.tokenTTL != 24*time.Hour || cfg.cacheFile != "" {
		t.Fatalf("defaults: %+v", cfg)
	}
	m := baseOptions()
	m[OptDownloadHost] = "http://dl.example.com/"
	m[OptUCHost] = "uc1, http://uc2:80 ,"
	m[OptPartSize] = "8MB"
	m[OptRetries] = "0"
	m[OptHTTPS] = "false"
	m[OptRetryInterval] = "7ms"
	m[OptResponseTimeout] = "3s"
	cfg, err = parseConfig(uri, ufs.NewOptions(m))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.downloadHost != "dl.example.com" || len(cfg.ucHosts) != 2 || cfg.ucHosts[1] != "http://uc2:80" ||
		cfg.partSize != 8<<20 || cfg.net.Policy.Attempts != 1 || cfg.endpoint != "http://iovip-z1.qbox.me" {
		t.Fatalf("parsed: %+v", cfg)
	}
	if cfg.net.Policy.BaseDelay != 7*time.Millisecond || cfg.net.ResponseTimeout != 3*time.Second {
		t.Fatalf("Kodo's own keys as aliases of the shared ones: %+v", cfg.net)
	}
	for key, bad := range map[string]string{
		OptPartSize:              "512KB", // below Kodo's 1 MiB minimum
		OptPageSize:              "1001",
		OptConcurrency:           "0",
		OptHTTPS:                 "maybe",
		OptTokenTTL:              "1s",
		OptRetries:               "-1",
		"unifiedfs.idle.timeout": "0",
	} {
		t.Run(key, func(t *testing.T) {
			m := baseOptions()
			m[key] = bad
			if _, err := parseConfig(uri, ufs.NewOptions(m)); !errors.Is(err, fs.ErrInvalid) {
				t.Errorf("%s=%s: %v, want fs.ErrInvalid", key, bad, err)
			}
		})
	}
}

func TestPartSizeGrowsForHugeFiles(t *testing.T) {
	f, err := newFS(ufs.URI{Scheme: "kodo", Authority: "b", Path: ufs.Root}, ufs.NewOptions(baseOptions()))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for size, want := range map[int64]int64{
		1 << 30:            4 << 20,     // fits in 10000 parts of 4 MiB
		100 << 30:          11 << 20,    // 100 GiB needs 10.24 MiB parts: 11 MiB
		20 << 40:           maxPartSize, // capped at 1 GiB (and fails at part 10001)
		4 << 20 * maxParts: 4 << 20,     // exactly fits
		4<<20*maxParts + 1: 5 << 20,
	} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			w, err := f.Create(t.Context(), "x", ufs.CreateOptions{Size: size, SizeKnown: true})
			if err != nil {
				t.Fatal(err)
			}
			if got := w.(*writer).partSize; got != want {
				t.Errorf("size %d: part size %d, want %d", size, got, want)
			}
			_ = w.Abort()
		})
	}
}
