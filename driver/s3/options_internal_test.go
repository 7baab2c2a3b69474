package s3

import "testing"

func TestRegionOf(t *testing.T) {
	for host, want := range map[string]string{
		"https://s3.eu-west-1.amazonaws.com":             "eu-west-1",
		"https://bucket.s3.ap-south-1.amazonaws.com":     "ap-south-1",
		"https://s3-us-west-2.amazonaws.com":             "us-west-2",
		"https://s3.dualstack.us-east-2.amazonaws.com":   "us-east-2",
		"https://s3-fips.us-gov-west-1.amazonaws.com":    "us-gov-west-1",
		"https://s3.cn-north-1.amazonaws.com.cn":         "cn-north-1",
		"https://s3-external-1.amazonaws.com":            "us-east-1",
		"https://s3.amazonaws.com":                       "",
		"https://s3-accelerate.amazonaws.com":            "",
		"http://127.0.0.1:9000":                          "",
		"https://minio.example.com":                      "",
		"https://s3.eu-west-1.amazonaws.com.example.org": "",
	} {
		if got := regionOf(host); got != want {
			t.Errorf("regionOf(%s) = %q, want %q", host, got, want)
		}
	}
}

func TestValidBucket(t *testing.T) {
	for _, tc := range []struct {
		name      string
		pathStyle bool
		ok        bool
	}{
		{"data-bucket", false, true}, {"a.b.c", false, true}, {"ab", false, false}, {"-ab", false, false},
		{"ab-", false, false}, {"a..b", false, false}, {"Upper", false, false}, {"Upper_Legacy", true, true},
		{"under_score", false, false}, {"has space", true, false},
	} {
		if got := validBucket(tc.name, tc.pathStyle); got != tc.ok {
			t.Errorf("validBucket(%q, %v) = %v", tc.name, tc.pathStyle, got)
		}
	}
}
