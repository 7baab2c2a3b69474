package s3

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/logging"

	"github.com/unifiedfs/unifiedfs/ufs"
	"github.com/unifiedfs/unifiedfs/ufs/retry"
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

const credentialTimeout = 30 * time.Second // web identity and SSO sources call STS/SSO

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
		// A BuildableClient, so that the loader can add AWS_CA_BUNDLE's certificates to its
		// TLS configuration (which S3's transport takes over below); the credential
		// providers (STS, SSO, containers) use it as it is.
		load = append(load, config.WithHTTPClient(awshttp.NewBuildableClient().
			WithDialerOptions(func(d *net.Dialer) { d.Timeout = o.Retry.ConnectTimeout })))
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
		tr := retry.NewTransport(o.Retry, 0)
		tr.ForceAttemptHTTP2 = false // S3 speaks HTTP/1.1
		if tc := bc.GetTransport().TLSClientConfig; tc != nil {
			tr.TLSClientConfig = tc.Clone() // AWS_CA_BUNDLE's roots
			tr.TLSClientConfig.MinVersion = max(tc.MinVersion, tls.VersionTLS12)
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
		// Every request runs under the mount's retry.Policy (see FS.call); the SDK's own
		// retries would multiply the attempts.
		so.Retryer = aws.NopRetryer{}
		so.RetryMaxAttempts = 0 // do not let AWS_MAX_ATTEMPTS wrap the retryer again
		so.DisableLogOutputChecksumValidationSkipped = true
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

// sdkLogger sends the SDK's log lines to slog.
type sdkLogger struct{ l *slog.Logger }

func (s sdkLogger) Logf(c logging.Classification, format string, v ...any) {
	level := slog.LevelDebug
	if c == logging.Warn {
		level = slog.LevelWarn
	}
	s.l.Log(context.Background(), level, "s3: "+fmt.Sprintf(format, v...))
}
