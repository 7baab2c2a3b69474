package web

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/unifiedfs/unifiedfs"
	"github.com/unifiedfs/unifiedfs/ufs"
)

// pageTemplate is the layout with one page's content.
type pageTemplate = template.Template

// pageNames are the templates/<name>.html pages, each defining "content".
var pageNames = []string{"overview", "browse", "file", "mounts", "config", "stats", "cluster", "error"}

func parsePages() map[string]*pageTemplate {
	base := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(assets, "templates/layout.html"))
	out := map[string]*pageTemplate{}
	for _, n := range pageNames {
		out[n] = template.Must(template.Must(base.Clone()).ParseFS(assets, "templates/"+n+".html"))
	}
	return out
}

// pageData is what the layout renders around a page's content.
type pageData struct {
	Title   string
	Nav     string // the active navigation item
	Version string
	Role    string
	Body    any
}

// buffers recycles the buffers pages render into.
var buffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// render writes page name with body, buffered so a template error becomes a clean 500.
func (s *server) render(w http.ResponseWriter, r *http.Request, status int, name, title, nav string, body any) {
	buf := buffers.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= 1<<20 {
			buf.Reset()
			buffers.Put(buf)
		}
	}()
	data := pageData{Title: title, Nav: nav, Version: s.opts.Version, Role: s.fsys.Role().Role.String(), Body: body}
	if err := s.pages[name].ExecuteTemplate(buf, "layout", data); err != nil {
		s.log.Error("unifiedfs web: rendering a page", "page", name, "err", err)
		http.Error(w, "internal error rendering the page", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		s.log.Debug("unifiedfs web: writing a page", "page", name, "err", err)
	}
}

type errorData struct {
	Status  int
	Message string
}

// fail renders the error page.
func (s *server) fail(w http.ResponseWriter, r *http.Request, status int, title, msg string) {
	s.render(w, r, status, "error", title, "", errorData{Status: status, Message: msg})
}

// failFS renders an FS error with the status its sentinel implies.
func (s *server) failFS(w http.ResponseWriter, r *http.Request, err error) {
	status, title := http.StatusInternalServerError, "Error"
	switch {
	case errors.Is(err, fs.ErrNotExist):
		status, title = http.StatusNotFound, "Not found"
	case errors.Is(err, fs.ErrInvalid):
		status, title = http.StatusBadRequest, "Invalid request"
	case errors.Is(err, fs.ErrPermission):
		status, title = http.StatusForbidden, "Permission denied"
	case errors.Is(err, unifiedfs.ErrClosed):
		status, title = http.StatusServiceUnavailable, "Closed"
	case errors.Is(err, r.Context().Err()):
		status, title = http.StatusServiceUnavailable, "Cancelled"
	}
	s.fail(w, r, status, title, err.Error())
}

// ---- Overview

type overviewData struct {
	Version  string
	Started  time.Time
	Uptime   time.Duration
	Role     unifiedfs.RoleInfo
	HA       bool
	Mounts   int
	Tiers    []tierRow
	Cache    unifiedfs.CacheMetrics
	Files    unifiedfs.FileCounts
	Journal  unifiedfs.JournalMetrics
	Journal2 journalInfo
	Persist  unifiedfs.PersistMetrics
}

type tierRow struct {
	Name                 string
	Location             string
	Capacity, Used, Free int64
}

type journalInfo struct {
	Where           string // directory or shared URI; "" without a journal
	CheckpointBytes int64
}

func (s *server) overview(w http.ResponseWriter, r *http.Request) {
	m := s.fsys.Metrics()
	cfg := s.fsys.Config()
	d := overviewData{Version: s.opts.Version, Started: s.opts.Started, Uptime: time.Since(s.opts.Started).Round(time.Second),
		Role: m.Role, HA: len(cfg.HA.ZooKeeper) > 0, Mounts: m.Mounts, Cache: m.Cache, Files: m.Files, Journal: m.Journal, Persist: m.Persist}
	d.Tiers = append(d.Tiers, tierRow{Name: "Memory", Location: "heap", Capacity: m.Cache.MemCapacity, Used: m.Cache.MemBytes, Free: max(m.Cache.MemCapacity-m.Cache.MemBytes, 0)})
	if m.Cache.DiskCapacity > 0 {
		d.Tiers = append(d.Tiers, tierRow{Name: "Disk", Location: cfg.CacheDir, Capacity: m.Cache.DiskCapacity, Used: m.Cache.DiskBytes, Free: max(m.Cache.DiskCapacity-m.Cache.DiskBytes, 0)})
	}
	switch {
	case d.HA:
		d.Journal2.Where = redactURI(cfg.HA.Journal)
	case cfg.JournalDir != "":
		d.Journal2.Where = cfg.JournalDir
	}
	d.Journal2.CheckpointBytes = cfg.JournalCheckpointBytes
	s.render(w, r, http.StatusOK, "overview", "Overview", "overview", d)
}

// ---- Mount table

type mountRow struct {
	unifiedfs.MountInfo
	UFSShown string
	Opts     []string
}

func (s *server) mountsPage(w http.ResponseWriter, r *http.Request) {
	var rows []mountRow
	for _, m := range s.fsys.Mounts() {
		rows = append(rows, mountRow{MountInfo: m, UFSShown: redactURI(m.UFS), Opts: sortedOptions(m.Options)})
	}
	s.render(w, r, http.StatusOK, "mounts", "Mount table", "mounts", rows)
}

// sortedOptions formats options (already redacted) as sorted key=value strings, redacting
// again so that no caller's mistake shows a secret.
func sortedOptions(opts map[string]string) []string {
	red := ufs.RedactOptions(opts)
	out := make([]string, 0, len(red))
	for k, v := range red {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// ---- Configuration

type configRow struct {
	Name, Property, Value string
}

type configGroup struct {
	Title string
	Rows  []configRow
}

func (s *server) configPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "config", "Configuration", "config", configGroups(s.fsys.Config(), s.fsys.Metrics().Cache))
}

// configGroups lays out the effective configuration; zero "let the cache choose" values
// show what the cache chose.
func configGroups(c unifiedfs.Config, cm unifiedfs.CacheMetrics) []configGroup {
	str := func(v any) string { return fmt.Sprint(v) }
	orNone := func(v string) string {
		if v == "" {
			return "—"
		}
		return v
	}
	size := func(n int64) string { return humanBytes(n) }
	interval := func(d time.Duration) string {
		switch d {
		case unifiedfs.SyncNever:
			return "never (-1)"
		case unifiedfs.SyncAlways:
			return "always (0)"
		}
		return d.String()
	}
	opts := func(m map[string]string) string { return orNone(strings.Join(sortedOptions(m), ", ")) }
	var paths []string
	for p, d := range c.PathSyncIntervals {
		paths = append(paths, ufs.Rooted(strings.TrimPrefix(p, "/"))+"="+interval(d))
	}
	sort.Strings(paths)
	limit := str(c.SyncLimit)
	if c.SyncLimit < 0 {
		limit = "no limit"
	}
	groups := []configGroup{
		{"Namespace", []configRow{
			{"RootUFS", "alluxio.master.mount.table.root.ufs", redactURI(c.RootUFS)},
			{"RootOptions", "alluxio.master.mount.table.root.option.*", opts(c.RootOptions)},
			{"RootReadOnly", "alluxio.master.mount.table.root.readonly", str(c.RootReadOnly)},
			{"RootShared", "alluxio.master.mount.table.root.shared", str(c.RootShared)},
			{"WriteType", "alluxio.user.file.writetype.default", c.WriteType.String()},
			{"ReadType", "alluxio.user.file.readtype.default", c.ReadType.String()},
		}},
		{"Block cache", []configRow{
			{"BlockSize", "alluxio.user.block.size.bytes.default", size(cm.BlockSize)},
			{"CacheCapacity", "alluxio.worker.memory.size", size(cm.MemCapacity)},
			{"CacheDir", "alluxio.worker.tieredstore.level1.dirs.path", orNone(c.CacheDir)},
			{"CacheDiskCapacity", "alluxio.worker.tieredstore.level1.dirs.quota", size(c.CacheDiskCapacity)},
		}},
		{"Persist", []configRow{
			{"PersistWorkers", "unifiedfs.persist.workers", str(c.PersistWorkers)},
			{"PersistRetryBase", "unifiedfs.persist.retry.base", c.PersistRetryBase.String()},
			{"CloseTimeout", "unifiedfs.close.timeout", c.CloseTimeout.String()},
		}},
		{"Metadata sync", []configRow{
			{"SyncInterval", "alluxio.user.file.metadata.sync.interval", interval(c.SyncInterval)},
			{"PathSyncIntervals", "unifiedfs.path.sync.interval.<path>", orNone(strings.Join(paths, ", "))},
			{"SyncLimit", "alluxio.user.file.metadata.sync.limit", limit},
			{"SyncTraversal", "alluxio.master.metadata.sync.traversal.order", c.SyncTraversal.String()},
			{"SyncConcurrency", "unifiedfs.sync.concurrency", str(c.SyncConcurrency)},
			{"ActiveSyncInterval", "alluxio.master.ufs.active.sync.interval", c.ActiveSyncInterval.String()},
			{"ActiveSyncMaxActivities", "alluxio.master.ufs.active.sync.max.activities", str(c.ActiveSyncMaxActivities)},
			{"ActiveSyncMaxAge", "alluxio.master.ufs.active.sync.max.age", str(c.ActiveSyncMaxAge)},
		}},
		{"Journal", []configRow{
			{"JournalDir", "alluxio.master.journal.folder", orNone(c.JournalDir)},
			{"JournalCheckpointBytes", "", size(c.JournalCheckpointBytes)},
		}},
	}
	ha := configGroup{Title: "High availability"}
	if len(c.HA.ZooKeeper) == 0 {
		ha.Rows = []configRow{{"HA", "alluxio.zookeeper.enabled", "false (single process)"}}
	} else {
		ha.Rows = []configRow{
			{"HA.ZooKeeper", "alluxio.zookeeper.address", strings.Join(c.HA.ZooKeeper, ",")},
			{"HA.ElectionPath", "alluxio.zookeeper.election.path", orNone(c.HA.ElectionPath)},
			{"HA.LeaderPath", "alluxio.zookeeper.leader.path", orNone(c.HA.LeaderPath)},
			{"HA.SessionTimeout", "alluxio.zookeeper.session.timeout", c.HA.SessionTimeoutOrDefault().String()},
			{"HA.Journal", "alluxio.master.journal.folder", redactURI(c.HA.Journal)},
			{"HA.JournalOptions", "", opts(c.HA.JournalOptions)},
			{"HA.Address", "alluxio.master.hostname, alluxio.master.rpc.port", orNone(c.HA.Address)},
			{"HA.TailInterval", "", c.HA.TailInterval.String()},
		}
	}
	return append(groups, ha)
}

// ---- Metrics page

type statsData struct {
	M        unifiedfs.Metrics
	MemHits  int64
	Lookups  int64 // hits + misses
	Mounts   []unifiedfs.MountStats
	AnyRetry bool
}

func (s *server) statsPage(w http.ResponseWriter, r *http.Request) {
	m := s.fsys.Metrics()
	d := statsData{M: m, MemHits: m.Cache.Hits - m.Cache.DiskHits, Lookups: m.Cache.Hits + m.Cache.Misses, Mounts: s.fsys.MountStats()}
	for _, ms := range d.Mounts {
		d.AnyRetry = d.AnyRetry || ms.HasRetry
	}
	s.render(w, r, http.StatusOK, "stats", "Metrics", "stats", d)
}

// ---- Cluster

type clusterData struct {
	HA      bool
	Self    unifiedfs.RoleInfo
	Members []Member
	Err     string
	Now     time.Time
}

func (s *server) clusterPage(w http.ResponseWriter, r *http.Request) {
	d := clusterData{HA: len(s.fsys.Config().HA.ZooKeeper) > 0, Self: s.fsys.Role(), Now: time.Now()}
	if d.HA {
		if s.opts.Members != nil {
			ms, err := s.opts.Members(r.Context())
			if err != nil {
				d.Err = err.Error()
			}
			d.Members = ms
		}
		if len(d.Members) == 0 {
			d.Members = []Member{{RoleInfo: d.Self, Self: true}}
		}
	}
	s.render(w, r, http.StatusOK, "cluster", "Cluster", "cluster", d)
}
