package web

import (
	"fmt"
	"html/template"
	"io/fs"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// funcs are the helpers the templates call.
var funcs = template.FuncMap{
	"bytes":    humanBytes,
	"num":      thousands,
	"time":     formatTime,
	"duration": formatDuration,
	"pct":      percent,
	"browse":   browseURL,
	"download": func(p string) string { return "download?" + url.Values{"path": {p}}.Encode() },
}

// humanBytes formats n bytes with binary units, as Alluxio's UI does ("1.50MB" there,
// "1.50 MiB" here).
func humanBytes(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	v, unit := float64(n), 0
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	for v >= 1024 && unit < len(units)-1 {
		v /= 1024
		unit++
	}
	return fmt.Sprintf("%.2f %s", v, units[unit])
}

// thousands formats an integer with thousands separators: 100000 is "100,000".
func thousands(v any) string {
	var s string
	switch n := v.(type) {
	case int:
		s = strconv.Itoa(n)
	case int64:
		s = strconv.FormatInt(n, 10)
	case uint64:
		s = strconv.FormatUint(n, 10)
	default:
		return fmt.Sprint(v)
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

// formatDuration rounds d for people: "3d 4h", "2h 5m", "4m 10s", "12s", "350ms".
func formatDuration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(100 * time.Microsecond).String()
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm %ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh %dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd %dh", int(d.Hours())/24, int(d.Hours())%24)
}

// percent is part/whole in percent, rounded down to an integer ("—" for an empty whole).
func percent(part, whole int64) string {
	if whole <= 0 {
		return "—"
	}
	return strconv.FormatInt(part*100/whole, 10) + "%"
}

// browseURL links the Browse page of a namespace path.
func browseURL(p string) string { return "browse?" + url.Values{"path": {p}}.Encode() }

// modeString is ls's permission column: "drwxr-xr-x".
func modeString(perm fs.FileMode, dir bool) string {
	if dir {
		perm |= fs.ModeDir
	}
	return perm.String()
}

// redactURI hides the user information of a URI's authority ("oss://key:secret@bucket/"):
// mount URIs never should carry credentials, but a page must not show them if one does.
func redactURI(u string) string {
	i := strings.Index(u, "://")
	if i < 0 {
		return u
	}
	rest := u[i+3:]
	end := strings.IndexByte(rest, '/')
	if end < 0 {
		end = len(rest)
	}
	if at := strings.LastIndexByte(rest[:end], '@'); at >= 0 {
		return u[:i+3] + "<redacted>@" + rest[at+1:]
	}
	return u
}

// preview is the first bytes of a file as a page shows them: text, or a hex dump.
type preview struct {
	Text   string
	Binary bool
}

// makePreview renders b as text when it is valid UTF-8 without control characters
// other than whitespace, and as a hex dump otherwise. b may end mid-rune.
func makePreview(b []byte) preview {
	text := b
	for i := 0; i < utf8.UTFMax && len(text) > 0 && !utf8.Valid(text); i++ {
		text = text[:len(text)-1] // a rune cut by the preview's end
	}
	if utf8.Valid(text) && !hasControl(text) {
		return preview{Text: string(text)}
	}
	var sb strings.Builder
	for off := 0; off < len(b); off += 16 {
		row := b[off:min(off+16, len(b))]
		fmt.Fprintf(&sb, "%08x  ", off)
		for i := range 16 {
			if i < len(row) {
				fmt.Fprintf(&sb, "%02x ", row[i])
			} else {
				sb.WriteString("   ")
			}
			if i == 7 {
				sb.WriteByte(' ')
			}
		}
		sb.WriteString(" |")
		for _, c := range row {
			if c >= 0x20 && c < 0x7f {
				sb.WriteByte(c)
			} else {
				sb.WriteByte('.')
			}
		}
		sb.WriteString("|\n")
	}
	return preview{Text: sb.String(), Binary: true}
}

func hasControl(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && c != '\n' && c != '\r' && c != '\t' || c == 0x7f {
			return true
		}
	}
	return false
}
