package oss

import (
	"testing"

	"github.com/unifiedfs/unifiedfs/ufs"
)

func TestRegionOf(t *testing.T) {
	for host, want := range map[string]string{
		"oss-cn-hangzhou.aliyuncs.com":              "cn-hangzhou",
		"OSS-CN-SHANGHAI.ALIYUNCS.COM":              "cn-shanghai",
		"oss-cn-beijing-internal.aliyuncs.com":      "cn-beijing",
		"mybucket.oss-ap-southeast-1.aliyuncs.com":  "ap-southeast-1",
		"cn-hangzhou.oss.aliyuncs.com":              "cn-hangzhou",
		"oss-accelerate.aliyuncs.com":               "",
		"127.0.0.1":                                 "",
		"oss-cn-hangzhou.aliyuncs.com.evil.example": "",
		"s3.oss-cn-hangzhou.aliyuncs.com":           "cn-hangzhou",
	} {
		t.Run(host, func(t *testing.T) {
			if got := regionOf(host); got != want {
				t.Errorf("regionOf(%q) = %q, want %q", host, got, want)
			}
		})
	}
}

func TestParseConfig(t *testing.T) {
	uri := ufs.URI{Scheme: "oss", Authority: "bkt", Path: "dir"}
	base := map[string]string{"fs.oss.accessKeyId": "id", "fs.oss.accessKeySecret": "secret"}
	with := func(kv ...string) ufs.Options {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return ufs.NewOptions(m)
	}
	c, err := parseConfig(uri, with("fs.oss.endpoint", "oss-cn-hangzhou.aliyuncs.com"))
	if err != nil {
		t.Fatal(err)
	}
	if c.endpoint != "https://oss-cn-hangzhou.aliyuncs.com" || c.region != "cn-hangzhou" || c.pathStyle {
		t.Fatalf("config %+v", c)
	}
	c, err = parseConfig(uri, with("fs.oss.endpoint", "http://localhost:9000", "fs.oss.region", "r1",
		"alluxio.underfs.oss.streaming.upload.partition.size", "1MB", "fs.oss.multipart.threads", "9"))
	if err != nil {
		t.Fatal(err)
	}
	if !c.pathStyle || c.region != "r1" || c.partSize != 1<<20 || c.threads != 9 {
		t.Fatalf("config %+v", c)
	}
	for _, bad := range [][]string{
		{"fs.oss.endpoint", "ftp://x"},
		{"fs.oss.endpoint", "oss-cn-hangzhou.aliyuncs.com", "fs.oss.signatureVersion", "v3"},
		{"fs.oss.endpoint", "oss-cn-hangzhou.aliyuncs.com", "fs.oss.multipart.threads", "0"},
		{"fs.oss.endpoint", "oss-cn-hangzhou.aliyuncs.com", "fs.oss.socket.timeout", "soon"},
		{"fs.oss.endpoint", "oss-cn-hangzhou.aliyuncs.com", "fs.oss.pathStyle", "maybe"},
		{"fs.oss.endpoint", "example.com"}, // no region derivable for V4
	} {
		if _, err := parseConfig(uri, with(bad...)); err == nil {
			t.Errorf("parseConfig(%v) accepted", bad)
		}
	}
	if _, err := parseConfig(uri, with("fs.oss.endpoint", "example.com", "fs.oss.signatureVersion", "v1")); err != nil {
		t.Errorf("V1 needs no region: %v", err)
	}
}
