package web

import (
	"bytes"
	"errors"
	"html"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/unifiedfs/unifiedfs"
	"github.com/unifiedfs/unifiedfs/ufs/ufstest"
)

var hrefRE = regexp.MustCompile(`href="([^"]*)"`)

// crawl follows every link of the UI from the Overview (pages of the big directory
// excepted beyond its first) and returns the pages by URL path and query.
func crawl(t *testing.T, base string, limit int) map[string]string {
	t.Helper()
	seen := map[string]string{}
	queue := []string{base + "/"}
	for len(queue) > 0 && len(seen) < limit {
		u := queue[0]
		queue = queue[1:]
		if _, ok := seen[u]; ok {
			continue
		}
		status, hdr, body := get(t, u)
		if status >= 500 {
			t.Errorf("GET %s: %d\n%s", u, status, body)
		}
		var hb strings.Builder
		for k, vs := range hdr {
			hb.WriteString(k + ": " + strings.Join(vs, ",") + "\n")
		}
		seen[u] = hb.String() + "\n" + body
		if !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") {
			continue
		}
		for _, m := range hrefRE.FindAllStringSubmatch(body, -1) {
			ref, err := url.Parse(html.UnescapeString(m[1]))
			if err != nil {
				t.Errorf("page %s links %q: %v", u, m[1], err)
				continue
			}
			from, _ := url.Parse(u)
			next := from.ResolveReference(ref)
			if next.Host != from.Host || next.Query().Has("offset") || next.Query().Has("sort") {
				continue
			}
			queue = append(queue, next.String())
		}
	}
	return seen
}

// TestCrawlIsReadOnlyAndSecretFree visits every page, download and endpoint the UI links:
// none fails, none shows the mount's secret (body or header), and the stores see no
// mutating call.
func TestCrawlIsReadOnlyAndSecretFree(t *testing.T) {
	fx := newFixture(t, 300)
	srv := fx.server(t, Options{})
	before := fx.fsys.Metrics()
	for _, m := range []*ufstest.MemFS{fx.root, fx.lake} {
		m.ResetCalls()
	}
	pages := crawl(t, srv.URL, 400)
	if len(pages) < 25 {
		t.Fatalf("crawl found %d pages, want the whole UI", len(pages))
	}
	wantSeen := []string{"/browse?path=%2Fdata%2Fblocks.bin", "/download?path=%2FREADME.md", "/mounts", "/config", "/stats", "/cluster", "/metrics", "/healthz", "/readyz"}
	for _, w := range wantSeen {
		if _, ok := pages[srv.URL+w]; !ok {
			t.Errorf("crawl never reached %s", w)
		}
	}
	for u, p := range pages {
		if strings.Contains(p, lakeSecret) {
			t.Errorf("%s shows the secret", u)
		}
	}
	for _, m := range []*ufstest.MemFS{fx.root, fx.lake} {
		for _, op := range []ufstest.Op{ufstest.OpCreate, ufstest.OpWrite, ufstest.OpClose, ufstest.OpMkdir, ufstest.OpRemove, ufstest.OpRemoveAll, ufstest.OpRename} {
			if n := m.Calls(op); n != 0 {
				t.Errorf("browsing made %d %s calls on a store", n, op)
			}
		}
	}
	after := fx.fsys.Metrics()
	if after.Mounts != before.Mounts || after.Files.NotPersisted != before.Files.NotPersisted || after.Persist != before.Persist {
		t.Errorf("browsing changed the namespace: before %+v after %+v", before, after)
	}
	// Previews and downloads read with NO_CACHE: nothing new in the cache.
	if after.Cache.MemBytes != before.Cache.MemBytes {
		t.Errorf("browsing filled the cache: %d bytes before, %d after", before.Cache.MemBytes, after.Cache.MemBytes)
	}
}

func TestMutatingMethodsRefused(t *testing.T) {
	fx := newFixture(t, 0)
	srv := fx.server(t, Options{})
	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
		for _, p := range []string{"/", "/browse?path=/README.md", "/download?path=/README.md", "/metrics"} {
			req, _ := http.NewRequest(method, srv.URL+p, strings.NewReader("x"))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
				t.Errorf("%s %s: %d Allow=%q, want 405 GET, HEAD", method, p, resp.StatusCode, resp.Header.Get("Allow"))
			}
		}
	}
	resp, err := http.Head(srv.URL + "/browse?path=/data")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("HEAD browse: %d", resp.StatusCode)
	}
}

// TestNamesRenderAsText: a file named <script>... shows as text, in the listing, on its
// page and in its download name, and no page carries a script element.
func TestNamesRenderAsText(t *testing.T) {
	fx := newFixture(t, 0)
	srv := fx.server(t, Options{})
	escaped := html.EscapeString(scriptName)
	_, hdr, body := get(t, srv.URL+"/browse?path=/data")
	if !strings.Contains(body, escaped) || strings.Contains(body, "<script") {
		t.Errorf("listing does not escape %q:\n%s", scriptName, body)
	}
	if csp := hdr.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q", csp)
	}
	_, _, body = get(t, srv.URL+"/browse?"+url.Values{"path": {"/data/" + scriptName}}.Encode())
	if !strings.Contains(body, escaped) || strings.Contains(body, "<script") || strings.Contains(body, "<b>not bold</b>") {
		t.Errorf("file page does not escape the name or the content:\n%s", body)
	}
	if !strings.Contains(body, html.EscapeString("<b>not bold</b>")) {
		t.Errorf("file page lacks the preview")
	}
	status, hdr, content := get(t, srv.URL+"/download?"+url.Values{"path": {"/data/" + scriptName}}.Encode())
	if status != 200 || content != "<b>not bold</b>\n" || hdr.Get("Content-Type") != "application/octet-stream" {
		t.Errorf("download: %d %q %q", status, hdr.Get("Content-Type"), content)
	}
	if cd := hdr.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") || !strings.Contains(cd, `alert(\"x\")`) {
		t.Errorf("Content-Disposition %q", cd)
	}
}

func TestBadRequests(t *testing.T) {
	fx := newFixture(t, 10)
	srv := fx.server(t, Options{})
	for _, c := range []struct {
		query  string
		status int
		want   string
	}{
		{"path=/../etc/passwd", 400, "invalid"},
		{"path=/a%00b", 400, "NUL"},
		{"path=/data/nothing-here", 404, "not exist"},
		{"path=/data&offset=-1", 400, "offset must be"},
		{"path=/data&offset=x", 400, "offset must be"},
		{"path=/data&limit=0", 400, "limit must be"},
		{"path=/data&limit=5000", 400, "limit must be"},
		{"path=/data&sort=owner", 400, "sort must be"},
		{"path=/data&order=up", 400, "order must be"},
		{"path=/README.md/x", 404, "not exist"},
	} {
		status, _, body := get(t, srv.URL+"/browse?"+c.query)
		if status != c.status || !strings.Contains(body, c.want) {
			t.Errorf("browse?%s: %d, want %d with %q:\n%s", c.query, status, c.status, c.want, body)
		}
	}
	if status, _, _ := get(t, srv.URL+"/download?path=/data"); status != 400 {
		t.Errorf("download of a directory: %d", status)
	}
	if status, _, body := get(t, srv.URL+"/no/such/page"); status != 404 || !strings.Contains(body, "There is no page") {
		t.Errorf("unknown page: %d", status)
	}
}

// TestPagination pages through a directory by name (both ways) and by size.
func TestPagination(t *testing.T) {
	fx := newFixture(t, 2345)
	srv := fx.server(t, Options{PageSize: 100})
	_, _, body := get(t, srv.URL+"/browse?path=/data/big")
	for _, w := range []string{"<strong>1–100</strong> of <strong>2,345</strong>", "Page 1 of 24", "part-000000.csv", "part-000099.csv"} {
		if !strings.Contains(body, w) {
			t.Errorf("first page lacks %q", w)
		}
	}
	if strings.Contains(body, "part-000100.csv") {
		t.Errorf("first page has a row of the second")
	}
	_, _, body = get(t, srv.URL+"/browse?path=/data/big&offset=2300")
	if !strings.Contains(body, "<strong>2,301–2,345</strong>") || !strings.Contains(body, "part-002344.csv") || !strings.Contains(body, `<span class="off">Next ›</span>`) {
		t.Errorf("last page:\n%s", body)
	}
	_, _, body = get(t, srv.URL+"/browse?path=/data/big&order=desc")
	if i, j := strings.Index(body, "part-002344.csv"), strings.Index(body, "part-002245.csv"); i < 0 || j < i || strings.Contains(body, "part-002244.csv") {
		t.Errorf("descending first page wrong (%d, %d)", i, j)
	}
	_, _, body = get(t, srv.URL+"/browse?path=/data/big&order=desc&offset=2300")
	if !strings.Contains(body, "part-000044.csv") || !strings.Contains(body, "part-000000.csv") || strings.Contains(body, "part-000045.csv") {
		t.Errorf("descending last page wrong")
	}
	// Size order: the largest files are 96 bytes (i%97 == 96), the first of them part-000096.
	_, _, body = get(t, srv.URL+"/browse?path=/data/big&sort=size&order=desc&limit=5")
	if !strings.Contains(body, "part-000096.csv") || !strings.Contains(body, "96 B") || !strings.Contains(body, "size, largest first") {
		t.Errorf("size order wrong:\n%s", body)
	}
	_, _, body = get(t, srv.URL+"/browse?path=/data/big&offset=99999")
	if !strings.Contains(body, "No entries at this offset") {
		t.Errorf("offset past the end")
	}
}

// TestBrowseLoadsLazily: a directory written to the UFS behind the namespace's back is
// listed by Browse with one UFS listing, as ReadDir would.
func TestBrowseLoadsLazily(t *testing.T) {
	fx := newFixture(t, 0)
	srv := fx.server(t, Options{})
	fx.lake.Direct().Put("incoming/new-1.json", []byte("{}"))
	fx.lake.Direct().Put("incoming/new-2.json", []byte("{}"))
	fx.lake.ResetCalls()
	_, _, body := get(t, srv.URL+"/browse?path=/data/incoming")
	if !strings.Contains(body, "new-1.json") || !strings.Contains(body, "new-2.json") {
		t.Fatalf("listing lacks the new files:\n%s", body)
	}
	if n := fx.lake.Calls(ufstest.OpList); n != 1 {
		t.Errorf("browsing listed the UFS %d times, want 1", n)
	}
	get(t, srv.URL+"/browse?path=/data/incoming")
	if n := fx.lake.Calls(ufstest.OpList); n != 1 {
		t.Errorf("a second visit listed again (%d listings): SyncNever loads once", n)
	}
}

func TestFilePage(t *testing.T) {
	fx := newFixture(t, 0)
	srv := fx.server(t, Options{})
	_, cached, err := fx.fsys.CachedBlocks(ctx, fx.blocksFile)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range cached {
		if c {
			n++
		}
	}
	if len(cached) != 11 || !cached[0] || !cached[6] {
		t.Fatalf("fixture: cached blocks %v", cached)
	}
	_, _, body := get(t, srv.URL+"/browse?path="+fx.blocksFile)
	for _, w := range []string{"<strong>" + thousands(n) + "</strong> of <strong>11</strong> blocks of 64.00 KiB cached", "block 0", "PERSISTED", "Fingerprint", "mem://lake/blocks.bin", "binary: hex dump", "00000000  00 07 0e 15"} {
		if !strings.Contains(body, w) {
			t.Errorf("file page lacks %q:\n%s", w, body)
		}
	}
	st, _ := fx.fsys.GetStatus(ctx, fx.blocksFile)
	if st.Fingerprint == "" || !strings.Contains(body, html.EscapeString(st.Fingerprint)) {
		t.Errorf("fingerprint %q not shown", st.Fingerprint)
	}
	_, _, body = get(t, srv.URL+"/browse?path=/scratch/draft.txt")
	for _, w := range []string{"NOT_PERSISTED", "pinned", "not persisted yet", "First 18 bytes"} {
		if !strings.Contains(body, w) {
			t.Errorf("MUST_CACHE file page lacks %q", w)
		}
	}
	// Range download of the multi-block file.
	req, _ := http.NewRequest("GET", srv.URL+"/download?path="+fx.blocksFile, nil)
	req.Header.Set("Range", "bytes=65536-65539")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var want []byte
	for i := 65536; i < 65540; i++ {
		want = append(want, byte(i*7))
	}
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(b, want) {
		t.Errorf("range download: %d %v, want 206 %v", resp.StatusCode, b, want)
	}
}

func TestOverviewMountsConfigStats(t *testing.T) {
	fx := newFixture(t, 0)
	srv := fx.server(t, Options{Version: "v9.9.9-test", Started: time.Now().Add(-2 * time.Hour)})
	checks := map[string][]string{
		"/":        {"v9.9.9-test", "2h 0m", "SINGLE", "high availability off", "Memory", "Pinned", "persisted", "lost", "<a href=\"mounts\">3</a>"},
		"/mounts":  {"/data", "mem://lake/", "mem.password=&lt;redacted&gt;", "mem.region=cn-hangzhou", "read-only", "rmem://archive/"},
		"/config":  {"RootUFS", "mem://root/", "CACHE_THROUGH", "64.00 KiB", "never (-1)", "false (single process)"},
		"/stats":   {"Hits", "Misses", "Returned to readers", "Fetched from UFSs", "/archive", ">7<", ">2<", "no retry policy in this driver"},
		"/cluster": {"Single process", "High availability is off"},
	}
	for p, wants := range checks {
		status, _, body := get(t, srv.URL+p)
		if status != 200 {
			t.Errorf("%s: %d", p, status)
		}
		for _, w := range wants {
			if !strings.Contains(body, w) {
				t.Errorf("%s lacks %q", p, w)
			}
		}
	}
}

// TestClusterPageMembers renders the members a cluster's Members func reports.
func TestClusterPageMembers(t *testing.T) {
	s := &server{pages: parsePages(), opts: Options{Version: "v"}}
	d := clusterData{HA: true, Self: unifiedfs.RoleInfo{Role: unifiedfs.Standby, Address: "10.0.0.2:19998", LeaderAddress: "10.0.0.1:19998", Lag: 3, AppliedSeq: 97, JournalSeq: 100},
		Members: []Member{
			{RoleInfo: unifiedfs.RoleInfo{Role: unifiedfs.Leader, Address: "10.0.0.1:19998", Epoch: 4, AppliedSeq: 100}, WebURL: "http://10.0.0.1:19999/"},
			{RoleInfo: unifiedfs.RoleInfo{Role: unifiedfs.Standby, Address: "10.0.0.2:19998", AppliedSeq: 97, Lag: 3}, Self: true},
			{RoleInfo: unifiedfs.RoleInfo{Address: "10.0.0.3:19998"}, Error: "connection refused"},
		}}
	var buf bytes.Buffer
	if err := s.pages["cluster"].ExecuteTemplate(&buf, "layout", pageData{Title: "Cluster", Body: d}); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"LEADER", "STANDBY", "this process", "connection refused", "http://10.0.0.1:19999/", "(lag 3)", "97 of 100"} {
		if !strings.Contains(buf.String(), w) {
			t.Errorf("cluster page lacks %q", w)
		}
	}
}

func TestHealthAndReady(t *testing.T) {
	fx := newFixture(t, 0)
	srv := fx.server(t, Options{})
	if status, _, body := get(t, srv.URL+"/healthz"); status != 200 || body != "ok\n" {
		t.Errorf("healthz: %d %q", status, body)
	}
	if status, _, body := get(t, srv.URL+"/readyz"); status != 200 || body != "ready: single process\n" {
		t.Errorf("readyz: %d %q", status, body)
	}
	fx.fsys.Close()
	if status, _, _ := get(t, srv.URL+"/healthz"); status != 503 {
		t.Errorf("healthz after Close: %d", status)
	}
	if status, _, _ := get(t, srv.URL+"/readyz"); status != 503 {
		t.Errorf("readyz after Close: %d", status)
	}
}

func TestReady(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		ri   unifiedfs.RoleInfo
		want bool
	}{
		{unifiedfs.RoleInfo{Role: unifiedfs.Single}, true},
		{unifiedfs.RoleInfo{Role: unifiedfs.Leader}, true},
		{unifiedfs.RoleInfo{Role: unifiedfs.Suspended}, false},
		{unifiedfs.RoleInfo{Role: unifiedfs.Standby}, false},
		{unifiedfs.RoleInfo{Role: unifiedfs.Standby, CaughtUp: now.Add(-time.Second)}, true},
		{unifiedfs.RoleInfo{Role: unifiedfs.Standby, CaughtUp: now.Add(-time.Second), Lag: 5}, false},
		{unifiedfs.RoleInfo{Role: unifiedfs.Standby, CaughtUp: now.Add(-time.Minute)}, false},
	} {
		if got, why := ready(c.ri, now, 10*time.Second); got != c.want {
			t.Errorf("ready(%+v) = %v (%s), want %v", c.ri, got, why, c.want)
		}
	}
}

// TestUnderAPrefix: an application mounts the UI under its own path; every link stays
// under it.
func TestUnderAPrefix(t *testing.T) {
	fx := newFixture(t, 0)
	mux := http.NewServeMux()
	mux.Handle("/fs/", http.StripPrefix("/fs", Handler(fx.fsys, Options{})))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { t.Errorf("a link left the prefix: %s", r.URL) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	_, _, body := get(t, srv.URL+"/fs/")
	if !strings.Contains(body, "static/style.css") {
		t.Fatal("no stylesheet link")
	}
	for _, m := range hrefRE.FindAllStringSubmatch(body, -1) {
		ref, _ := url.Parse(html.UnescapeString(m[1]))
		base, _ := url.Parse(srv.URL + "/fs/")
		if status, _, _ := get(t, base.ResolveReference(ref).String()); status != 200 {
			t.Errorf("%s: %d", m[1], status)
		}
	}
	if status, hdr, _ := get(t, srv.URL+"/fs/static/style.css"); status != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/css") {
		t.Errorf("stylesheet: %d %s", status, hdr.Get("Content-Type"))
	}
}

func TestPreview(t *testing.T) {
	if p := makePreview([]byte("héllo\nworld")); p.Binary || p.Text != "héllo\nworld" {
		t.Errorf("text: %+v", p)
	}
	// A rune cut by the preview's end is still text.
	if p := makePreview([]byte("h\xc3")); p.Binary || p.Text != "h" {
		t.Errorf("cut rune: %+v", p)
	}
	p := makePreview([]byte("PAR1\x00\x01"))
	if !p.Binary || !strings.HasPrefix(p.Text, "00000000  50 41 52 31 00 01") || !strings.Contains(p.Text, "|PAR1..|") {
		t.Errorf("binary: %q", p.Text)
	}
}

func TestFormat(t *testing.T) {
	for in, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.00 KiB", 1536 << 10: "1.50 MiB", 5 << 40: "5.00 TiB"} {
		if got := humanBytes(in); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 100000: "100,000", -1234567: "-1,234,567"} {
		if got := thousands(in); got != want {
			t.Errorf("thousands(%d) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"oss://bucket/dir":          "oss://bucket/dir",
		"oss://AK:SK@bucket/dir":    "oss://<redacted>@bucket/dir",
		"hdfs://user@nn:8020/a@b/c": "hdfs://<redacted>@nn:8020/a@b/c",
		"file:///var/data":          "file:///var/data",
	} {
		if got := redactURI(in); got != want {
			t.Errorf("redactURI(%q) = %q, want %q", in, got, want)
		}
	}
	runs, w := blockMap([]bool{true, true, false, false, true})
	if w != 5 || len(runs) != 3 || runs[1] != (mapRect{X: 2, W: 2, Class: "uncached"}) {
		t.Errorf("blockMap: %v %d", runs, w)
	}
	big := make([]bool, 5000)
	big[0] = true
	runs, w = blockMap(big)
	if w != maxMapWidth || runs[0] != (mapRect{X: 0, W: 1, Class: "partial"}) || runs[1].Class != "uncached" || runs[1].W != maxMapWidth-1 {
		t.Errorf("blockMap of 5000: %v %d", runs, w)
	}
}

// TestListPage checks FS.ListPage's contract against ListStatus.
func TestListPage(t *testing.T) {
	fx := newFixture(t, 250)
	all, err := fx.fsys.ListStatus(ctx, "/data/big")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ offset, limit, want int }{{0, 100, 100}, {200, 100, 50}, {250, 10, 0}, {999, 10, 0}, {5, 0, 0}, {-3, 2, 2}} {
		page, total, err := fx.fsys.ListPage(ctx, "data/big", c.offset, c.limit)
		if err != nil || total != 250 || len(page) != c.want {
			t.Errorf("ListPage(%d, %d) = %d entries of %d, %v; want %d of 250", c.offset, c.limit, len(page), total, err, c.want)
			continue
		}
		for i, e := range page {
			if want := all[max(c.offset, 0)+i].Name(); e.Name() != want {
				t.Errorf("ListPage(%d, %d)[%d] = %s, want %s", c.offset, c.limit, i, e.Name(), want)
			}
			if fi, _ := e.Info(); fi.Sys().(*unifiedfs.FileStatus).Path != "/data/big/"+e.Name() {
				t.Errorf("entry status path %s", fi.Sys().(*unifiedfs.FileStatus).Path)
			}
		}
	}
	if _, _, err := fx.fsys.ListPage(ctx, "/README.md", 0, 10); !errors.Is(err, unifiedfs.ErrNotDir) {
		t.Errorf("ListPage of a file: %v", err)
	}
	if _, _, err := fx.fsys.ListPage(ctx, "/nope", 0, 10); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ListPage of a missing path: %v", err)
	}
	if _, _, err := fx.fsys.ListPage(ctx, "/a/../b", 0, 10); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("ListPage of a bad path: %v", err)
	}
	// A mount point in a page carries its own mount.
	page, _, err := fx.fsys.ListPage(ctx, "/", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range page {
		if fi, _ := e.Info(); e.Name() == "data" && fi.Sys().(*unifiedfs.FileStatus).MountPoint != "/data" {
			t.Errorf("/data's mount point is %s", fi.Sys().(*unifiedfs.FileStatus).MountPoint)
		}
	}
	if _, _, err := fx.fsys.CachedBlocks(ctx, "/data"); !errors.Is(err, unifiedfs.ErrIsDir) {
		t.Errorf("CachedBlocks of a directory: %v", err)
	}
	cfg := fx.fsys.Config()
	if cfg.Logger != nil || cfg.Registry != nil || cfg.JournalDir == "" {
		t.Errorf("Config: %+v", cfg)
	}
}

// TestConfigRedacted: a root option that is a secret shows nowhere on the config page,
// and FS.Config's copy is the caller's.
func TestConfigRedacted(t *testing.T) {
	var stores ufstest.Stores
	stores.Add("r", ufstest.FileSystem)
	stores.SetPassword("r", lakeSecret)
	fsys, err := unifiedfs.New(ctx, unifiedfs.Config{RootUFS: "mem://r/", Registry: stores.Registry(),
		RootOptions: map[string]string{"mem.password": lakeSecret, "mem.zone": "z0"}, PathSyncIntervals: map[string]time.Duration{"/hot": time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	defer fsys.Close()
	cfg := fsys.Config()
	if cfg.RootOptions["mem.password"] != "<redacted>" || cfg.RootOptions["mem.zone"] != "z0" {
		t.Errorf("Config().RootOptions = %v", cfg.RootOptions)
	}
	cfg.PathSyncIntervals["/cold"] = time.Hour
	if _, leaked := fsys.Config().PathSyncIntervals["/cold"]; leaked {
		t.Error("Config() shares its map with the FS")
	}
	srv := httptest.NewServer(Handler(fsys, Options{}))
	defer srv.Close()
	_, _, body := get(t, srv.URL+"/config")
	if strings.Contains(body, lakeSecret) || !strings.Contains(body, "mem.password=&lt;redacted&gt;, mem.zone=z0") || !strings.Contains(body, "/hot=1m0s") {
		t.Errorf("config page:\n%s", body)
	}
}
