package retry

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/unifiedfs/unifiedfs/ufs"
)

// Policy says how often and how patiently a driver retries. The zero value makes one
// attempt. A Policy is read-only once in use and safe for concurrent use.
type Policy struct {
	// Attempts is the number of tries of one request, the first included; values below
	// 1 mean 1.
	Attempts int
	// BaseDelay and MaxDelay shape the full-jitter backoff: the wait before retry n is
	// uniformly random in [0, min(MaxDelay, BaseDelay*2^(n-1))].
	BaseDelay time.Duration
	MaxDelay  time.Duration
	// AttemptTimeout caps each attempt run by Do and Value (0: no cap). It must not be
	// used for a call whose result reads from the attempt's context after it returns (a
	// response body): use Unbounded for those.
	AttemptTimeout time.Duration
	// MaxResumes is the most times one Resume reader re-opens its source (0: never).
	MaxResumes int

	// Inspect finds the store's response in an error (an SDK's error type). When nil or
	// when it reports false, only *StatusError and network errors are recognised.
	Inspect func(error) (Response, bool)
	// Codes classifies the store's error codes; it is consulted before the HTTP status,
	// so a driver can mark a code as Throttled or Final whatever its status.
	Codes map[string]Class

	// OnRetry, when set, is called before each wait for a retry or a resume.
	OnRetry func(Event)
	// Stats, when set, counts retries, throttles, resumes and exhausted calls.
	Stats *Stats
	// Jitter returns a uniformly random duration in [0, max]; nil uses math/rand/v2.
	// Tests set it for deterministic waits.
	Jitter func(max time.Duration) time.Duration
}

// Event describes one retry (or resume) about to happen.
type Event struct {
	Attempt int           // the attempt that failed, 1-based (for a resume: the resume's number)
	Class   Class         // Transient or Throttled
	Err     error         // the failure
	Delay   time.Duration // the wait before the next attempt
	Resume  bool          // a read is re-opened mid-body
	Offset  int64         // for a resume: the first byte not yet delivered
}

// Stats counts what a policy did. All fields are safe for concurrent use. It is
// ufs.RetryStats, declared there so that the guard around every driver can pass
// Reporter through.
type Stats = ufs.RetryStats

// Reporter is implemented by UFSs whose requests run under a Policy, so that a program can
// export the counts as metrics (ufs.RetryReporter).
type Reporter = ufs.RetryReporter

// Unbounded returns a copy of p without the attempt timeout, for calls whose result keeps
// reading from the attempt's context (a response body).
func (p *Policy) Unbounded() *Policy {
	q := *p
	q.AttemptTimeout = 0
	return &q
}

func (p *Policy) attempts() int { return max(p.Attempts, 1) }

// Error is returned by Do and Value when they stop after retrying, or because the next
// wait would pass the context's deadline. It wraps the last failure, so errors.Is and
// errors.As see the store's error.
type Error struct {
	Attempts int    // attempts made
	Reason   string // why no further attempt was made
	Err      error  // the last failure
}

func (e *Error) Error() string {
	return fmt.Sprintf("%v (%s after %d attempts)", e.Err, e.Reason, e.Attempts)
}

func (e *Error) Unwrap() error { return e.Err }

// Do runs op until it succeeds, fails with an error that is not retryable, the attempts
// are used up, or ctx ends. Each attempt gets a context capped by p.AttemptTimeout. The
// error returned is op's last error (wrapped in *Error after retries), or, when ctx ended
// while waiting, one satisfying errors.Is with ctx.Err() and with op's last error.
func Do(ctx context.Context, p *Policy, op func(ctx context.Context) error) error {
	_, err := Value(ctx, p, func(ctx context.Context) (struct{}, error) { return struct{}{}, op(ctx) })
	return err
}

// Value is Do for an operation with a result, which is returned from the successful
// attempt (and from the last one on failure).
func Value[T any](ctx context.Context, p *Policy, op func(ctx context.Context) (T, error)) (T, error) {
	for attempt := 1; ; attempt++ {
		v, err := runAttempt(ctx, p.AttemptTimeout, op)
		if err == nil {
			return v, nil
		}
		if ctx.Err() != nil {
			return v, err
		}
		class := p.Classify(err)
		if class == Final {
			if attempt > 1 {
				return v, p.giveUp(attempt, "not retryable", err)
			}
			return v, err
		}
		if attempt >= p.attempts() {
			if attempt > 1 {
				return v, p.giveUp(attempt, "no attempts left", err)
			}
			return v, err
		}
		if err := p.wait(ctx, Event{Attempt: attempt, Class: class, Err: err}); err != nil {
			return v, err
		}
	}
}

func runAttempt[T any](ctx context.Context, timeout time.Duration, op func(ctx context.Context) (T, error)) (T, error) {
	if timeout <= 0 {
		return op(ctx)
	}
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	v, err := op(actx)
	if err != nil && actx.Err() != nil && ctx.Err() == nil {
		err = &timeoutError{after: timeout, err: err}
	}
	return v, err
}

// timeoutError marks a failure caused by the attempt's own timeout (retryable), as
// opposed to the caller's context ending (final).
type timeoutError struct {
	after time.Duration
	err   error
}

func (e *timeoutError) Error() string {
	return fmt.Sprintf("request timed out after %v (unifiedfs.request.timeout): %v", e.after, e.err)
}
func (e *timeoutError) Unwrap() error { return e.err }
func (e *timeoutError) Timeout() bool { return true }

func (p *Policy) giveUp(attempts int, reason string, err error) error {
	if p.Stats != nil {
		p.Stats.GaveUp.Add(1)
	}
	return &Error{Attempts: attempts, Reason: reason, Err: err}
}

// wait counts and reports ev, then sleeps for its delay. It returns an error, and does not
// sleep, when the delay would end after ctx's deadline; when ctx ends while sleeping it
// returns an error satisfying errors.Is with ctx.Err() and ev.Err.
func (p *Policy) wait(ctx context.Context, ev Event) error {
	ev.Delay = p.Delay(ev.Attempt, ev.Err)
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < ev.Delay {
		return p.giveUp(ev.Attempt, fmt.Sprintf("the next try in %v would pass the deadline", ev.Delay.Round(time.Millisecond)), ev.Err)
	}
	if p.Stats != nil {
		switch {
		case ev.Resume:
			p.Stats.Resumed.Add(1)
		case ev.Class == Throttled:
			p.Stats.Throttled.Add(1)
		default:
			p.Stats.Retries.Add(1)
		}
	}
	if p.OnRetry != nil {
		p.OnRetry(ev)
	}
	if ev.Delay <= 0 {
		return nil
	}
	t := time.NewTimer(ev.Delay)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w while waiting to retry; last failure: %w", ctx.Err(), ev.Err)
	}
}

// Delay returns the wait before the retry that follows failed attempt n (1-based): the
// Retry-After the store sent with err, else the full-jitter backoff.
func (p *Policy) Delay(n int, err error) time.Duration {
	if d, ok := p.retryAfter(err); ok {
		return d
	}
	if p.BaseDelay <= 0 {
		return 0
	}
	ceiling := p.BaseDelay
	for i := 1; i < n && ceiling < p.MaxDelay; i++ {
		ceiling *= 2
	}
	if p.MaxDelay > 0 {
		ceiling = min(ceiling, p.MaxDelay)
	}
	if p.Jitter != nil {
		return min(max(p.Jitter(ceiling), 0), ceiling)
	}
	return rand.N(ceiling + 1)
}

// Retried reports whether err comes from Do or Value after more than one attempt. A
// request that is not idempotent (completing a multipart upload, a move) may have
// succeeded in an attempt whose answer was lost; a later attempt then fails ("no such
// upload", "no such file"), and the driver should check the outcome before reporting
// failure.
func Retried(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Attempts > 1
}
