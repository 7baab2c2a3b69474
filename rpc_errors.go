package unifiedfs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"

	"github.com/unifiedfs/unifiedfs/internal/rpc"
)

// ErrNoLeader: a highly available namespace has no leader reachable (a failover is in
// progress, or ZooKeeper is down) for longer than the caller waits (HAConfig.ForwardTimeout,
// ClientConfig.LeaderTimeout).
var ErrNoLeader = errors.New("no leader")

// errorKinds names the sentinels that travel over the RPC, most specific first.
var errorKinds = []struct {
	kind   string
	err    error
	status int
}{
	{"not_leader", ErrNotLeader, http.StatusMisdirectedRequest},
	{"no_leader", ErrNoLeader, http.StatusServiceUnavailable},
	{"unauthenticated", rpc.ErrUnauthenticated, http.StatusForbidden},
	{"read_only", ErrReadOnly, http.StatusForbidden},
	{"cross_mount", ErrCrossMount, http.StatusConflict},
	{"mount_point", ErrMountPoint, http.StatusConflict},
	{"not_mount_point", ErrNotMountPoint, http.StatusBadRequest},
	{"busy", ErrBusy, http.StatusConflict},
	{"lost", ErrLost, http.StatusGone},
	{"incomplete", ErrIncomplete, http.StatusConflict},
	{"changed", ErrChanged, http.StatusConflict},
	{"no_space", ErrNoSpace, http.StatusInsufficientStorage},
	{"not_persisted", ErrNotPersisted, http.StatusConflict},
	{"sync_limit", ErrSyncLimit, http.StatusRequestEntityTooLarge},
	{"not_empty", ErrNotEmpty, http.StatusConflict},
	{"not_dir", ErrNotDir, http.StatusBadRequest},
	{"is_dir", ErrIsDir, http.StatusBadRequest},
	{"not_supported", ErrNotSupported, http.StatusNotImplemented},
	{"closed", ErrClosed, http.StatusServiceUnavailable},
	{"not_exist", fs.ErrNotExist, http.StatusNotFound},
	{"exist", fs.ErrExist, http.StatusConflict},
	{"permission", fs.ErrPermission, http.StatusForbidden},
	{"invalid", fs.ErrInvalid, http.StatusBadRequest},
	{"deadline", context.DeadlineExceeded, http.StatusGatewayTimeout},
	{"canceled", context.Canceled, 499},
}

// errorBody is an error as the RPC carries it: the first sentinel it wraps, and the path
// and operation of its *fs.PathError.
func errorBody(err error) (rpc.ErrorBody, int) {
	b := rpc.ErrorBody{Kind: "internal", Msg: err.Error()}
	status := http.StatusInternalServerError
	for _, k := range errorKinds {
		if errors.Is(err, k.err) {
			b.Kind, status = k.kind, k.status
			break
		}
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		b.Op, b.Path, b.Msg = pe.Op, pe.Path, pe.Err.Error()
	}
	var le *leaderError
	if errors.As(err, &le) {
		b.Leader = le.leader
	}
	return b, status
}

// remoteError turns an RPC failure back into the FS's error: a *fs.PathError wrapping the
// sentinel the server's error wrapped.
func remoteError(op, p string, err error) error {
	var re *rpc.Error
	if !errors.As(err, &re) {
		return pathErr(op, p, err)
	}
	var sentinel error
	for _, k := range errorKinds {
		if k.kind == re.Body.Kind {
			sentinel = k.err
		}
	}
	cause := errors.New(re.Body.Msg)
	if re.Err != nil {
		cause = fmt.Errorf("%s: %w", re.Body.Msg, re.Err)
	}
	if sentinel != nil && !errors.Is(cause, sentinel) {
		cause = fmt.Errorf("%w: %w", sentinel, cause)
	}
	if re.Body.Leader != "" {
		cause = &leaderError{leader: re.Body.Leader, err: cause}
	}
	if re.Body.Op != "" {
		return &fs.PathError{Op: re.Body.Op, Path: re.Body.Path, Err: cause}
	}
	return pathErr(op, p, cause)
}

// leaderError carries the leader's address with an ErrNotLeader.
type leaderError struct {
	leader string
	err    error
}

func (e *leaderError) Error() string { return e.err.Error() }
func (e *leaderError) Unwrap() error { return e.err }
