package web

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// chromiumCandidates are where Debian's chromium package (and other distributions'
// builds) put the browser.
var chromiumCandidates = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// unavailable skips the test locally and fails it under CI=true: CI must not pass by
// skipping the browser test.
func unavailable(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("Chromium unavailable (CI=true, so this fails instead of skipping): "+format, args...)
	}
	t.Skipf("Chromium unavailable: "+format, args...)
}

// startBrowser starts a headless Chromium with the flags this machine needs (no
// sandbox as root, no GPU, no background connections to a network it cannot reach) and
// a fresh profile, and returns a tab's context.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	exe := os.Getenv("CHROMIUM")
	if exe == "" {
		for _, c := range chromiumCandidates {
			if p, err := exec.LookPath(c); err == nil {
				exe = p
				break
			}
		}
	}
	if exe == "" {
		unavailable(t, "none of %v is on PATH (install Debian's chromium, or set CHROMIUM)", chromiumCandidates)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 860),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	// The first Do starts the browser, whose life is bctx's.
	if err := chromedp.Do(bctx); err != nil {
		unavailable(t, "%s did not start: %v", exe, err)
	}
	tctx, cancel := context.WithTimeout(bctx, 60*time.Second)
	t.Cleanup(cancel)
	return tctx
}

// browserSession is a tab driven by a test, failing it on the first error.
type browserSession struct {
	t    *testing.T
	ctx  context.Context
	shot string // directory of the screenshots
}

func (b *browserSession) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// click clicks sel and waits for the page it leads to.
func (b *browserSession) click(sel string) {
	b.t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))); err != nil {
		b.t.Fatalf("click %s: %v", sel, err)
	}
}

// text returns the rendered text of sel.
func (b *browserSession) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// want fails unless the rendered text of sel contains every one of wants.
func (b *browserSession) want(sel string, wants ...string) {
	b.t.Helper()
	got := b.text(sel)
	for _, w := range wants {
		if !strings.Contains(got, w) {
			b.t.Errorf("%s does not show %q; it shows:\n%s", sel, w, got)
		}
	}
}

// readmeShots are the screenshots README.md shows (docs/web-<name>.png).
var readmeShots = map[string]bool{"overview": true, "browse": true, "file": true}

// screenshot saves the viewport as name.png.
func (b *browserSession) screenshot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	p := filepath.Join(b.shot, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	if dir := os.Getenv("UNIFIEDFS_WEB_SCREENSHOTS"); dir != "" && readmeShots[name] { // regenerates docs/ (see README)
		if err := os.WriteFile(filepath.Join(dir, "web-"+name+".png"), png, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
}

// TestBrowser drives the UI in a real headless Chromium as a person would: Overview,
// Browse from the navigation bar, into a mount, through the pages of a directory of
// 100,000 entries, and a file's page; it checks the rendered text and saves screenshots.
func TestBrowser(t *testing.T) {
	tab := startBrowser(t)
	fx := newFixture(t, 100_000)
	srv := fx.server(t, Options{Version: "v0.0.0-test", Started: time.Now().Add(-(26*time.Hour + 14*time.Minute))})
	b := &browserSession{t: t, ctx: tab, shot: t.TempDir()}
	defer func() { t.Logf("screenshots in %s", b.shot) }()

	b.do("open the Overview", chromedp.Navigate(srv.URL+"/"))
	b.want("main", "Overview", "v0.0.0-test", "1d 2h", "SINGLE", "Block cache", "Memory", "Pinned", "to be persisted", "lost")
	if title, err := chromedp.Run(tab, chromedp.Title()); err != nil || title != "Overview · unifiedfs" {
		t.Errorf("title %q, %v", title, err)
	}
	// The stylesheet applied: the header bar is the brand colour, not the default.
	bg, err := chromedp.Run(tab, chromedp.Evaluate[string](`getComputedStyle(document.querySelector("header.top")).backgroundColor`))
	if err != nil || bg != "rgb(29, 78, 137)" {
		t.Errorf("header background %q (%v): the stylesheet did not load", bg, err)
	}
	b.screenshot("overview")

	b.click(`header nav a[href="browse"]`)
	b.want("main", "Browse", "README.md", "data/", "archive/", "logs/", "scratch/", "memory mount", "Persistence State", "In-Cache")
	b.want("header nav a.active", "Browse")
	b.screenshot("browse-root")

	b.click(`table.browse a.dir[href="browse?path=%2Fdata"]`)
	b.want(".crumbs", "root", "data")
	b.want("table.browse", "big/", "events/", "blocks.bin", scriptName, "19%")
	if n, err := chromedp.Run(tab, chromedp.Evaluate[int](`document.scripts.length`)); err != nil || n != 0 {
		t.Errorf("the page has %d script elements (%v): a file name ran as markup", n, err)
	}
	b.screenshot("browse")

	b.click(`table.browse a.dir[href="browse?path=%2Fdata%2Fbig"]`)
	b.want(".summary", "Entries 1–100 of 100,000")
	b.want(".pager", "Page 1 of 1,000")
	b.want("table.browse tbody tr:nth-child(2)", "part-000000.csv")
	b.click(`.pager a[rel="next"]`)
	b.want(".summary", "Entries 101–200 of 100,000")
	b.want("table.browse tbody tr:nth-child(2)", "part-000100.csv")
	b.click(`.pager a:last-of-type`)
	b.want(".summary", "Entries 99,901–100,000 of 100,000")
	b.want(".pager", "Page 1,000 of 1,000")
	b.want("table.browse tbody tr:last-child", "part-099999.csv")
	b.click(`table.browse thead a[title="Sort by size"]`)
	b.want(".summary", "Entries 1–100 of 100,000", "sorted by size, smallest first")
	b.screenshot("browse-big")

	b.click(`.crumbs a[href="browse?path=%2Fdata"]`)
	b.click(`table.browse a.file[href="browse?path=%2Fdata%2Fblocks.bin"]`)
	b.want("main", "blocks.bin", "Status", "PERSISTED", "Fingerprint", "of 11 blocks of 64.00 KiB cached", "block 0", "binary: hex dump", "00000000  00 07 0e 15")
	b.screenshot("file")

	b.click(`.crumbs a[href="browse?path=%2F"]`)
	b.click(`table.browse a.file[href="browse?path=%2FREADME.md"]`)
	b.want("pre.preview", "# Sales data lake", "joins the local disk and the object store")
	b.want("main", "First 77 bytes")

	b.click(`header nav a[href="mounts"]`)
	b.want("table", "/data", "mem://lake/", "mem.password=<redacted>", "read-only")
	if strings.Contains(b.text("main"), lakeSecret) {
		t.Error("the mount table shows the secret")
	}
	b.screenshot("mounts")
	b.click(`header nav a[href="config"]`)
	b.want("main", "Namespace", "RootUFS", "alluxio.user.file.writetype.default", "CACHE_THROUGH", "JournalDir")
	b.screenshot("config")
	b.click(`header nav a[href="stats"]`)
	b.want("main", "Block cache", "Hits", "Reads", "/archive")
	b.screenshot("stats")
	b.click(`header nav a[href="cluster"]`)
	b.want("main", "Single process")
	if err := tab.Err(); errors.Is(err, context.DeadlineExceeded) {
		t.Fatal("the browser test ran out of time")
	}
}
