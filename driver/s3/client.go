package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/logging"
	"github.com/aws/smithy-go/middleware"

	"github.com/unifiedfs/unifiedfs/ufs"
)

// client is an S3 client and what the driver owns under it.
type client struct {
	s3        *s3.Client
	transport *http.Transport // nil when the caller gave the HTTP client
	region    string
	// checksums is true when uploads carry CRC32 checksums (the SDK's default, unless
	// AWS_REQUEST_CHECKSUM_CALCULATION=when_required or the profile says so).
	checksums bool
}

const (
	connectTimeout    = 10 * time.Second
	maxBackoff        = 20 * time.Second
	credentialTimeout = 30 * time.Second // web identity and SSO sources call STS/SSO
)

// newClient loads the AWS configuration (environment and shared files, as the SDK's
// default loader does), resolves credentials and builds the S3 client.
func newClient(ctx context.Context, o *Options) (*client, error) {
	log := o.Logger
	var load []func(*config.LoadOptions) error
	load = append(load, config.WithLogger(sdkLogger{log}))
	if !o.EC2Metadata {
		// Never ask the instance metadata service: without credentials elsewhere the mount
		// fails at once instead of waiting for 169.254.169.254.
		load = append(load, config.WithEC2IMDSClientEnableState(imds.ClientDisabled))
	}
	if o.HTTPClient != nil {
		load = append(load, config.WithHTTPClient(o.HTTPClient))
	} else {
		// A BuildableClient, so that the loader can add AWS_CA_BUNDLE's certificates.
		load = append(load, config.WithHTTPClient(awshttp.NewBuildableClient().
			WithDialerOptions(func(d *net.Dialer) { d.Timeout = connectTimeout }).
			WithTransportOptions(func(tr *http.Transport) {
				tr.MaxIdleConns = 256
				tr.MaxIdleConnsPerHost = 64
				tr.ForceAttemptHTTP2 = false // S3 speaks HTTP/1.1
			})))
	}
	if o.Region != "" {
		load = append(load, config.WithRegion(o.Region))
	}
	if o.AccessKeyID != "" {
		load = append(load, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(o.AccessKeyID, o.SecretKey, "")))
	}
	cfg, err := config.LoadDefaultConfig(ctx, load...)
	if err != nil {
		if os.Getenv("AWS_CA_BUNDLE") != "" && o.HTTPClient != nil {
			err = fmt.Errorf("%w (AWS_CA_BUNDLE is set: Options.HTTPClient must be an *awshttp.BuildableClient)", err)
		}
		return nil, fmt.Errorf("%w: loading the AWS configuration (environment, shared config files): %w", fs.ErrInvalid, err)
	}
	c := &client{region: regionFor(o, cfg.Region),
		checksums: cfg.RequestChecksumCalculation != aws.RequestChecksumCalculationWhenRequired}
	hc := o.HTTPClient
	if hc == nil {
		bc, ok := cfg.HTTPClient.(*awshttp.BuildableClient)
		if !ok {
			return nil, fmt.Errorf("s3: the AWS configuration replaced the HTTP client with a %T", cfg.HTTPClient)
		}
		tr := bc.GetTransport()
		if d := o.SocketTimeout; d > 0 {
			dial := tr.DialContext
			tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
				conn, err := dial(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				return &idleConn{Conn: conn, timeout: d}, nil
			}
		}
		c.transport = tr
		hc = &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // a redirect is S3 naming the bucket's region: surface it
		}}
	}
	if o.AccessKeyID == "" {
		if err := checkCredentials(ctx, cfg, o); err != nil {
			c.close()
			return nil, err
		}
	}
	base := ""
	if o.Endpoint != "" {
		base, _ = endpointURL(o.Endpoint, o.PlainHTTP)
	}
	c.s3 = s3.NewFromConfig(cfg, func(so *s3.Options) {
		so.Region = c.region
		so.HTTPClient = hc
		so.UsePathStyle = o.PathStyle || base != "" && hostNeedsPathStyle(base)
		if base != "" {
			so.BaseEndpoint = aws.String(base)
		}
		so.Retryer = newRetryer(o.MaxAttempts, o.RetryBaseDelay)
		so.RetryMaxAttempts = 0 // do not let AWS_MAX_ATTEMPTS wrap our retryer again
		so.DisableLogOutputChecksumValidationSkipped = true
		if d := o.RequestTimeout; d > 0 {
			so.APIOptions = append(so.APIOptions, func(st *middleware.Stack) error {
				return st.Finalize.Insert(attemptTimeout{d}, "Retry", middleware.After)
			})
		}
	})
	return c, nil
}

func (c *client) close() {
	if c.transport != nil {
		c.transport.CloseIdleConnections()
	}
}

// regionFor picks the signing region: the option, else the one an AWS endpoint names,
// else the SDK's (AWS_REGION, the profile), else DefaultRegion.
func regionFor(o *Options, sdkRegion string) string {
	if o.Region != "" {
		return o.Region
	}
	if o.Endpoint != "" {
		if base, err := endpointURL(o.Endpoint, o.PlainHTTP); err == nil {
			if r := regionOf(base); r != "" {
				return r
			}
		}
	}
	if sdkRegion != "" {
		return sdkRegion
	}
	return DefaultRegion
}

// checkCredentials resolves the default chain's credentials now, so that a mount without
// any fails at once, naming every source it tried.
func checkCredentials(ctx context.Context, cfg aws.Config, o *Options) error {
	var err error
	if cfg.Credentials == nil {
		err = errors.New("no credential provider")
	} else {
		rctx, cancel := context.WithTimeout(ctx, credentialTimeout)
		var creds aws.Credentials
		creds, err = cfg.Credentials.Retrieve(rctx)
		cancel()
		if err == nil {
			o.Logger.Debug("unifiedfs: s3: credentials from the AWS default chain", "source", creds.Source)
			return nil
		}
	}
	if cerr := ctx.Err(); cerr != nil {
		return ufs.WrapErr(cerr, err)
	}
	env := func(k, def string) string {
		if v := os.Getenv(k); v != "" {
			return v
		}
		return def
	}
	profile := env("AWS_PROFILE", env("AWS_DEFAULT_PROFILE", "default"))
	imdsNote := "EC2 instance metadata was not asked (set " + OptEC2Metadata + "=true to use an instance role)"
	if o.EC2Metadata {
		imdsNote = "EC2 instance metadata (" + env("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://169.254.169.254") + ")"
	}
	sources := []string{
		"the mount options " + OptAccessKeyID + "/" + OptSecretKey + " (or " + OptAWSAccessKeyID + "/" + OptAWSSecretKey + ")",
		"the environment (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)",
		"web identity (AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN)",
		fmt.Sprintf("profile %q of the shared files %s and %s", profile,
			env("AWS_SHARED_CREDENTIALS_FILE", config.DefaultSharedCredentialsFilename()),
			env("AWS_CONFIG_FILE", config.DefaultSharedConfigFilename())),
		"container credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI)",
		imdsNote,
	}
	return fmt.Errorf("%w: %w: tried %s: %w", fs.ErrPermission, ErrNoCredentials, strings.Join(sources, ", "), err)
}

// newRetryer is the SDK's standard retryer with bounded attempts, full-jitter backoff from
// base, and no client-side retry quota (attempts are bounded per request). A shared
// retry policy would plug in here.
func newRetryer(attempts int, base time.Duration) aws.Retryer {
	return retry.NewStandard(func(so *retry.StandardOptions) {
		so.MaxAttempts = attempts
		so.MaxBackoff = maxBackoff
		so.Backoff = jitterBackoff{base: base, max: maxBackoff}
		so.RateLimiter = ratelimit.None
	})
}

// jitterBackoff waits a random time up to base·2^(attempt-1), capped.
type jitterBackoff struct{ base, max time.Duration }

func (j jitterBackoff) BackoffDelay(attempt int, _ error) (time.Duration, error) {
	d := j.base << min(attempt-1, 30)
	if d <= 0 || d > j.max {
		d = j.max
	}
	return time.Duration(rand.Int64N(int64(d) + 1)), nil
}

// attemptTimeout bounds one attempt of a request (it runs after the retry middleware):
// the whole exchange for operations whose response is read in the call, the wait for the
// response headers for GetObject (whose body the caller reads later; the socket timeout
// guards that). An attempt that runs out is retried.
type attemptTimeout struct{ d time.Duration }

func (attemptTimeout) ID() string { return "UnifiedfsAttemptTimeout" }

func (m attemptTimeout) HandleFinalize(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (
	middleware.FinalizeOutput, middleware.Metadata, error,
) {
	actx, cancel := context.WithCancel(ctx)
	timer := time.AfterFunc(m.d, cancel)
	out, md, err := next.HandleFinalize(actx, in)
	fired := !timer.Stop()
	get, isGet := out.Result.(*s3.GetObjectOutput)
	switch {
	case err == nil && isGet && get.Body != nil && fired:
		get.Body.Close() // its context is gone: the body cannot be read
	case err == nil && isGet && get.Body != nil:
		get.Body = &cancelOnClose{ReadCloser: get.Body, cancel: cancel}
		return out, md, nil
	case err == nil:
		cancel()
		return out, md, nil
	}
	cancel()
	if fired && ctx.Err() == nil {
		return middleware.FinalizeOutput{}, md, &attemptTimeoutError{d: m.d}
	}
	return out, md, err
}

// attemptTimeoutError is a request attempt that ran out of time; the retryer retries it.
type attemptTimeoutError struct{ d time.Duration }

func (e *attemptTimeoutError) Error() string {
	return fmt.Sprintf("request attempt timed out after %v (%s)", e.d, OptRequestTimeout)
}
func (e *attemptTimeoutError) Timeout() bool        { return true }
func (e *attemptTimeoutError) RetryableError() bool { return true }

// cancelOnClose releases a GetObject attempt's context when the body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
	once   sync.Once
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.once.Do(c.cancel)
	return err
}

// idleConn fails a read that receives nothing for timeout (a silent connection) while
// letting slow transfers that make progress run.
type idleConn struct {
	net.Conn
	timeout time.Duration
}

func (c *idleConn) Read(p []byte) (int, error) {
	if err := c.Conn.SetReadDeadline(time.Now().Add(c.timeout)); err != nil {
		return 0, err
	}
	return c.Conn.Read(p)
}

// sdkLogger sends the SDK's log lines to slog.
type sdkLogger struct{ l *slog.Logger }

func (s sdkLogger) Logf(c logging.Classification, format string, v ...any) {
	level := slog.LevelDebug
	if c == logging.Warn {
		level = slog.LevelWarn
	}
	s.l.Log(context.Background(), level, "s3: "+fmt.Sprintf(format, v...))
}
