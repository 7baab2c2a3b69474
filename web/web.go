// Package web is the status UI of a unifiedfs namespace, as Alluxio's master web UI on
// port 19999: server-rendered pages (Overview, Browse, Mount table, Configuration,
// Metrics, Cluster), /metrics in the Prometheus exposition format, and /healthz and
// /readyz for load balancers and orchestrators.
//
//	mux.Handle("/fs/", http.StripPrefix("/fs", web.Handler(fsys, web.Options{})))
//
// Every page is read-only: only GET and HEAD are served, file previews and downloads
// read with NO_CACHE so browsing does not even fill the cache, and browsing loads
// metadata lazily exactly as ListStatus does. Mount options and configuration values of
// secret keys are redacted. The pages link relatively, so the handler works at any
// prefix that ends in a slash.
package web

import (
	"context"
	"embed"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/unifiedfs/unifiedfs"
)

// DefaultListen is the address of Alluxio's master web UI.
const DefaultListen = "127.0.0.1:19999"

// Defaults of Options' zero fields.
const (
	DefaultPageSize       = 100
	MaxPageSize           = 1000
	DefaultReadyStaleness = 10 * time.Second
)

// Options tune Handler. The zero value is ready to use.
type Options struct {
	// Version is shown on the Overview; empty means the unifiedfs module version the
	// binary was built with (debug.ReadBuildInfo), or "(devel)".
	Version string
	// Started is when the embedding process started, for the uptime; zero means the time
	// Handler was called.
	Started time.Time
	// PageSize is the number of Browse rows per page (default DefaultPageSize); a request
	// may ask for up to MaxPageSize with ?limit=.
	PageSize int
	// Members lists the members of a highly available namespace for the Cluster page;
	// nil shows this member alone.
	Members func(ctx context.Context) ([]Member, error)
	// Gatherer is what /metrics serves; nil means a registry of NewCollector(fsys) and the
	// Go runtime and process collectors. An embedding application that registers the
	// collector in its own registry may pass that registry here.
	Gatherer prometheus.Gatherer
	// ReadyStaleness is how recently a standby must have been caught up with the journal
	// for /readyz to report it ready (default DefaultReadyStaleness).
	ReadyStaleness time.Duration
	// Logger receives errors writing responses; nil discards them. Secrets are never logged.
	Logger *slog.Logger
}

// Member is one member of a highly available namespace as the Cluster page shows it.
type Member struct {
	unifiedfs.RoleInfo
	// WebURL is the member's web UI ("" when unknown).
	WebURL string
	// Self marks this process.
	Self bool
	// Error says why the member could not be asked ("" when it answered).
	Error string
}

//go:embed templates/*.html static/*
var assets embed.FS

// server is the handler behind Handler.
type server struct {
	fsys    *unifiedfs.FS
	opts    Options
	log     *slog.Logger
	pages   map[string]*pageTemplate
	css     []byte
	metrics http.Handler
	mux     *http.ServeMux
}

// Handler returns the web UI of fsys. Its routes, relative to where it is mounted:
//
//	/              Overview
//	/browse?path=  the namespace (a directory's entries, or a file's page)
//	/download?path= a file's content
//	/mounts        the mount table
//	/config        the effective configuration
//	/stats         the counters as a page
//	/cluster       the members of a highly available namespace
//	/metrics       Prometheus exposition
//	/healthz       200 while the FS is open
//	/readyz        200 when this member serves current reads: single, leader, or caught-up standby
//
// Methods other than GET and HEAD get 405.
func Handler(fsys *unifiedfs.FS, opts Options) http.Handler {
	if opts.Version == "" {
		opts.Version = moduleVersion()
	}
	if opts.Started.IsZero() {
		opts.Started = time.Now()
	}
	if opts.PageSize <= 0 {
		opts.PageSize = DefaultPageSize
	}
	opts.PageSize = min(opts.PageSize, MaxPageSize)
	if opts.ReadyStaleness <= 0 {
		opts.ReadyStaleness = DefaultReadyStaleness
	}
	s := &server{fsys: fsys, opts: opts, log: opts.Logger, pages: parsePages()}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	css, err := fs.ReadFile(assets, "static/style.css")
	if err != nil {
		panic(err) // embedded at build time
	}
	s.css = css
	g := opts.Gatherer
	if g == nil {
		reg := prometheus.NewRegistry()
		reg.MustRegister(NewCollector(fsys), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		g = reg
	}
	s.metrics = promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorLog: slogAdapter{s.log}})
	mux := http.NewServeMux()
	mux.HandleFunc("/{$}", s.overview)
	mux.HandleFunc("/browse", s.browse)
	mux.HandleFunc("/download", s.download)
	mux.HandleFunc("/mounts", s.mountsPage)
	mux.HandleFunc("/config", s.configPage)
	mux.HandleFunc("/stats", s.statsPage)
	mux.HandleFunc("/cluster", s.clusterPage)
	mux.HandleFunc("/static/style.css", s.style)
	mux.Handle("/metrics", s.metrics)
	mux.HandleFunc("/healthz", s.healthz)
	mux.HandleFunc("/readyz", s.readyz)
	mux.HandleFunc("/", s.notFound)
	s.mux = mux
	return s
}

// ServeHTTP refuses every method but GET and HEAD, sets the security headers, and routes.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// No script runs on any page; styles come from the embedded stylesheet only.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "the web UI is read-only: only GET and HEAD are served", http.StatusMethodNotAllowed)
		return
	}
	s.mux.ServeHTTP(w, r)
}

func (s *server) style(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "max-age=300")
	_, _ = w.Write(s.css)
}

func (s *server) notFound(w http.ResponseWriter, r *http.Request) {
	s.fail(w, r, http.StatusNotFound, "Not found", "There is no page at "+r.URL.Path+".")
}

// healthz reports whether the FS is open (it answers a status of the root).
func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if _, err := s.fsys.GetStatus(r.Context(), "/"); errors.Is(err, unifiedfs.ErrClosed) {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("closed\n"))
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

// readyz reports whether this member serves current reads: a single process, the leader,
// or a standby with no replay lag that was caught up within ReadyStaleness.
func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	ok, why := ready(s.fsys.Role(), time.Now(), s.opts.ReadyStaleness)
	if _, err := s.fsys.GetStatus(r.Context(), "/"); errors.Is(err, unifiedfs.ErrClosed) {
		ok, why = false, "closed"
	}
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_, _ = w.Write([]byte(why + "\n"))
}

// ready decides readiness from a member's role.
func ready(ri unifiedfs.RoleInfo, now time.Time, staleness time.Duration) (bool, string) {
	switch ri.Role {
	case unifiedfs.Single:
		return true, "ready: single process"
	case unifiedfs.Leader:
		return true, "ready: leader"
	case unifiedfs.Standby:
		switch {
		case ri.CaughtUp.IsZero():
			return false, "not ready: standby still replaying the journal"
		case ri.Lag > 0:
			return false, "not ready: standby behind the journal"
		case now.Sub(ri.CaughtUp) > staleness:
			return false, "not ready: standby last caught up " + now.Sub(ri.CaughtUp).Round(time.Second).String() + " ago"
		}
		return true, "ready: caught-up standby"
	}
	return false, "not ready: " + ri.Role.String()
}

// moduleVersion is the unifiedfs module's version in the running binary.
func moduleVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(devel)"
	}
	const mod = "github.com/unifiedfs/unifiedfs"
	if bi.Main.Path == mod && bi.Main.Version != "" {
		return bi.Main.Version
	}
	for _, d := range bi.Deps {
		if d.Path == mod && d.Version != "" {
			return d.Version
		}
	}
	return "(devel)"
}

// slogAdapter makes a slog.Logger a promhttp.Logger.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Println(v ...any) { a.l.Error("unifiedfs web: /metrics", "err", v) }
