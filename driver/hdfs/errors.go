package hdfs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"

	hdfs "github.com/colinmarc/hdfs/v2"

	"github.com/unifiedfs/unifiedfs/ufs"
	"github.com/unifiedfs/unifiedfs/ufs/retry"
)

// Java exception classes mapped to sentinels. The client already turns a few of them
// into os errors (FileNotFoundException into os.ErrNotExist and so on); the rest reach
// the driver as hdfs.Error values carrying the class name.
var exceptionSentinels = map[string]error{
	"java.io.FileNotFoundException":                                                  fs.ErrNotExist,
	"org.apache.hadoop.security.AccessControlException":                              fs.ErrPermission,
	"org.apache.hadoop.hdfs.protocol.SnapshotAccessControlException":                 fs.ErrPermission,
	"org.apache.hadoop.security.authorize.AuthorizationException":                    fs.ErrPermission,
	"org.apache.hadoop.fs.FileAlreadyExistsException":                                fs.ErrExist,
	"org.apache.hadoop.hdfs.protocol.AlreadyBeingCreatedException":                   ufs.ErrBusy,
	"org.apache.hadoop.hdfs.protocol.RecoveryInProgressException":                    ufs.ErrBusy,
	"org.apache.hadoop.fs.PathIsNotEmptyDirectoryException":                          ufs.ErrNotEmpty,
	"org.apache.hadoop.fs.ParentNotDirectoryException":                               ufs.ErrNotDir,
	"org.apache.hadoop.fs.PathIsNotDirectoryException":                               ufs.ErrNotDir,
	"org.apache.hadoop.fs.PathIsDirectoryException":                                  ufs.ErrIsDir,
	"org.apache.hadoop.fs.InvalidPathException":                                      fs.ErrInvalid,
	"org.apache.hadoop.HadoopIllegalArgumentException":                               fs.ErrInvalid,
	"java.lang.IllegalArgumentException":                                             fs.ErrInvalid,
	"org.apache.hadoop.hdfs.protocol.FSLimitException$PathComponentTooLongException": fs.ErrInvalid,
	"org.apache.hadoop.ipc.RpcNoSuchMethodException":                                 ufs.ErrNotSupported,
	"java.lang.UnsupportedOperationException":                                        ufs.ErrNotSupported,
}

// inspect finds the NameNode's answer in a client error for the retry policy: the Java
// exception class of a RemoteException (classified by retryCodes). Two failures of the
// client's NameNode connection carry no exception: "no available namenodes" (every
// NameNode refused, reset, or answered StandbyException; the client keeps only the text
// of the cause) and a call id that does not match its call (an answer that came late);
// both are worth another attempt on a fresh connection (see reconnector).
func inspect(err error) (retry.Response, bool) {
	if class := exceptionClass(err); class != "" {
		return retry.Response{Code: class}, true
	}
	msg := err.Error()
	if strings.Contains(msg, "no available namenodes") || strings.Contains(msg, "unexpected sequence number") {
		return retry.Response{Code: codeConnection}, true
	}
	return retry.Response{}, false
}

// codeConnection stands, for the retry policy, for a failure of the NameNode connection
// that the client reports as text only (see inspect).
const codeConnection = "unifiedfs:NamenodeConnection"

// retryCodes classifies the exceptions worth another attempt: a standby (HA failover in
// progress), RetriableException (the NameNode asks for a retry: its edit log or block
// reports are catching up), safe mode (it leaves it once enough blocks are reported), and
// an early addBlock. Every other exception (AccessControlException, FileNotFound, lease
// and quota errors, ...) is final.
var retryCodes = map[string]retry.Class{
	codeConnection:                                                     retry.Transient,
	"org.apache.hadoop.ipc.StandbyException":                           retry.Transient,
	"org.apache.hadoop.ipc.RetriableException":                         retry.Transient,
	"org.apache.hadoop.hdfs.server.namenode.SafeModeException":         retry.Transient,
	"org.apache.hadoop.hdfs.server.namenode.NotReplicatedYetException": retry.Transient,
	"org.apache.hadoop.security.AccessControlException":                retry.Final,
}

// exceptionClass returns the Java exception class in err's chain, or "".
func exceptionClass(err error) string {
	var re hdfs.Error
	if errors.As(err, &re) {
		return re.Exception()
	}
	return ""
}

// mapErr turns a client error into the ufs contract's *fs.PathError for op on the path p,
// keeping the client's error in the chain: for AppendWriters, which the guard passes
// through, and Open.
func mapErr(op, p string, err error) error {
	if err == nil {
		return nil
	}
	return &fs.PathError{Op: op, Path: p, Err: classify(err)}
}

// Classify implements ufs.Classifier.
func (f *FS) Classify(err error) error { return classify(err) }

// classify wraps a client error with the sentinel its Java exception (or os error) stands
// for; an error it classified already is returned as it is.
func classify(err error) error {
	var sentinel error
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
	case errors.Is(err, syscall.ENOTEMPTY):
		sentinel = ufs.ErrNotEmpty
	case errors.Is(err, os.ErrNotExist), errors.Is(err, os.ErrPermission), errors.Is(err, os.ErrExist), errors.Is(err, os.ErrInvalid):
		// Already one of the contract's sentinels (the client's interpretation).
	default:
		sentinel = exceptionSentinels[exceptionClass(err)]
	}
	if sentinel != nil && errors.Is(err, sentinel) {
		return err
	}
	if sentinel == ufs.ErrBusy {
		// The NameNode's message names the holder; the client's error text does not.
		var re hdfs.Error
		if errors.As(err, &re) {
			msg, _, _ := strings.Cut(re.Message(), "\n")
			err = fmt.Errorf("%w (%s)", err, msg)
		}
	}
	if sentinel != nil {
		err = ufs.WrapErr(sentinel, err)
	}
	return err
}
