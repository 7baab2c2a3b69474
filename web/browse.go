package web

import (
	"cmp"
	"errors"
	"io"
	"io/fs"
	"math"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/unifiedfs/unifiedfs"
	"github.com/unifiedfs/unifiedfs/ufs"
)

// PreviewBytes is how much of a file its page shows.
const PreviewBytes = 1024

// Sort columns of the Browse page, as the sort key of an entry. Name order is the
// namespace's own (no copy, no sort: a page costs the page); the others list the whole
// directory and sort it by key, ties in name order.
var sortColumns = map[string]func(fs.FileInfo) int64{
	"name": nil,
	"size": func(fi fs.FileInfo) int64 { return fi.Size() },
	"mtime": func(fi fs.FileInfo) int64 {
		if t := fi.ModTime(); !t.IsZero() {
			return t.UnixNano()
		}
		return math.MinInt64
	},
}

// browseQuery is a parsed Browse request.
type browseQuery struct {
	Path          string // rooted
	Offset, Limit int
	Sort          string
	Desc          bool
}

// url links the Browse page of q.
func (q browseQuery) url() string {
	v := url.Values{"path": {q.Path}}
	if q.Offset > 0 {
		v.Set("offset", strconv.Itoa(q.Offset))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Sort != "" && q.Sort != "name" {
		v.Set("sort", q.Sort)
	}
	if q.Desc {
		v.Set("order", "desc")
	}
	return "browse?" + v.Encode()
}

// parseBrowse validates the query; errors name the parameter and what it wants.
func (s *server) parseBrowse(r *http.Request) (browseQuery, error) {
	v := r.URL.Query()
	q := browseQuery{Path: "/", Limit: 0, Sort: "name"}
	var err error
	if q.Path, err = queryPath(v); err != nil {
		return q, err
	}
	if o := v.Get("offset"); o != "" {
		if q.Offset, err = strconv.Atoi(o); err != nil || q.Offset < 0 {
			return q, errors.New("offset must be a whole number of entries, 0 or more")
		}
	}
	if l := v.Get("limit"); l != "" {
		if q.Limit, err = strconv.Atoi(l); err != nil || q.Limit < 1 || q.Limit > MaxPageSize {
			return q, errors.New("limit must be a number of entries from 1 to " + strconv.Itoa(MaxPageSize))
		}
	}
	if c := v.Get("sort"); c != "" {
		if _, ok := sortColumns[c]; !ok {
			return q, errors.New("sort must be name, size or mtime")
		}
		q.Sort = c
	}
	switch v.Get("order") {
	case "", "asc":
	case "desc":
		q.Desc = true
	default:
		return q, errors.New("order must be asc or desc")
	}
	return q, nil
}

// queryPath reads the path parameter: a namespace path, rooted or not; "" is the root.
func queryPath(v url.Values) (string, error) {
	raw := v.Get("path")
	c, err := ufs.CleanPath(raw)
	if err != nil {
		return "", err
	}
	return ufs.Rooted(c), nil
}

type crumb struct{ Name, URL string }

// crumbs are the links to each ancestor of p and p itself.
func crumbs(p string) []crumb {
	out := []crumb{{Name: "/", URL: browseURL("/")}}
	if p == "/" {
		return out
	}
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	for i, name := range parts {
		out = append(out, crumb{Name: name, URL: browseURL("/" + strings.Join(parts[:i+1], "/"))})
	}
	return out
}

type column struct {
	Label, Title string
	URL          string // "" when the column is not sortable
	Arrow        string // "▲" or "▼" on the sorted column
	Num          bool   // right-aligned
}

// entryRow is one row of the Browse table, formatted here rather than by template
// functions: a page of rows then costs no reflective calls but html/template's escapers.
type entryRow struct {
	Name, URL  string
	Class      string // "dir" or "file"
	Slash      string // "/" after a directory's name
	MountKind  string // the UFS kind of a mount point
	Size       string // "—" for directories, as the next two
	BlockSize  string
	InCache    string
	Persist    string
	Pinned     bool
	Incomplete bool
	MTime      string
	Owner      string
	Group      string
	Mode       string
}

type browseData struct {
	Path                      string
	Crumbs                    []crumb
	Parent                    string // URL of the parent, "" at the root
	Columns                   []column
	Entries                   []entryRow
	Total, From, To           int
	Page, Pages               int
	First, Prev, Next, Last   string
	BlockSize                 int64
	Sorted                    string // "size (largest first)", ...; "" for name order
	MountPoint, MountUFS      string
	PastEnd                   bool
	ListedIn                  time.Duration
	ReadOnly, DirIsMountPoint bool
}

// browse serves the Browse page: a directory's entries, or a file's page.
func (s *server) browse(w http.ResponseWriter, r *http.Request) {
	q, err := s.parseBrowse(r)
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, "Invalid request", err.Error())
		return
	}
	st, err := s.fsys.GetStatus(r.Context(), q.Path)
	if err != nil {
		s.failFS(w, r, err)
		return
	}
	if !st.IsDir {
		s.filePage(w, r, st)
		return
	}
	if q.Limit == 0 {
		q.Limit = s.opts.PageSize
	}
	start := time.Now()
	page, total, err := s.listPage(r, q)
	if err != nil {
		s.failFS(w, r, err)
		return
	}
	d := browseData{Path: q.Path, Crumbs: crumbs(q.Path), Total: total, BlockSize: s.fsys.Metrics().Cache.BlockSize,
		MountPoint: st.MountPoint, ReadOnly: st.ReadOnly, DirIsMountPoint: st.IsMountPoint}
	if q.Path != "/" {
		parent, _ := ufs.Split(strings.TrimPrefix(q.Path, "/"))
		d.Parent = browseURL(ufs.Rooted(parent))
	}
	for _, m := range s.fsys.Mounts() {
		if m.Path == st.MountPoint {
			d.MountUFS = redactURI(m.UFS)
		}
	}
	d.Entries = make([]entryRow, 0, len(page))
	bs := humanBytes(d.BlockSize)
	for _, e := range page {
		d.Entries = append(d.Entries, s.row(e, bs))
	}
	d.ListedIn = time.Since(start)
	d.Pages = max((total+q.Limit-1)/q.Limit, 1)
	d.Page = q.Offset/q.Limit + 1
	d.PastEnd = q.Offset > 0 && q.Offset >= total
	if len(page) > 0 {
		d.From, d.To = q.Offset+1, q.Offset+len(page)
	}
	at := func(off int) string { c := q; c.Offset = off; return c.url() }
	if q.Offset > 0 {
		d.First, d.Prev = at(0), at(max(q.Offset-q.Limit, 0))
	}
	if q.Offset+q.Limit < total {
		d.Next, d.Last = at(q.Offset+q.Limit), at((d.Pages-1)*q.Limit)
	}
	d.Columns = s.columns(q)
	if q.Sort != "name" || q.Desc {
		d.Sorted = sortLabel(q)
	}
	s.render(w, r, http.StatusOK, "browse", "Browse", "browse", d)
}

// listPage returns the entries of the page q asks for and the directory's size. Name
// order (either way) copies only the page; other orders list and sort the directory.
func (s *server) listPage(r *http.Request, q browseQuery) ([]fs.DirEntry, int, error) {
	key := sortColumns[q.Sort]
	if key == nil {
		if !q.Desc {
			return s.fsys.ListPage(r.Context(), q.Path, q.Offset, q.Limit)
		}
		_, total, err := s.fsys.ListPage(r.Context(), q.Path, 0, 0)
		if err != nil {
			return nil, 0, err
		}
		// The page counted from the end, reversed.
		end := total - q.Offset
		if end <= 0 {
			return nil, total, nil
		}
		from := max(end-q.Limit, 0)
		page, total, err := s.fsys.ListPage(r.Context(), q.Path, from, end-from)
		slices.Reverse(page)
		return page, total, err
	}
	all, err := s.fsys.ListStatus(r.Context(), q.Path)
	if err != nil {
		return nil, 0, err
	}
	// Keys extracted once: the sort then compares integers, not entries.
	type keyed struct {
		key int64
		i   int
	}
	ks := make([]keyed, len(all))
	for i, e := range all {
		fi, err := e.Info()
		if err != nil {
			return nil, 0, err
		}
		ks[i] = keyed{key(fi), i}
	}
	slices.SortFunc(ks, func(a, b keyed) int {
		c := cmp.Compare(a.key, b.key)
		if q.Desc {
			c = -c
		}
		return cmp.Or(c, cmp.Compare(a.i, b.i))
	})
	lo := min(q.Offset, len(ks))
	hi := min(lo+q.Limit, len(ks))
	page := make([]fs.DirEntry, 0, hi-lo)
	for _, k := range ks[lo:hi] {
		page = append(page, all[k.i])
	}
	return page, len(all), nil
}

func sortLabel(q browseQuery) string {
	switch {
	case q.Sort == "size" && q.Desc:
		return "size, largest first"
	case q.Sort == "size":
		return "size, smallest first"
	case q.Sort == "mtime" && q.Desc:
		return "modification time, newest first"
	case q.Sort == "mtime":
		return "modification time, oldest first"
	}
	return "name, Z to A"
}

// columns are the table's headings, as Alluxio's Browse page has them; the sortable
// ones link to their order (the current one toggles).
func (s *server) columns(q browseQuery) []column {
	sortable := func(label, key string, num bool, title string) column {
		c := column{Label: label, Num: num, Title: title}
		n := q
		n.Offset, n.Sort, n.Desc = 0, key, false
		if q.Sort == key {
			n.Desc = !q.Desc
			c.Arrow = "▲"
			if q.Desc {
				c.Arrow = "▼"
			}
		}
		if n.Limit == s.opts.PageSize {
			n.Limit = 0
		}
		c.URL = n.url()
		return c
	}
	return []column{
		sortable("Name", "name", false, "Sort by name"),
		sortable("Size", "size", true, "Sort by size"),
		{Label: "Block Size", Num: true},
		{Label: "In-Cache", Num: true, Title: "Share of the file's bytes in the block cache"},
		{Label: "Persistence State"},
		{Label: "Pinned"},
		sortable("Modification Time", "mtime", false, "Sort by modification time"),
		{Label: "Owner"},
		{Label: "Group"},
		{Label: "Permission"},
	}
}

// row is one entry of the table; blockSize is the formatted block size.
func (s *server) row(e fs.DirEntry, blockSize string) entryRow {
	fi, err := e.Info()
	if err != nil {
		return entryRow{Name: e.Name(), Class: "file"}
	}
	st, ok := fi.Sys().(*unifiedfs.FileStatus)
	if !ok {
		return entryRow{Name: e.Name(), Class: "file", Size: humanBytes(fi.Size()), MTime: formatTime(fi.ModTime())}
	}
	row := entryRow{Name: st.Name, URL: browseURL(st.Path), Class: "file", Size: "—", BlockSize: "—", InCache: "—", Persist: st.PersistState.String(),
		Pinned: st.Pinned, Incomplete: st.Incomplete, MTime: formatTime(st.ModTime), Owner: st.Owner, Group: st.Group, Mode: modeString(st.Mode, st.IsDir)}
	if st.IsDir {
		row.Class, row.Slash = "dir", "/"
	} else {
		row.Size, row.BlockSize, row.InCache = humanBytes(st.Size), blockSize, cachedPercent(st)
	}
	if st.IsMountPoint {
		for _, m := range s.fsys.Mounts() {
			if m.Path == st.Path {
				row.MountKind = m.Kind
			}
		}
	}
	return row
}

// cachedPercent is a file's in-cache share; an empty file is wholly cached.
func cachedPercent(st *unifiedfs.FileStatus) string {
	if st.Size == 0 {
		return "100%"
	}
	return percent(st.CachedBytes, st.Size)
}

// ---- File page

type blockRun struct {
	From, To int // block indexes, inclusive
	Cached   bool
}

type fileData struct {
	St           *unifiedfs.FileStatus
	Crumbs       []crumb
	Parent       string
	UFSPath      string
	InCache      string
	Mode         string
	BlockSize    int64
	Blocks       int
	CachedBlocks int
	Runs         []blockRun // the first maxRuns runs of equal blocks
	MoreRuns     int
	Map          []mapRect // the block map, at most maxMapWidth cells wide
	MapWidth     int
	BlockErr     string
	Preview      preview
	PreviewLen   int
	PreviewErr   string
	Download     string
}

// maxRuns bounds the block runs listed on a file page; maxMapWidth the cells of its block
// map (a cell then stands for several blocks: cached, uncached, or partly cached).
const (
	maxRuns     = 64
	maxMapWidth = 1000
)

// mapRect is one run of equal cells of the block map.
type mapRect struct {
	X, W  int
	Class string // "cached", "uncached" or "partial"
}

// blockMap draws cached as at most maxMapWidth cells, merged into runs.
func blockMap(cached []bool) ([]mapRect, int) {
	n := len(cached)
	cells := min(n, maxMapWidth)
	var out []mapRect
	for i := range cells {
		lo, hi := i*n/cells, (i+1)*n/cells
		c := 0
		for _, b := range cached[lo:hi] {
			if b {
				c++
			}
		}
		class := "partial"
		switch c {
		case 0:
			class = "uncached"
		case hi - lo:
			class = "cached"
		}
		if k := len(out); k > 0 && out[k-1].Class == class {
			out[k-1].W++
			continue
		}
		out = append(out, mapRect{X: i, W: 1, Class: class})
	}
	return out, cells
}

func (s *server) filePage(w http.ResponseWriter, r *http.Request, st *unifiedfs.FileStatus) {
	parent, _ := ufs.Split(strings.TrimPrefix(st.Path, "/"))
	d := fileData{St: st, Crumbs: crumbs(st.Path), Parent: browseURL(ufs.Rooted(parent)), UFSPath: redactURI(st.UFSPath),
		InCache: cachedPercent(st), Mode: modeString(st.Mode, false), Download: "download?" + url.Values{"path": {st.Path}}.Encode()}
	bs, cached, err := s.fsys.CachedBlocks(r.Context(), st.Path)
	if err != nil {
		d.BlockErr = err.Error()
	}
	d.BlockSize, d.Blocks = bs, len(cached)
	runs := 0
	for i, c := range cached {
		if c {
			d.CachedBlocks++
		}
		if n := len(d.Runs); n > 0 && d.Runs[n-1].Cached == c && d.Runs[n-1].To == i-1 {
			d.Runs[n-1].To = i
			continue
		}
		if i == 0 || cached[i-1] != c {
			runs++
		}
		if len(d.Runs) < maxRuns {
			d.Runs = append(d.Runs, blockRun{From: i, To: i, Cached: c})
		}
	}
	d.MoreRuns = runs - len(d.Runs)
	d.Map, d.MapWidth = blockMap(cached)
	d.Preview, d.PreviewLen, err = s.head(r, st.Path)
	if err != nil {
		d.PreviewErr = err.Error()
	}
	s.render(w, r, http.StatusOK, "file", st.Name, "browse", d)
}

// head reads up to PreviewBytes of the file at p, without filling the cache.
func (s *server) head(r *http.Request, p string) (preview, int, error) {
	f, err := s.fsys.OpenFile(r.Context(), p, unifiedfs.OpenOptions{ReadType: unifiedfs.NoCache})
	if err != nil {
		return preview{}, 0, err
	}
	defer f.Close()
	buf := make([]byte, PreviewBytes)
	n, err := io.ReadFull(f, buf)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return preview{}, 0, err
	}
	return makePreview(buf[:n]), n, nil
}

// download serves a file's content as an attachment (Range requests included), read
// without filling the cache.
func (s *server) download(w http.ResponseWriter, r *http.Request) {
	p, err := queryPath(r.URL.Query())
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, "Invalid request", err.Error())
		return
	}
	f, err := s.fsys.OpenFile(r.Context(), p, unifiedfs.OpenOptions{ReadType: unifiedfs.NoCache})
	if err != nil {
		s.failFS(w, r, err)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		s.failFS(w, r, err)
		return
	}
	rs, ok := f.(io.ReadSeeker)
	if !ok || fi.IsDir() {
		s.fail(w, r, http.StatusBadRequest, "Not a file", p+" is a directory: only files can be downloaded.")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	cd := mime.FormatMediaType("attachment", map[string]string{"filename": fi.Name()})
	if cd == "" {
		cd = "attachment"
	}
	h.Set("Content-Disposition", cd)
	h.Set("Cache-Control", "no-store")
	http.ServeContent(w, r, "", fi.ModTime(), rs)
}
