// Package retry is the one retry and timeout policy of every unifiedfs driver: which
// failures are retried (Classify), how long to wait between attempts (full-jitter
// exponential backoff, or the store's Retry-After), how a ranged read that breaks mid-body
// resumes from the first byte it has not delivered for the same object version
// (Resume), the connection timeouts of a driver's HTTP transport (NewTransport,
// DialContext), and the mount options that set all of it (Parse).
//
// Drivers turn their SDK's own retries off (they would multiply the attempts) and run
// each request through Do or Value.
//
// # Options
//
// Every driver takes these keys (case-insensitive), with the same meaning and defaults;
// a driver's own older keys are accepted as aliases where its documentation says so.
//
//	unifiedfs.retry.attempts     tries of one request, the first included (default 4;
//	                             1 disables retries). Retried: refused, reset or dropped
//	                             connections, timeouts, 5xx, throttling (429, 503
//	                             SlowDown, Kodo 573). Never retried: authentication and
//	                             permission errors, not found, precondition failed, other
//	                             4xx, a cancelled or expired context.
//	unifiedfs.retry.base.delay   backoff cap of the first retry; the n-th retry waits a
//	                             uniformly random time in [0, min(max, base*2^(n-1))]
//	                             (default 100ms)
//	unifiedfs.retry.max.delay    largest backoff (default 5s). A Retry-After the store
//	                             sends is waited instead, whatever its length; a wait
//	                             that would end after the context's deadline is not
//	                             started: the call fails at once with the last error.
//	unifiedfs.read.resume.max    re-opens of one read after its body broke mid-way
//	                             (default 100; 0 disables); consecutive re-opens that
//	                             deliver nothing are also bounded by retry.attempts.
//	                             Alias: alluxio.underfs.object.store.read.retry.max.num
//	unifiedfs.connect.timeout    dial (and TLS handshake) of one connection (default 10s)
//	unifiedfs.response.timeout   wait for the response headers once a request is sent
//	                             (default 30s)
//	unifiedfs.idle.timeout       longest time a connection may go without a byte moved,
//	                             while reading a response body or sending a request body
//	                             (default 30s)
//	unifiedfs.request.timeout    cap on one attempt of a request that moves no file data
//	                             (metadata, listings, copies, completing uploads); data
//	                             transfers are bounded by idle.timeout instead, their
//	                             length growing with the data (default 60s)
//	unifiedfs.abort.timeout      bound of the abort of a failed multipart upload, which
//	                             runs on a context detached from the caller's (default 10s)
//
// Durations take Go or Alluxio forms ("250ms", "30s", "5min", bare milliseconds).
//
// # Metrics
//
// Policy.Stats counts retries, throttling retries, resumed reads and calls that failed
// after retrying; Policy.OnRetry sees every retry as an Event. Drivers implement Reporter.
package retry
