package shell

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/signal"
	"syscall"
	"time"

	"github.com/unifiedfs/unifiedfs/web"
)

// webShutdownTimeout bounds how long stopping the server waits for requests in flight.
const webShutdownTimeout = 5 * time.Second

// cmdWeb serves the web UI (package web) of the namespace until interrupted (SIGINT or
// SIGTERM), as Alluxio's master UI on port 19999.
func cmdWeb(c *cli, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w (choose another address with --listen host:port)", addr, err)
	}
	ctx, stop := signal.NotifyContext(c.ctx, syscall.SIGTERM)
	defer stop()
	srv := &http.Server{
		Handler:           web.Handler(c.fsys, web.Options{Logger: c.cfg.Logger}),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(c.stdout, "Serving the web UI of %s at http://%s/ (interrupt to stop)\n", c.fsys, ln.Addr())
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), webShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	fmt.Fprintln(c.stdout, "Stopped the web UI.")
	return nil
}
