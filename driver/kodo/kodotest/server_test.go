package kodotest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/qiniu/go-sdk/v7/auth"
)

// These tests speak raw HTTP, signing with the SDK's auth package, to check that the fake
// is as strict as Kodo: it is what makes the driver's tests mean something.

func newTestServer(t *testing.T) (*Server, *auth.Credentials) {
	s := NewServer(t, WithBuckets("b"))
	return s, auth.New(s.AccessKey(), s.SecretKey())
}

type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

func do(t *testing.T, req *http.Request) reply {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: raw}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") && len(raw) > 0 && raw[0] == '{' {
		_ = json.Unmarshal(raw, &r.body)
	}
	if resp.Header.Get("X-Reqid") == "" {
		t.Errorf("%s %s: reply %d has no X-Reqid", req.Method, req.URL.Path, resp.StatusCode)
	}
	return r
}

// mgmt sends a management request signed with creds ("Qiniu " token unless qbox).
func mgmt(t *testing.T, creds *auth.Credentials, method, rawURL string, form url.Values, qbox bool) reply {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, rawURL, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("X-Qiniu-Date", time.Now().UTC().Format("20060102T150405Z"))
	tt := auth.TokenQiniu
	if qbox {
		tt = auth.TokenQBox
	}
	if err := creds.AddToken(tt, req); err != nil {
		t.Fatal(err)
	}
	return do(t, req)
}

func entry(bucket, key string) string {
	return base64.URLEncoding.EncodeToString([]byte(bucket + ":" + key))
}

func upToken(creds *auth.Credentials, policy map[string]any) string {
	raw, _ := json.Marshal(policy)
	return creds.SignWithData(raw)
}

func formPut(t *testing.T, s *Server, token, key string, data []byte) reply {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if key != "" {
		_ = mw.WriteField("key", key)
	}
	_ = mw.WriteField("token", token)
	fw, _ := mw.CreateFormFile("file", "data")
	_, _ = fw.Write(data)
	_ = mw.Close()
	req, _ := http.NewRequest(http.MethodPost, "http://"+s.UPHost()+"/", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return do(t, req)
}

func TestManagementTokens(t *testing.T) {
	s, creds := newTestServer(t)
	s.Put("b", "k", []byte("v"))
	stat := "http://" + s.RSHost() + "/stat/" + entry("b", "k")
	if r := mgmt(t, creds, http.MethodGet, stat, nil, false); r.status != 200 || r.body["hash"] != Etag([]byte("v")) || r.body["fsize"] != 1.0 {
		t.Fatalf("stat with a Qiniu token: %d %s", r.status, r.raw)
	}
	if r := mgmt(t, creds, http.MethodPost, stat, nil, true); r.status != 200 {
		t.Fatalf("stat with a QBox token: %d %s", r.status, r.raw)
	}
	wrong := auth.New(s.AccessKey(), "wrong")
	if r := mgmt(t, wrong, http.MethodGet, stat, nil, false); r.status != 401 || r.body["error"] != "bad token" {
		t.Fatalf("stat with a wrong secret: %d %s", r.status, r.raw)
	}
	req, _ := http.NewRequest(http.MethodGet, stat, nil)
	if r := do(t, req); r.status != 401 {
		t.Fatalf("unsigned stat: %d", r.status)
	}
	// A signature for one request does not authorize another.
	req, _ = http.NewRequest(http.MethodPost, "http://"+s.RSHost()+"/delete/"+entry("b", "k"), nil)
	_ = creds.AddToken(auth.TokenQiniu, req)
	req.URL.Path = "/delete/" + entry("b", "other")
	if r := do(t, req); r.status != 401 {
		t.Fatalf("replayed token on another path: %d", r.status)
	}
	// The form body is signed too.
	batch := "http://" + s.RSHost() + "/batch"
	req, _ = http.NewRequest(http.MethodPost, batch, strings.NewReader("op=/stat/"+entry("b", "k")))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	_ = creds.AddToken(auth.TokenQiniu, req)
	req.Body = io.NopCloser(strings.NewReader("op=/delete/" + entry("b", "k")))
	req.ContentLength = -1
	if r := do(t, req); r.status != 401 {
		t.Fatalf("batch with a swapped body: %d", r.status)
	}
	if _, ok := s.Get("b", "k"); !ok {
		t.Fatal("an unauthorized request deleted k")
	}
}

func TestStatDeleteMoveCopy(t *testing.T) {
	s, creds := newTestServer(t)
	s.Put("b", "a", []byte("A"))
	s.Put("b", "c", []byte("C"))
	rs := "http://" + s.RSHost()
	post := func(path string) reply { return mgmt(t, creds, http.MethodPost, rs+path, nil, false) }
	if r := post("/stat/" + entry("b", "missing")); r.status != 612 || r.body["error"] != "no such file or directory" {
		t.Fatalf("stat missing: %d %s", r.status, r.raw)
	}
	if r := post("/stat/" + entry("nob", "a")); r.status != 631 {
		t.Fatalf("stat in a missing bucket: %d %s", r.status, r.raw)
	}
	if r := post("/move/" + entry("b", "a") + "/" + entry("b", "c")); r.status != 614 {
		t.Fatalf("move onto an existing key: %d %s", r.status, r.raw)
	}
	if r := post("/copy/" + entry("b", "a") + "/" + entry("b", "c")); r.status != 614 {
		t.Fatalf("copy onto an existing key: %d %s", r.status, r.raw)
	}
	if r := post("/copy/" + entry("b", "a") + "/" + entry("b", "c") + "/force/true"); r.status != 200 {
		t.Fatalf("forced copy: %d %s", r.status, r.raw)
	}
	if got, _ := s.Get("b", "c"); string(got) != "A" {
		t.Fatalf("c = %q after forced copy", got)
	}
	if r := post("/move/" + entry("b", "a") + "/" + entry("b", "d")); r.status != 200 {
		t.Fatalf("move: %d %s", r.status, r.raw)
	}
	if _, ok := s.Get("b", "a"); ok {
		t.Fatal("a still exists after the move")
	}
	if r := post("/move/" + entry("b", "a") + "/" + entry("b", "e")); r.status != 612 {
		t.Fatalf("move of a missing key: %d", r.status)
	}
	if r := post("/delete/" + entry("b", "d")); r.status != 200 {
		t.Fatalf("delete: %d", r.status)
	}
	if r := post("/delete/" + entry("b", "d")); r.status != 612 {
		t.Fatalf("second delete: %d", r.status)
	}
}

func TestBatchPartialFailure(t *testing.T) {
	s, creds := newTestServer(t)
	s.Put("b", "x", []byte("x"))
	form := url.Values{"op": {"/delete/" + entry("b", "x"), "/delete/" + entry("b", "nope")}}
	r := mgmt(t, creds, http.MethodPost, "http://"+s.RSHost()+"/batch", form, false)
	var rets []struct {
		Code int            `json:"code"`
		Data map[string]any `json:"data"`
	}
	if err := json.Unmarshal(r.raw, &rets); err != nil || r.status != 298 || len(rets) != 2 || rets[0].Code != 200 || rets[1].Code != 612 {
		t.Fatalf("batch: %d %s (%v)", r.status, r.raw, err)
	}
	form = url.Values{"op": {"/stat/" + entry("b", "nope2")}}
	form["op"] = nil
	if r := mgmt(t, creds, http.MethodPost, "http://"+s.RSHost()+"/batch", form, false); r.status != 400 {
		t.Fatalf("empty batch: %d", r.status)
	}
}

func TestListPrefixesAndMarkers(t *testing.T) {
	s, creds := newTestServer(t)
	for _, k := range []string{"d/a", "d/b/1", "d/b/2", "d/c", "d/e/x", "d/f", "other"} {
		s.Put("b", k, []byte(k))
	}
	list := func(q url.Values) reply {
		q.Set("bucket", "b")
		return mgmt(t, creds, http.MethodGet, "http://"+s.RSFHost()+"/list?"+q.Encode(), nil, false)
	}
	type page struct {
		Marker         string   `json:"marker"`
		CommonPrefixes []string `json:"commonPrefixes"`
		Items          []struct {
			Key string `json:"key"`
		} `json:"items"`
	}
	var got []string
	marker := ""
	for i := 0; i < 10; i++ {
		r := list(url.Values{"prefix": {"d/"}, "delimiter": {"/"}, "limit": {"2"}, "marker": {marker}})
		var p page
		if r.status != 200 || json.Unmarshal(r.raw, &p) != nil {
			t.Fatalf("list: %d %s", r.status, r.raw)
		}
		for _, it := range p.Items {
			got = append(got, it.Key)
		}
		got = append(got, p.CommonPrefixes...)
		if len(p.Items)+len(p.CommonPrefixes) > 2 {
			t.Fatalf("page over the limit: %s", r.raw)
		}
		if marker = p.Marker; marker == "" {
			break
		}
	}
	want := "d/a d/b/ d/c d/e/ d/f"
	if strings.Join(sortedCopy(got), " ") != want {
		t.Fatalf("listed %v, want %s", got, want)
	}
	if r := list(url.Values{"marker": {"%%%"}}); r.status != 640 {
		t.Fatalf("bad marker: %d %s", r.status, r.raw)
	}
	r := mgmt(t, creds, http.MethodGet, "http://"+s.RSFHost()+"/list?bucket=nob", nil, false)
	if r.status != 631 {
		t.Fatalf("list of a missing bucket: %d", r.status)
	}
}

func sortedCopy(v []string) []string {
	out := append([]string(nil), v...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestUploadTokens(t *testing.T) {
	s, creds := newTestServer(t)
	future := time.Now().Add(time.Hour).Unix()
	if r := formPut(t, s, upToken(creds, map[string]any{"scope": "b:k", "deadline": future}), "k", []byte("1")); r.status != 200 || r.body["hash"] != Etag([]byte("1")) || r.body["key"] != "k" {
		t.Fatalf("upload: %d %s", r.status, r.raw)
	}
	if r := formPut(t, s, upToken(creds, map[string]any{"scope": "b:k", "deadline": time.Now().Add(-time.Minute).Unix()}), "k", []byte("2")); r.status != 401 || r.body["error"] != "expired token" {
		t.Fatalf("expired token: %d %s", r.status, r.raw)
	}
	if r := formPut(t, s, upToken(creds, map[string]any{"scope": "b:other", "deadline": future}), "k", []byte("2")); r.status != 403 {
		t.Fatalf("key outside the scope: %d %s", r.status, r.raw)
	}
	if r := formPut(t, s, upToken(auth.New(s.AccessKey(), "wrong"), map[string]any{"scope": "b:k", "deadline": future}), "k", []byte("2")); r.status != 401 {
		t.Fatalf("token signed with a wrong secret: %d %s", r.status, r.raw)
	}
	if r := formPut(t, s, upToken(creds, map[string]any{"scope": "b", "deadline": future}), "k", []byte("2")); r.status != 614 {
		t.Fatalf("bucket scope over other content: %d %s", r.status, r.raw)
	}
	if r := formPut(t, s, upToken(creds, map[string]any{"scope": "b:k", "deadline": future, "insertOnly": 1}), "k", []byte("2")); r.status != 614 {
		t.Fatalf("insertOnly over an existing key: %d %s", r.status, r.raw)
	}
	if r := formPut(t, s, upToken(creds, map[string]any{"scope": "nob:k", "deadline": future}), "k", []byte("2")); r.status != 631 {
		t.Fatalf("missing bucket: %d %s", r.status, r.raw)
	}
	if got, _ := s.Get("b", "k"); string(got) != "1" {
		t.Fatalf("rejected uploads changed k to %q", got)
	}
}

func TestResumableUploadChecks(t *testing.T) {
	s, creds := newTestServer(t)
	tok := upToken(creds, map[string]any{"scope": "b:big", "deadline": time.Now().Add(time.Hour).Unix()})
	base := "http://" + s.UPHost() + "/buckets/b/objects/" + base64.URLEncoding.EncodeToString([]byte("big")) + "/uploads"
	call := func(method, u string, body []byte) reply {
		req, _ := http.NewRequest(method, u, bytes.NewReader(body))
		req.Header.Set("Authorization", "UpToken "+tok)
		return do(t, req)
	}
	r := call(http.MethodPost, base, nil)
	id, _ := r.body["uploadId"].(string)
	if r.status != 200 || id == "" {
		t.Fatalf("init: %d %s", r.status, r.raw)
	}
	small, big := []byte("tail"), bytes.Repeat([]byte("p"), MinPartSize)
	etags := map[int]string{}
	for _, p := range []struct {
		n    int
		data []byte
	}{{3, small}, {1, big}, {2, small}} { // out of order
		r := call(http.MethodPut, base+"/"+id+"/"+strconv.Itoa(p.n), p.data)
		if r.status != 200 {
			t.Fatalf("part %d: %d %s", p.n, r.status, r.raw)
		}
		etags[p.n] = r.body["etag"].(string)
	}
	complete := func(parts ...int) reply {
		var ps []map[string]any
		for _, n := range parts {
			ps = append(ps, map[string]any{"partNumber": n, "etag": etags[n]})
		}
		body, _ := json.Marshal(map[string]any{"parts": ps})
		return call(http.MethodPost, base+"/"+id, body)
	}
	if r := complete(2, 1); r.status != 400 {
		t.Fatalf("unsorted parts: %d %s", r.status, r.raw)
	}
	if r := complete(1, 2, 3); r.status != 400 {
		t.Fatalf("a small part that is not last: %d %s", r.status, r.raw)
	}
	etags[9] = "bogus"
	if r := complete(1, 9); r.status != 400 {
		t.Fatalf("unknown part: %d %s", r.status, r.raw)
	}
	req, _ := http.NewRequest(http.MethodPut, base+"/"+id+"/4", bytes.NewReader(small))
	req.Header.Set("Authorization", "UpToken "+tok)
	req.Header.Set("Content-MD5", strings.Repeat("0", 32))
	if r := do(t, req); r.status != 400 {
		t.Fatalf("part with a wrong Content-MD5: %d", r.status)
	}
	if r := complete(1, 3); r.status != 200 || r.body["hash"] != Etag(append(append([]byte{}, big...), small...)) {
		t.Fatalf("complete: %d %s", r.status, r.raw)
	}
	if order := s.LastPartOrder(); len(order) != 3 || order[0] != 3 || order[1] != 1 {
		t.Fatalf("part order %v, want [3 1 2]", order)
	}
	if r := complete(1, 3); r.status != 612 {
		t.Fatalf("completing twice: %d %s", r.status, r.raw)
	}
	r = call(http.MethodPost, base, nil)
	id = r.body["uploadId"].(string)
	if r := call(http.MethodDelete, base+"/"+id, nil); r.status != 200 || s.Uploads() != 0 {
		t.Fatalf("abort: %d, %d uploads open", r.status, s.Uploads())
	}
	if r := call(http.MethodPut, base+"/"+id+"/1", small); r.status != 612 {
		t.Fatalf("part after abort: %d", r.status)
	}
	tok = upToken(creds, map[string]any{"scope": "b:other", "deadline": time.Now().Add(time.Hour).Unix()})
	if r := call(http.MethodPost, base, nil); r.status != 403 {
		t.Fatalf("init outside the scope: %d", r.status)
	}
}

func TestDownloadTokens(t *testing.T) {
	s, creds := newTestServer(t)
	s.Put("b", "dir/a file+x", []byte("0123456789"))
	get := func(host, rawPath string, deadline int64, tamper func(string) string, rng string) reply {
		q := "e=" + strconv.FormatInt(deadline, 10)
		tok := creds.Sign([]byte("http://" + host + rawPath + "?" + q))
		if tamper != nil {
			tok = tamper(tok)
		}
		req, _ := http.NewRequest(http.MethodGet, "http://"+s.IOHost()+rawPath+"?"+q+"&token="+tok, nil)
		req.Host = host
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		return do(t, req)
	}
	dom, path := s.Domain("b"), "/dir/a%20file+x"
	future := time.Now().Add(time.Hour).Unix()
	if r := get(dom, path, future, nil, ""); r.status != 200 || string(r.raw) != "0123456789" {
		t.Fatalf("download: %d %q", r.status, r.raw)
	}
	r := get(dom, path, future, nil, "bytes=2-4")
	if r.status != 206 || string(r.raw) != "234" || r.header.Get("Content-Range") != "bytes 2-4/10" {
		t.Fatalf("ranged download: %d %q %q", r.status, r.raw, r.header.Get("Content-Range"))
	}
	if r := get(dom, path, future, nil, "bytes=10-"); r.status != 416 {
		t.Fatalf("range past the end: %d", r.status)
	}
	if r := get(dom, path, future, func(tok string) string { return tok + "x" }, ""); r.status != 401 {
		t.Fatalf("tampered token: %d", r.status)
	}
	if r := get(dom, path, time.Now().Add(-time.Minute).Unix(), nil, ""); r.status != 401 {
		t.Fatalf("expired token: %d", r.status)
	}
	if r := get("other.example", path, future, nil, ""); r.status != 404 {
		t.Fatalf("unknown domain: %d", r.status)
	}
	if r := get(dom, "/dir/missing", future, nil, ""); r.status != 404 {
		t.Fatalf("missing key: %d", r.status)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+s.IOHost()+path, nil)
	req.Host = dom
	if r := do(t, req); r.status != 401 {
		t.Fatalf("download without a token: %d", r.status)
	}
}

func TestQueryAndFaults(t *testing.T) {
	s, _ := newTestServer(t)
	query := func(ak, bucket string) reply {
		req, _ := http.NewRequest(http.MethodGet, "http://"+s.UCHost()+"/v4/query?ak="+ak+"&bucket="+bucket, nil)
		return do(t, req)
	}
	r := query(s.AccessKey(), "b")
	if r.status != 200 || !strings.Contains(string(r.raw), s.RSFHost()) {
		t.Fatalf("query: %d %s", r.status, r.raw)
	}
	if r := query(s.AccessKey(), "nob"); r.status != 631 {
		t.Fatalf("query of a missing bucket: %d", r.status)
	}
	if r := query("nobody", "b"); r.status != 401 {
		t.Fatalf("query with an unknown access key: %d", r.status)
	}
	s.Inject(Fault{API: APIQuery, Nth: 2, Times: 2, Status: 503})
	var got []int
	for range 5 {
		got = append(got, query(s.AccessKey(), "b").status)
	}
	if want := []int{200, 503, 503, 200, 200}; !equalInts(got, want) {
		t.Fatalf("statuses %v, want %v", got, want)
	}
	if n := s.Calls(APIQuery); n != 8 {
		t.Fatalf("%d queries counted, want 8", n)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestEtag(t *testing.T) {
	if got := Etag(nil); got != "Fto5o-5ea0sNMlW_75VgGJCv2AcJ" {
		t.Fatalf("etag of nothing = %s", got)
	}
	four := bytes.Repeat([]byte{1}, 4<<20)
	if a, b := Etag(four), Etag(append(four, 2)); a[0] != 'F' || b[0] != 'l' {
		t.Fatalf("etag prefixes %c %c, want F (0x16) and l (0x96)", a[0], b[0])
	}
}
