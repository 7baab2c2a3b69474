package retry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/unifiedfs/unifiedfs/ufs"
)

var bg = context.Background()

func status(code int, name string, header ...string) error {
	h := http.Header{}
	for i := 0; i+1 < len(header); i += 2 {
		h.Set(header[i], header[i+1])
	}
	return &StatusError{Response: Response{Status: code, Code: name, Header: h}}
}

func refused(t *testing.T) error {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, err = net.Dial("tcp", addr)
	if err == nil {
		t.Skip("a closed port accepted a connection")
	}
	return err
}

func TestClassify(t *testing.T) {
	p := &Policy{Codes: map[string]Class{"QuotaExceeded": Throttled, "InternalError": Final}}
	reset := &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
	cases := []struct {
		name string
		err  error
		want Class
	}{
		{"refused", refused(t), Transient},
		{"reset", reset, Transient},
		{"reset in url.Error", fmt.Errorf("Get x: %w", reset), Transient},
		{"unexpected EOF", fmt.Errorf("read body: %w", io.ErrUnexpectedEOF), Transient},
		{"EOF before response", io.EOF, Transient},
		{"i/o timeout", &net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}, Transient},
		{"idle connection closed", errors.New("http: server closed idle connection"), Transient},
		{"attempt timeout", &timeoutError{after: time.Second, err: context.DeadlineExceeded}, Transient},
		{"cancelled", fmt.Errorf("x: %w", context.Canceled), Final},
		{"inner deadline", context.DeadlineExceeded, Transient},
		{"no such host", &net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true}, Final},
		{"500", status(500, "InternalServerError"), Transient},
		{"500 code table", status(500, "InternalError"), Final},
		{"502", status(502, ""), Transient},
		{"503", status(503, "ServiceUnavailable"), Transient},
		{"503 SlowDown", status(503, "SlowDown"), Throttled},
		{"503 Retry-After", status(503, "", "Retry-After", "2"), Throttled},
		{"429", status(429, ""), Throttled},
		{"kodo 573", status(573, ""), Throttled},
		{"kodo 599", status(599, ""), Transient},
		{"code table", status(400, "QuotaExceeded"), Throttled},
		{"501", status(501, "NotImplemented"), Final},
		{"400", status(400, "InvalidArgument"), Final},
		{"401", status(401, "InvalidAccessKeyId"), Final},
		{"403", status(403, "AccessDenied"), Final},
		{"404", status(404, "NoSuchKey"), Final},
		{"408", status(408, ""), Transient},
		{"412", status(412, "PreconditionFailed"), Final},
		{"kodo 612", status(612, ""), Final},
		{"kodo 631", status(631, ""), Final},
		{"permanent 503", Permanent(status(503, "")), Final},
		{"changed", fmt.Errorf("%w: etag", ufs.ErrChanged), Final},
		{"unknown", errors.New("something else"), Final},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := p.Classify(c.err); got != c.want {
				t.Errorf("%s: Classify(%v) = %v, want %v", c.name, c.err, got, c.want)
			}
		})
	}
	// An inspector finds an SDK's error type.
	type sdkErr struct{ error }
	q := &Policy{Inspect: func(err error) (Response, bool) {
		var se sdkErr
		if errors.As(err, &se) {
			return Response{Status: 503, Code: "SlowDown"}, true
		}
		return Response{}, false
	}}
	if got := q.Classify(fmt.Errorf("op: %w", sdkErr{errors.New("x")})); got != Throttled {
		t.Errorf("inspected SDK error: %v, want throttled", got)
	}
}

func TestDelayFullJitter(t *testing.T) {
	p := &Policy{BaseDelay: 10 * time.Millisecond, MaxDelay: 70 * time.Millisecond,
		Jitter: func(max time.Duration) time.Duration { return max }}
	for n, want := range map[int]time.Duration{1: 10, 2: 20, 3: 40, 4: 70, 30: 70} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			if got := p.Delay(n, errors.New("x")); got != want*time.Millisecond {
				t.Errorf("ceiling of retry %d = %v, want %v", n, got, want*time.Millisecond)
			}
		})
	}
	p.Jitter = nil
	for n := 1; n < 8; n++ {
		for range 50 {
			if d := p.Delay(n, errors.New("x")); d < 0 || d > 70*time.Millisecond {
				t.Fatalf("delay %v outside [0, 70ms]", d)
			}
		}
	}
	// Retry-After wins over backoff and MaxDelay.
	if d := p.Delay(1, status(503, "SlowDown", "Retry-After", "3")); d != 3*time.Second {
		t.Errorf("Retry-After 3: %v", d)
	}
	date := time.Now().Add(10 * time.Second).UTC().Format(http.TimeFormat)
	if d := p.Delay(1, status(429, "", "Retry-After", date)); d < 8*time.Second || d > 10*time.Second {
		t.Errorf("Retry-After %s: %v", date, d)
	}
	if _, ok := ParseRetryAfter("soon", time.Now()); ok {
		t.Error("a malformed Retry-After parsed")
	}
}

func TestDo(t *testing.T) {
	stats := &Stats{}
	var events []Event
	p := &Policy{Attempts: 4, BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond, Stats: stats,
		OnRetry: func(e Event) { events = append(events, e) }}

	t.Run("TransientThenSuccess", func(t *testing.T) {
		n := 0
		got, err := Value(bg, p, func(context.Context) (string, error) {
			n++
			if n < 3 {
				return "", status(503, "")
			}
			return "ok", nil
		})
		if err != nil || got != "ok" || n != 3 {
			t.Fatalf("Value = %q, %v after %d attempts; want ok after 3", got, err, n)
		}
		if stats.Retries.Load() != 2 || len(events) != 2 || events[1].Attempt != 2 {
			t.Fatalf("retries counted %d, events %+v", stats.Retries.Load(), events)
		}
	})
	t.Run("FinalNotRetried", func(t *testing.T) {
		n := 0
		want := status(403, "AccessDenied")
		err := Do(bg, p, func(context.Context) error { n++; return want })
		if n != 1 || err != want {
			t.Fatalf("403: %d attempts, error %v; want 1 and the error itself", n, err)
		}
	})
	t.Run("Exhausted", func(t *testing.T) {
		n := 0
		before := stats.GaveUp.Load()
		err := Do(bg, p, func(context.Context) error { n++; return status(500, "InternalError") })
		var re *Error
		if n != 4 || !errors.As(err, &re) || re.Attempts != 4 || !strings.Contains(err.Error(), "4 attempts") {
			t.Fatalf("persistent 500: %d attempts, %v", n, err)
		}
		var se *StatusError
		if !errors.As(err, &se) || se.Status != 500 {
			t.Fatalf("the last failure is not in the chain: %v", err)
		}
		if stats.GaveUp.Load() != before+1 {
			t.Fatal("GaveUp not counted")
		}
	})
	t.Run("ThrottledCounted", func(t *testing.T) {
		before := stats.Throttled.Load()
		n := 0
		_ = Do(bg, p, func(context.Context) error {
			n++
			if n == 1 {
				return status(429, "")
			}
			return nil
		})
		if stats.Throttled.Load() != before+1 {
			t.Fatal("throttle not counted")
		}
	})
	t.Run("RetryAfterPastDeadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(bg, time.Second)
		defer cancel()
		start := time.Now()
		n := 0
		err := Do(ctx, p, func(context.Context) error { n++; return status(503, "SlowDown", "Retry-After", "30") })
		var re *Error
		if n != 1 || !errors.As(err, &re) || !strings.Contains(err.Error(), "deadline") {
			t.Fatalf("Retry-After 30s in a 1s deadline: %d attempts, %v", n, err)
		}
		if el := time.Since(start); el > 500*time.Millisecond {
			t.Fatalf("gave up after %v, want at once", el)
		}
	})
	t.Run("CallerDeadlineNotRetried", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(bg, 20*time.Millisecond)
		defer cancel()
		n := 0
		err := Do(ctx, p, func(ctx context.Context) error { n++; <-ctx.Done(); return ctx.Err() })
		if n != 1 || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("caller's deadline: %d attempts, %v", n, err)
		}
	})
	t.Run("CancelWhileWaiting", func(t *testing.T) {
		ctx, cancel := context.WithCancel(bg)
		q := *p
		q.BaseDelay, q.MaxDelay = time.Hour, time.Hour
		q.Jitter = func(max time.Duration) time.Duration { return max }
		q.OnRetry = func(Event) { cancel() }
		last := status(502, "")
		err := Do(ctx, &q, func(context.Context) error { return last })
		if !errors.Is(err, context.Canceled) || !errors.Is(err, last) {
			t.Fatalf("cancelled while waiting: %v, want context.Canceled and the last failure", err)
		}
	})
	t.Run("AttemptTimeout", func(t *testing.T) {
		q := *p
		q.AttemptTimeout = 20 * time.Millisecond
		n := 0
		start := time.Now()
		err := Do(bg, &q, func(ctx context.Context) error {
			n++
			<-ctx.Done() // a request that never answers
			return ctx.Err()
		})
		if n != 4 || err == nil || !strings.Contains(err.Error(), "unifiedfs.request.timeout") {
			t.Fatalf("hanging attempts: %d, %v; want 4 attempts ending in a request timeout", n, err)
		}
		if el := time.Since(start); el > 2*time.Second {
			t.Fatalf("took %v", el)
		}
		if q.Unbounded().AttemptTimeout != 0 || q.AttemptTimeout == 0 {
			t.Fatal("Unbounded must copy without the timeout")
		}
	})
}

// cutSource serves data from an offset; each body it opens fails after the next number of
// bytes in cuts (with err), then serves whole bodies.
type cutSource struct {
	data   []byte
	cuts   []int
	err    error
	opens  []int64
	openFn func(off int64) error
}

type cutBody struct {
	r    io.Reader
	left int
	err  error
}

func (b *cutBody) Read(p []byte) (int, error) {
	if b.left == 0 {
		return 0, b.err
	}
	if b.left > 0 && len(p) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	if b.left > 0 {
		b.left -= n
	}
	return n, err
}

func (b *cutBody) Close() error { return nil }

func (s *cutSource) open(_ context.Context, off int64) (io.ReadCloser, error) {
	s.opens = append(s.opens, off)
	if s.openFn != nil {
		if err := s.openFn(off); err != nil {
			return nil, err
		}
	}
	b := &cutBody{r: bytes.NewReader(s.data[off:]), left: -1, err: s.err}
	if len(s.cuts) > 0 {
		b.left, s.cuts = s.cuts[0], s.cuts[1:]
	}
	return b, nil
}

func TestResume(t *testing.T) {
	data := make([]byte, 1<<20)
	rand.New(rand.NewSource(1)).Read(data)
	p := &Policy{Attempts: 3, MaxResumes: 10, Stats: &Stats{}}
	reset := &net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}

	t.Run("ExactBytes", func(t *testing.T) {
		src := &cutSource{data: data, cuts: []int{1000, 0, 70000, 1}, err: reset}
		first, _ := src.open(bg, 5)
		r := Resume(bg, p, first, 5, src.open)
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, data[5:]) {
			t.Fatalf("read %d bytes, %v; want the %d from offset 5", len(got), err, len(data)-5)
		}
		want := []int64{5, 1005, 1005, 71005, 71006}
		if fmt.Sprint(src.opens) != fmt.Sprint(want) {
			t.Fatalf("opened at %v, want %v", src.opens, want)
		}
		if p.Stats.Resumed.Load() != 4 {
			t.Fatalf("resumes counted: %d", p.Stats.Resumed.Load())
		}
	})
	t.Run("NoProgressGivesUp", func(t *testing.T) {
		src := &cutSource{data: data, cuts: []int{10, 0, 0, 0, 0}, err: io.ErrUnexpectedEOF}
		first, _ := src.open(bg, 0)
		got, err := io.ReadAll(Resume(bg, p, first, 0, src.open))
		var re *Error
		if !errors.As(err, &re) || !errors.Is(err, io.ErrUnexpectedEOF) || len(got) != 10 || !strings.Contains(err.Error(), "byte 10") {
			t.Fatalf("read %d bytes, %v; want 10 then a give-up naming byte 10", len(got), err)
		}
		if len(src.opens) != 3 { // the first body and two re-opens (3 attempts without progress)
			t.Fatalf("opened %d times", len(src.opens))
		}
	})
	t.Run("ResumeBudget", func(t *testing.T) {
		q := *p
		q.MaxResumes = 2
		src := &cutSource{data: data, cuts: []int{10, 10, 10, 10}, err: reset}
		first, _ := src.open(bg, 0)
		got, err := io.ReadAll(Resume(bg, &q, first, 0, src.open))
		if err == nil || len(got) != 30 || !strings.Contains(err.Error(), "resumes") {
			t.Fatalf("read %d bytes, %v; want 30 and a spent budget", len(got), err)
		}
	})
	t.Run("ChangedIsFinal", func(t *testing.T) {
		changed := fmt.Errorf("%w: 412", ufs.ErrChanged)
		src := &cutSource{data: data, cuts: []int{10}, err: reset,
			openFn: func(off int64) error {
				if off > 0 {
					return changed
				}
				return nil
			}}
		first, _ := src.open(bg, 0)
		got, err := io.ReadAll(Resume(bg, p, first, 0, src.open))
		if !errors.Is(err, ufs.ErrChanged) || len(got) != 10 || len(src.opens) != 2 {
			t.Fatalf("read %d bytes, %v after %d opens; want ErrChanged after one re-open", len(got), err, len(src.opens))
		}
	})
	t.Run("FinalBodyErrorNotResumed", func(t *testing.T) {
		bad := errors.New("crc mismatch")
		src := &cutSource{data: data, cuts: []int{10}, err: bad}
		first, _ := src.open(bg, 0)
		_, err := io.ReadAll(Resume(bg, p, first, 0, src.open))
		if err != bad || len(src.opens) != 1 {
			t.Fatalf("%v after %d opens", err, len(src.opens))
		}
	})
	t.Run("Close", func(t *testing.T) {
		src := &cutSource{data: data}
		first, _ := src.open(bg, 0)
		r := Resume(bg, p, first, 0, src.open)
		r.Close()
		if _, err := r.Read(make([]byte, 1)); !errors.Is(err, fs.ErrClosed) {
			t.Fatalf("Read after Close: %v", err)
		}
	})
}

func TestParse(t *testing.T) {
	c, err := Parse(ufs.NewOptions(nil), Aliases{})
	if err != nil {
		t.Fatal(err)
	}
	p := c.Policy
	if p.Attempts != DefaultAttempts || p.BaseDelay != DefaultBaseDelay || p.MaxDelay != DefaultMaxDelay ||
		p.AttemptTimeout != DefaultRequestTimeout || p.MaxResumes != DefaultResumes ||
		c.ConnectTimeout != DefaultConnectTimeout || c.ResponseTimeout != DefaultResponseTimeout ||
		c.IdleTimeout != DefaultIdleTimeout || c.AbortTimeout != DefaultAbortTimeout {
		t.Fatalf("defaults: %+v", c)
	}
	a := Aliases{Retries: []string{"fs.x.retries"}, BaseDelay: []string{"fs.x.delay"}, IdleTimeout: []string{"fs.x.socket"}}
	c, err = Parse(ufs.NewOptions(map[string]string{"fs.x.retries": "0", "fs.x.delay": "5ms", "fs.x.socket": "2s",
		"UNIFIEDFS.READ.RESUME.MAX": "7", "unifiedfs.abort.timeout": "1500"}), a)
	if err != nil {
		t.Fatal(err)
	}
	if c.Policy.Attempts != 1 || c.Policy.BaseDelay != 5*time.Millisecond || c.IdleTimeout != 2*time.Second ||
		c.Policy.MaxResumes != 7 || c.AbortTimeout != 1500*time.Millisecond {
		t.Fatalf("aliases: %+v", c)
	}
	c, err = Parse(ufs.NewOptions(map[string]string{"fs.x.retries": "9", "unifiedfs.retry.attempts": "2",
		AliasResumes: "3"}), a)
	if err != nil || c.Policy.Attempts != 2 || c.Policy.MaxResumes != 3 {
		t.Fatalf("the shared key must win over an alias: %+v, %v", c.Policy, err)
	}
	for _, bad := range []map[string]string{
		{KeyAttempts: "0"}, {KeyAttempts: "many"}, {KeyIdleTimeout: "0"}, {KeyConnectTimeout: "-1s"},
		{KeyBaseDelay: "1s", KeyMaxDelay: "10ms"}, {"fs.x.retries": "-1"}, {KeyResumes: "-2"},
	} {
		_, err := Parse(ufs.NewOptions(bad), a)
		if !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("Parse(%v) = %v, want fs.ErrInvalid", bad, err)
			continue
		}
		for k := range bad {
			if !strings.Contains(err.Error(), k) && len(bad) == 1 {
				t.Errorf("error %v does not name %s", err, k)
			}
		}
	}
}

func TestIdleConnTimesOut(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			accepted <- c // accepted and never answered: a black hole
		}
	}()
	c, err := DialContext(time.Second, 100*time.Millisecond)(bg, "tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	defer func() { (<-accepted).Close() }()
	start := time.Now()
	_, err = c.Read(make([]byte, 1))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read from a silent peer: %v, want a timeout", err)
	}
	if el := time.Since(start); el < 80*time.Millisecond || el > 2*time.Second {
		t.Fatalf("timed out after %v, want about 100ms", el)
	}
	if (&Policy{}).Classify(err) != Transient {
		t.Fatal("an idle timeout must be retryable")
	}
}
