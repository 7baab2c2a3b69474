package hdfs

import (
	"context"
	"fmt"
	"io/fs"
	"strings"

	"github.com/unifiedfs/unifiedfs/ufs"
)

// Options configures New: the typed form of the mount options (see the package
// documentation and the Opt* keys), which New checks exactly as Open checks its keys.
// The zero value of a field means the option is unset (its default).
type Options struct {
	// NameNodes are the NameNodes' "host:port" RPC addresses (required; several for HA),
	// or one Hadoop nameservice resolved from the configuration (OptConfiguration or
	// HADOOP_CONF_DIR).
	NameNodes []string
	// Dir is the absolute HDFS directory of the root; "" or "/" for the filesystem root.
	// It must exist.
	Dir string
	// User acts as this user (hdfs.user); empty: HADOOP_USER_NAME, else the OS user.
	User string
	// KerberosPrincipal with KerberosKeytab (or KerberosCCache) authenticate with Kerberos.
	KerberosPrincipal, KerberosKeytab, KerberosCCache string
	// Other holds any further option (hdfs.*, Hadoop properties "dfs.*", unifiedfs.*...),
	// by its key; a key a field sets wins over the same key here.
	Other map[string]string
}

// uri returns the URI o names, and its options as mount options.
func (o Options) uri() (ufs.URI, ufs.Options, error) {
	uri, err := ufs.NewURI("hdfs", strings.Join(o.NameNodes, ","), o.Dir)
	if err == nil && len(o.NameNodes) == 0 {
		err = fmt.Errorf("%w: no NameNode address", fs.ErrInvalid)
	}
	return uri, ufs.OptionsOver(o.Other, OptUser, o.User, OptPrincipal, o.KerberosPrincipal,
		OptKeytab, o.KerberosKeytab, OptCCache, o.KerberosCCache), err
}

// New connects to the NameNodes o names and opens its directory, as Open does, returning
// the UFS guarded (ufs.Guard; ufs.Unwrap gives the *FS).
func New(ctx context.Context, o Options) (ufs.UFS, error) {
	uri, opts, err := o.uri()
	if err != nil {
		return nil, ufs.OpenError(uri, err)
	}
	return Open(ctx, uri, opts)
}
