package shell

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// progress draws one self-overwriting status line ("persist: 3/10 files, 12.00MB/50.00MB,
// 4.10MB/s") on a terminal; when stdout is not a terminal it draws nothing, and its
// printf is a plain Fprintf. It is safe for concurrent use.
type progress struct {
	w     io.Writer
	on    bool
	label string
	now   func() time.Time
	every time.Duration

	mu         sync.Mutex
	start      time.Time
	last       time.Time
	files, nf  int
	bytes, nb  int64
	drawn      bool
	stopTicker chan struct{}
	tickerDone chan struct{}
}

func (c *cli) newProgress(label string, files int, bytes int64) *progress {
	return &progress{w: c.stdout, on: c.tty, label: label, now: time.Now, every: 100 * time.Millisecond,
		start: time.Now(), nf: files, nb: bytes}
}

// add records finished files and transferred bytes and redraws, at most every p.every.
func (p *progress) add(files int, bytes int64) {
	if !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.files += files
	p.bytes += bytes
	if now := p.now(); now.Sub(p.last) >= p.every {
		p.last = now
		p.draw(now)
	}
}

// draw writes the status line; p.mu is held.
func (p *progress) draw(now time.Time) {
	line := p.label + ":"
	if p.nf > 0 || p.files > 0 {
		line += fmt.Sprintf(" %d", p.files)
		if p.nf > 0 {
			line += fmt.Sprintf("/%d", p.nf)
		}
		line += " files,"
	}
	if p.nb > 0 || p.bytes > 0 {
		line += " " + humanSize(p.bytes)
		if p.nb > 0 {
			line += "/" + humanSize(p.nb)
		}
		if secs := now.Sub(p.start).Seconds(); secs > 0 {
			line += fmt.Sprintf(", %s/s", humanSize(int64(float64(p.bytes)/secs)))
		}
	}
	line += fmt.Sprintf(" (%s)", now.Sub(p.start).Round(100*time.Millisecond))
	fmt.Fprintf(p.w, "\r\x1b[K%s", line)
	p.drawn = true
}

// printf prints a normal output line, clearing the status line first.
func (p *progress) printf(format string, a ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.drawn = false
	}
	fmt.Fprintf(p.w, format, a...)
}

// tick redraws the line every p.every until done, for work that reports no counts
// (loadMetadata); it shows the elapsed time.
func (p *progress) tick() {
	if !p.on {
		return
	}
	p.stopTicker, p.tickerDone = make(chan struct{}), make(chan struct{})
	go func(stop, finished chan struct{}) {
		defer close(finished)
		t := time.NewTicker(p.every)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				p.add(0, 0)
			}
		}
	}(p.stopTicker, p.tickerDone)
}

// done stops the ticker and erases the status line.
func (p *progress) done() {
	if p.stopTicker != nil {
		close(p.stopTicker)
		<-p.tickerDone
		p.stopTicker = nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.drawn = false
	}
}

// countingWriter reports written bytes to a progress line.
type countingWriter struct {
	w io.Writer
	p *progress
}

func (cw countingWriter) Write(b []byte) (int, error) {
	n, err := cw.w.Write(b)
	cw.p.add(0, int64(n))
	return n, err
}
