// Package rpc is the transport between the members of a highly available namespace and
// their clients: HTTP (net/http, HTTP/1.1 with keep-alive, TLS when configured), JSON
// bodies for calls and raw bytes for data, under versioned paths (/v1/...).
//
// Why plain net/http and not gRPC or connect: the calls are few and small except the data
// ones, which are streams (a block, a file's content, an upload) that HTTP bodies carry
// without message-size limits or framing of our own; it needs no code generation step and
// no dependency beyond the standard library; and every tool (curl, a proxy) understands it.
//
// # Authentication
//
// Every request carries proof of the cluster's shared secret: an HMAC-SHA256 over the
// method, the path with its query, a timestamp, a random nonce and the SHA-256 of the
// body (or the word UNSIGNED-PAYLOAD for streamed uploads, whose integrity TLS then
// protects), in the Authorization header:
//
//	Authorization: UFS-HMAC-SHA256 ts=<unix seconds>,nonce=<hex>,body=<hex sha256|UNSIGNED-PAYLOAD>,sig=<hex>
//
// A server refuses a request without it, with a wrong signature, a timestamp more than
// MaxSkew away from its clock, or a nonce it saw within that window (a replay), with 403
// and a permission error; it logs the refusal with the caller's address, never the
// secret or the signature.
//
// # Deadlines
//
// A client sends its context's deadline (X-Ufs-Deadline, Unix nanoseconds); the server's
// handler context ends then.
//
// # Errors
//
// A failed call answers with a non-2xx status and an ErrorBody; the client returns it as
// *Error, which the caller maps back to its sentinels by Kind.
package rpc

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Version is the prefix of every path.
const Version = "/v1"

// MaxSkew bounds the difference between a request's timestamp and the server's clock.
const MaxSkew = 5 * time.Minute

const (
	authScheme     = "UFS-HMAC-SHA256"
	unsignedBody   = "UNSIGNED-PAYLOAD"
	deadlineHeader = "X-Ufs-Deadline"
)

// ErrUnauthenticated is wrapped by the errors of requests the server refused as
// unauthenticated, on both sides (it satisfies errors.Is(err, fs.ErrPermission) too).
var ErrUnauthenticated = fmt.Errorf("rpc: unauthenticated: %w", fs.ErrPermission)

// ErrorBody is the body of a failed call.
type ErrorBody struct {
	Kind string `json:"kind"` // the sentinel's name (see the callers' tables)
	Op   string `json:"op,omitempty"`
	Path string `json:"path,omitempty"`
	Msg  string `json:"msg"`
	// Leader is the address of the leader, for Kind "not_leader".
	Leader string `json:"leader,omitempty"`
}

// Error is a call's failure as the client sees it: the server's ErrorBody, or a transport
// failure (Kind "unavailable").
type Error struct {
	Status int
	Body   ErrorBody
	Err    error // the transport's error, for Kind "unavailable"
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Body.Msg + ": " + e.Err.Error()
	}
	return e.Body.Msg
}

// Unwrap returns the transport's error (nil for an answer of the server).
func (e *Error) Unwrap() error { return e.Err }

// Unavailable reports whether err says the server could not be reached or did not answer
// (a connection refused or reset, a timeout): the call may be retried elsewhere.
func Unavailable(err error) bool {
	var re *Error
	return errors.As(err, &re) && re.Body.Kind == "unavailable"
}

// sign returns the Authorization header value of a request.
func sign(secret []byte, method, pathQuery string, ts int64, nonce, bodySum string) string {
	m := hmac.New(sha256.New, secret)
	fmt.Fprintf(m, "%s\n%s\n%d\n%s\n%s", method, pathQuery, ts, nonce, bodySum)
	return fmt.Sprintf("%s ts=%d,nonce=%s,body=%s,sig=%s", authScheme, ts, nonce, bodySum, hex.EncodeToString(m.Sum(nil)))
}

func bodySum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func newNonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Client calls members. It is safe for concurrent use.
type Client struct {
	HTTP   *http.Client
	Secret []byte
	// Scheme is "http" (the default) or "https".
	Scheme string
}

func (c *Client) url(addr, path string, q url.Values) string {
	scheme := c.Scheme
	if scheme == "" {
		scheme = "http"
	}
	u := scheme + "://" + addr + Version + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

func (c *Client) do(ctx context.Context, method, addr, path string, q url.Values, body io.Reader, sum string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.url(addr, path, q), body)
	if err != nil {
		return nil, &Error{Body: ErrorBody{Kind: "invalid", Msg: "rpc: building the request"}, Err: err}
	}
	pq := req.URL.EscapedPath()
	if req.URL.RawQuery != "" {
		pq += "?" + req.URL.RawQuery
	}
	req.Header.Set("Authorization", sign(c.Secret, method, pq, time.Now().Unix(), newNonce(), sum))
	if d, ok := ctx.Deadline(); ok {
		req.Header.Set(deadlineHeader, strconv.FormatInt(d.UnixNano(), 10))
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &Error{Body: ErrorBody{Kind: "unavailable", Msg: "rpc: " + addr + " did not answer"}, Err: err}
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		var eb ErrorBody
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if json.Unmarshal(b, &eb) != nil || eb.Kind == "" {
			eb = ErrorBody{Kind: "internal", Msg: fmt.Sprintf("rpc: %s answered %s", addr, resp.Status)}
		}
		e := &Error{Status: resp.StatusCode, Body: eb}
		if eb.Kind == "unauthenticated" {
			e.Err = ErrUnauthenticated
		}
		return nil, e
	}
	return resp, nil
}

// Call sends req (JSON; nil for none) to path at addr and decodes the answer into resp
// (nil to discard it).
func (c *Client) Call(ctx context.Context, addr, method, path string, q url.Values, req, resp any) error {
	var b []byte
	if req != nil {
		var err error
		if b, err = json.Marshal(req); err != nil {
			return fmt.Errorf("rpc: encoding the request: %w", err)
		}
	}
	r, err := c.do(ctx, method, addr, path, q, bytes.NewReader(b), bodySum(b))
	if err != nil {
		return err
	}
	defer r.Body.Close()
	if resp == nil {
		_, _ = io.Copy(io.Discard, r.Body)
		return nil
	}
	if err := json.NewDecoder(r.Body).Decode(resp); err != nil {
		return &Error{Body: ErrorBody{Kind: "unavailable", Msg: "rpc: decoding the answer of " + addr}, Err: err}
	}
	return nil
}

// Open sends a GET with no body and returns the answer's body (a stream of data).
func (c *Client) Open(ctx context.Context, addr, path string, q url.Values) (io.ReadCloser, error) {
	r, err := c.do(ctx, http.MethodGet, addr, path, q, nil, bodySum(nil))
	if err != nil {
		return nil, err
	}
	return r.Body, nil
}

// Upload streams body to path at addr (its payload is not signed) and decodes the JSON
// answer into resp.
func (c *Client) Upload(ctx context.Context, addr, path string, q url.Values, body io.Reader, resp any) error {
	r, err := c.do(ctx, http.MethodPost, addr, path, q, body, unsignedBody)
	if err != nil {
		return err
	}
	defer r.Body.Close()
	if resp == nil {
		return nil
	}
	if err := json.NewDecoder(r.Body).Decode(resp); err != nil {
		return &Error{Body: ErrorBody{Kind: "unavailable", Msg: "rpc: decoding the answer of " + addr}, Err: err}
	}
	return nil
}

// Server authenticates requests and dispatches them to handlers.
type Server struct {
	Secret []byte
	Log    *slog.Logger
	// Streamed names the paths whose bodies are streamed uploads (UNSIGNED-PAYLOAD).
	Streamed map[string]bool
	// Errors turns a handler's error into its ErrorBody and HTTP status.
	Errors func(error) (ErrorBody, int)

	mux    http.ServeMux
	nonces nonceCache
}

// HandlerFunc serves one call; a returned error becomes the ErrorBody answer (see
// WriteError).
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Handle registers h for method and path (without the version prefix).
func (s *Server) Handle(method, path string, h HandlerFunc) {
	s.mux.HandleFunc(method+" "+Version+path, func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.WriteError(w, err)
		}
	})
}

// WriteError answers with err as an ErrorBody.
func (s *Server) WriteError(w http.ResponseWriter, err error) {
	body, status := ErrorBody{Kind: "internal", Msg: err.Error()}, http.StatusInternalServerError
	if s.Errors != nil {
		body, status = s.Errors(err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// WriteJSON answers with v.
func WriteJSON(w http.ResponseWriter, v any) error {
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(v)
}

// ReadJSON decodes a (signed, so already read) request body into v.
func ReadJSON(r *http.Request, v any) error {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		return fmt.Errorf("rpc: decoding the request: %w: %w", fs.ErrInvalid, err)
	}
	return nil
}

// ServeHTTP implements http.Handler: it authenticates the request, bounds its context by
// the caller's deadline and dispatches it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := s.authenticate(r)
	if err != nil {
		s.Log.Warn("rpc: refused an unauthenticated call", "from", r.RemoteAddr, "method", r.Method, "path", r.URL.Path, "reason", err.Error())
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		_ = json.NewEncoder(w).Encode(ErrorBody{Kind: "unauthenticated", Msg: "rpc: the call carries no valid proof of the cluster secret"})
		return
	}
	if body != nil {
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	if v := r.Header.Get(deadlineHeader); v != "" {
		if ns, err := strconv.ParseInt(v, 10, 64); err == nil {
			ctx, cancel := context.WithDeadline(r.Context(), time.Unix(0, ns))
			defer cancel()
			r = r.WithContext(ctx)
		}
	}
	s.mux.ServeHTTP(w, r)
}

// authenticate checks the Authorization header; for signed bodies it reads the body
// (returned) to check its digest.
func (s *Server) authenticate(r *http.Request) ([]byte, error) {
	h := r.Header.Get("Authorization")
	rest, ok := strings.CutPrefix(h, authScheme+" ")
	if !ok {
		return nil, errors.New("no " + authScheme + " authorization")
	}
	fields := map[string]string{}
	for _, kv := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(kv, "=")
		fields[k] = v
	}
	ts, err := strconv.ParseInt(fields["ts"], 10, 64)
	if err != nil || fields["nonce"] == "" || fields["sig"] == "" || fields["body"] == "" {
		return nil, errors.New("malformed authorization")
	}
	if d := time.Since(time.Unix(ts, 0)); d > MaxSkew || d < -MaxSkew {
		return nil, fmt.Errorf("timestamp %v away from the server's clock", d.Round(time.Second))
	}
	pq := r.URL.EscapedPath()
	if r.URL.RawQuery != "" {
		pq += "?" + r.URL.RawQuery
	}
	want := sign(s.Secret, r.Method, pq, ts, fields["nonce"], fields["body"])
	if subtle.ConstantTimeCompare([]byte(want), []byte(h)) != 1 {
		return nil, errors.New("wrong signature")
	}
	if !s.nonces.add(fields["nonce"], time.Now()) {
		return nil, errors.New("replayed nonce")
	}
	if fields["body"] == unsignedBody {
		if !s.Streamed[strings.TrimPrefix(r.URL.Path, Version)] {
			return nil, errors.New("unsigned payload on a path that takes a signed one")
		}
		return nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("reading the body: %w", err)
	}
	if bodySum(b) != fields["body"] {
		return nil, errors.New("the body does not match its digest")
	}
	return b, nil
}

// nonceCache remembers the nonces seen within MaxSkew, to refuse replays.
type nonceCache struct {
	mu   sync.Mutex
	seen map[string]time.Time
	last time.Time // last sweep
}

func (c *nonceCache) add(n string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = map[string]time.Time{}
	}
	if now.Sub(c.last) > MaxSkew {
		for k, t := range c.seen {
			if now.Sub(t) > 2*MaxSkew {
				delete(c.seen, k)
			}
		}
		c.last = now
	}
	if _, dup := c.seen[n]; dup {
		return false
	}
	c.seen[n] = now
	return true
}
