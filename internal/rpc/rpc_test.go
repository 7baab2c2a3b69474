package rpc

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

type echo struct {
	Msg string
}

func newServer(t *testing.T, secret string) (*httptest.Server, *bytes.Buffer) {
	t.Helper()
	var log bytes.Buffer
	s := &Server{Secret: []byte(secret), Log: slog.New(slog.NewTextHandler(&log, nil)), Streamed: map[string]bool{"/upload": true}}
	s.Handle("POST", "/echo", func(w http.ResponseWriter, r *http.Request) error {
		var e echo
		if err := ReadJSON(r, &e); err != nil {
			return err
		}
		if e.Msg == "fail" {
			return errors.New("asked to fail")
		}
		return WriteJSON(w, e)
	})
	s.Handle("GET", "/deadline", func(w http.ResponseWriter, r *http.Request) error {
		d, ok := r.Context().Deadline()
		return WriteJSON(w, map[string]any{"ok": ok, "left": time.Until(d).Seconds()})
	})
	s.Handle("POST", "/upload", func(w http.ResponseWriter, r *http.Request) error {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return err
		}
		return WriteJSON(w, echo{Msg: string(b)})
	})
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return ts, &log
}

func addr(ts *httptest.Server) string { return strings.TrimPrefix(ts.URL, "http://") }

func TestSignedCallsPassAndOthersAreRefused(t *testing.T) {
	ts, log := newServer(t, "the-cluster-secret")
	ctx := context.Background()
	good := &Client{Secret: []byte("the-cluster-secret")}
	var got echo
	if err := good.Call(ctx, addr(ts), "POST", "/echo", nil, echo{Msg: "hi"}, &got); err != nil || got.Msg != "hi" {
		t.Fatalf("signed call: %+v, %v", got, err)
	}
	var up echo
	if err := good.Upload(ctx, addr(ts), "/upload", nil, strings.NewReader("streamed"), &up); err != nil || up.Msg != "streamed" {
		t.Fatalf("upload: %+v, %v", up, err)
	}
	if err := good.Call(ctx, addr(ts), "POST", "/echo", nil, echo{Msg: "fail"}, nil); err == nil || !strings.Contains(err.Error(), "asked to fail") {
		t.Fatalf("a failing handler: %v", err)
	}
	bad := &Client{Secret: []byte("a-guess")}
	err := bad.Call(ctx, addr(ts), "POST", "/echo", nil, echo{Msg: "hi"}, nil)
	if !errors.Is(err, ErrUnauthenticated) || !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("wrong secret: %v", err)
	}
	// No authorization at all.
	resp, err := http.Post(ts.URL+Version+"/echo", "application/json", strings.NewReader(`{"Msg":"hi"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("unsigned call: %s", resp.Status)
	}
	// An unsigned payload where a signed one is required.
	if err := good.Upload(ctx, addr(ts), "/echo", nil, strings.NewReader(`{"Msg":"hi"}`), nil); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("unsigned payload on /echo: %v", err)
	}
	if strings.Contains(log.String(), "the-cluster-secret") || strings.Contains(log.String(), "a-guess") {
		t.Fatalf("the log holds a secret: %s", log.String())
	}
	if !strings.Contains(log.String(), "refused an unauthenticated call") {
		t.Fatalf("refusals are not logged: %s", log.String())
	}
}

// A captured request cannot be replayed, and a tampered body or a stale timestamp fails.
func TestReplayTamperAndSkewRefused(t *testing.T) {
	ts, _ := newServer(t, "s3cret")
	send := func(body, auth string) int {
		req, _ := http.NewRequest("POST", ts.URL+Version+"/echo", strings.NewReader(body))
		req.Header.Set("Authorization", auth)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	body := `{"Msg":"hi"}`
	auth := sign([]byte("s3cret"), "POST", Version+"/echo", time.Now().Unix(), "n1", bodySum([]byte(body)))
	if code := send(body, auth); code != 200 {
		t.Fatalf("first send: %d", code)
	}
	if code := send(body, auth); code != http.StatusForbidden {
		t.Fatalf("replay: %d", code)
	}
	auth = sign([]byte("s3cret"), "POST", Version+"/echo", time.Now().Unix(), "n2", bodySum([]byte(body)))
	if code := send(`{"Msg":"evil"}`, auth); code != http.StatusForbidden {
		t.Fatalf("tampered body: %d", code)
	}
	old := sign([]byte("s3cret"), "POST", Version+"/echo", time.Now().Add(-2*MaxSkew).Unix(), "n3", bodySum([]byte(body)))
	if code := send(body, old); code != http.StatusForbidden {
		t.Fatalf("stale timestamp: %d", code)
	}
}

func TestDeadlineTravels(t *testing.T) {
	ts, _ := newServer(t, "k")
	c := &Client{Secret: []byte("k")}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got struct {
		OK   bool
		Left float64
	}
	if err := c.Call(ctx, addr(ts), "GET", "/deadline", nil, nil, &got); err != nil {
		t.Fatal(err)
	}
	if !got.OK || got.Left > 30 || got.Left < 20 {
		t.Fatalf("server saw deadline %+v", got)
	}
	if err := c.Call(context.Background(), "127.0.0.1:1", "GET", "/deadline", nil, nil, nil); !Unavailable(err) {
		t.Fatalf("unreachable server: %v", err)
	}
}
