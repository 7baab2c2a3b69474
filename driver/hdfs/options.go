package hdfs

import (
	"context"
	"encoding/xml"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	hdfs "github.com/colinmarc/hdfs/v2"
	"github.com/colinmarc/hdfs/v2/hadoopconf"
	krb "github.com/jcmturner/gokrb5/v8/client"
	krbconfig "github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/credentials"
	"github.com/jcmturner/gokrb5/v8/keytab"

	"github.com/unifiedfs/unifiedfs/ufs"
	"github.com/unifiedfs/unifiedfs/ufs/retry"
)

// Option keys (matched case-insensitively). Keys starting with "dfs.", "fs." or
// "hadoop." are Hadoop configuration properties and override the configuration files.
const (
	OptConfiguration   = "alluxio.underfs.hdfs.configuration" // Hadoop XML files or directories, ':'-separated
	OptNamenodes       = "hdfs.namenodes"                     // "host:port,host:port"
	OptUser            = "hdfs.user"                          // else HADOOP_USER_NAME, else the OS user
	OptPrincipal       = "hdfs.kerberos.principal"            // client principal, "user[/host]@REALM"
	OptKeytab          = "hdfs.kerberos.keytab"               // keytab file for the principal
	OptCCache          = "hdfs.kerberos.ccache"               // credential cache file (instead of a keytab)
	OptKrb5Conf        = "hdfs.kerberos.krb5conf"             // krb5.conf; else KRB5_CONFIG, else /etc/krb5.conf
	OptServicePrincipl = "hdfs.kerberos.service.principal"    // NameNode SPN, e.g. "nn/_HOST"; else dfs.namenode.kerberos.principal
	OptUseDNHostname   = "hdfs.use.datanode.hostname"         // dial DataNodes by hostname (dfs.client.use.datanode.hostname)
	OptProtection      = "hdfs.data.transfer.protection"      // authentication|integrity|privacy (dfs.data.transfer.protection)
	OptConnectTimeout  = "hdfs.connect.timeout"               // alias of unifiedfs.connect.timeout: dial timeout for NameNodes and DataNodes
	OptCompleteRetries = "hdfs.complete.retries"              // dfs.client.block.write.locateFollowingBlock.retries; default 5
	OptCompleteDelay   = "hdfs.complete.initial.delay"        // ...locateFollowingBlock.initial.delay.ms; default 400ms
	OptListCacheTTL    = "hdfs.list.cache.ttl"                // how long a sorted directory listing serves later pages; default 10s
)

// Aliases under which Alluxio (or Hadoop) names the same settings.
var optAliases = map[string][]string{
	OptPrincipal:       {"alluxio.security.underfs.hdfs.kerberos.client.principal", "alluxio.master.principal"},
	OptKeytab:          {"alluxio.security.underfs.hdfs.kerberos.client.keytab.file", "alluxio.master.keytab.file"},
	OptUseDNHostname:   {"dfs.client.use.datanode.hostname"},
	OptProtection:      {"dfs.data.transfer.protection"},
	OptCompleteRetries: {"dfs.client.block.write.locatefollowingblock.retries"},
	OptCompleteDelay:   {"dfs.client.block.write.locatefollowingblock.initial.delay.ms"},
}

// retryAliases are this driver's keys for the shared retry and timeout settings.
var retryAliases = retry.Aliases{ConnectTimeout: []string{OptConnectTimeout}}

var knownKeys = []string{OptConfiguration, OptNamenodes, OptUser, OptPrincipal, OptKeytab, OptCCache, OptKrb5Conf,
	OptServicePrincipl, OptUseDNHostname, OptProtection, OptConnectTimeout, OptCompleteRetries, OptCompleteDelay, OptListCacheTTL}

const defaultPort = "8020"

// settings is everything Open derives from a URI and its options.
type settings struct {
	client          hdfs.ClientOptions
	dial            func(ctx context.Context, network, addr string) (net.Conn, error) // plain dialer
	completeRetries int
	completeDelay   time.Duration
	listCacheTTL    time.Duration
	net             retry.Config // retries and timeouts (the shared unifiedfs.* options)
	keys            []string     // every option key read (ufs.OptionKeyer)
}

// optionKeys returns the keys parseSettings reads from opts: the driver's own keys and
// their aliases, the shared retry keys, and the Hadoop properties opts gives.
func optionKeys(opts ufs.Options) []string {
	keys := slices.Clone(knownKeys)
	for _, k := range knownKeys {
		keys = append(keys, optAliases[k]...)
	}
	keys = append(keys, retry.Keys(retryAliases)...)
	for k := range opts.Map() {
		if hadoopProperty(k) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return slices.Compact(keys)
}

// hadoopProperty reports whether an option key is a Hadoop configuration property, which
// overrides the configuration files.
func hadoopProperty(k string) bool {
	lk := strings.ToLower(k)
	return strings.HasPrefix(lk, "dfs.") || strings.HasPrefix(lk, "fs.") || strings.HasPrefix(lk, "hadoop.")
}

func badOption(key, val, why string) error {
	return fmt.Errorf("%w: option %s=%q: %s", fs.ErrInvalid, key, val, why)
}

// get returns the first value set among the option key, its aliases, and conf (the
// Hadoop configuration, by Hadoop property name).
func get(opts ufs.Options, conf hadoopconf.HadoopConf, key string) (string, string, bool) {
	keys := append([]string{key}, optAliases[key]...)
	for _, k := range keys {
		if v, ok := opts.Get(k); ok {
			return k, v, true
		}
	}
	for _, k := range optAliases[key] {
		for ck, v := range conf {
			if strings.EqualFold(ck, k) {
				return ck, v, true
			}
		}
	}
	return key, "", false
}

func parseSettings(uri ufs.URI, opts ufs.Options) (settings, error) {
	var s settings
	for k := range opts.Map() {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "hdfs.") && !contains(knownKeys, lk) {
			return s, fmt.Errorf("%w: unknown option %q for %s (known: %s)", fs.ErrInvalid, k, uri, strings.Join(knownKeys, ", "))
		}
	}
	conf, err := loadConf(opts)
	if err != nil {
		return s, err
	}
	addrs, err := namenodes(uri, opts, conf)
	if err != nil {
		return s, err
	}
	s.client = hdfs.ClientOptionsFromConf(conf)
	s.client.Addresses = addrs

	if k, v, ok := get(opts, conf, OptUseDNHostname); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return s, badOption(k, v, "want true or false")
		}
		s.client.UseDatanodeHostname = b
	}
	if k, v, ok := get(opts, conf, OptProtection); ok {
		// Hadoop lists acceptable levels; the client takes the highest.
		best := ""
		for _, p := range strings.Split(strings.ToLower(v), ",") {
			switch p = strings.TrimSpace(p); p {
			case hdfs.DataTransferProtectionAuthentication, hdfs.DataTransferProtectionIntegrity, hdfs.DataTransferProtectionPrivacy:
				if p > best { // alphabetical is also increasing strength
					best = p
				}
			case "":
			default:
				return s, badOption(k, v, "want authentication, integrity or privacy")
			}
		}
		s.client.DataTransferProtection = best
	}
	if s.net, err = retry.Parse(opts, retryAliases); err != nil {
		return s, err
	}
	// NameNode connections take at most the connect timeout to set up and fail a read or
	// write that moves nothing for the idle timeout: the client's calls take no context,
	// so this bounds a stalled NameNode. DataNode connections get the connect bound only:
	// a block being written keeps its connection open while the caller pauses, with the
	// ack reader blocked (the client sends no heartbeat packets), so the idle bound is
	// set by the reader and writer around each of their calls instead (see idleDeadline).
	s.client.NamenodeDialFunc = retry.DialContext(s.net.ConnectTimeout, s.net.IdleTimeout)
	s.dial = retry.DialContext(s.net.ConnectTimeout, 0)
	s.client.DatanodeDialFunc = bufferedDial(s.dial)
	s.keys = optionKeys(opts)

	k, v, ok := get(opts, conf, OptCompleteRetries)
	s.completeRetries = 5
	if ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return s, badOption(k, v, "want a count >= 0")
		}
		s.completeRetries = n
	}
	k, v, ok = get(opts, conf, OptCompleteDelay)
	s.completeDelay = 400 * time.Millisecond
	if ok {
		d, err := ufs.ParseDuration(v)
		if err != nil || d <= 0 {
			return s, badOption(k, v, "want a positive duration (a bare number is milliseconds)")
		}
		s.completeDelay = d
	}
	if s.listCacheTTL, err = opts.Duration(OptListCacheTTL, 10*time.Second); err != nil {
		return s, err
	}

	if err := authenticate(&s.client, opts, conf); err != nil {
		return s, err
	}
	return s, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// loadConf reads the Hadoop configuration named by OptConfiguration (files or
// directories, ':'-separated), else HADOOP_CONF_DIR / HADOOP_HOME, then applies the
// options that are Hadoop properties ("dfs.*", "fs.*", "hadoop.*").
func loadConf(opts ufs.Options) (hadoopconf.HadoopConf, error) {
	conf := hadoopconf.HadoopConf{}
	if v, ok := opts.Get(OptConfiguration); ok && v != "" {
		for _, p := range strings.Split(v, ":") {
			if p == "" {
				continue
			}
			if err := loadConfPath(conf, p); err != nil {
				return nil, fmt.Errorf("%w: option %s: %w", fs.ErrInvalid, OptConfiguration, err)
			}
		}
	} else {
		env, err := hadoopconf.LoadFromEnvironment()
		if err != nil {
			return nil, fmt.Errorf("%w: Hadoop configuration from HADOOP_CONF_DIR: %w", fs.ErrInvalid, err)
		}
		for k, v := range env {
			conf[k] = v
		}
	}
	for k, v := range opts.Map() {
		if hadoopProperty(k) {
			conf[k] = v
		}
	}
	return conf, nil
}

func loadConfPath(conf hadoopconf.HadoopConf, p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		c, err := hadoopconf.Load(p)
		if err != nil {
			return err
		}
		if c == nil {
			return fmt.Errorf("no core-site.xml or hdfs-site.xml in %s", p)
		}
		for k, v := range c {
			conf[k] = v
		}
		return nil
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	var props struct {
		Property []struct {
			Name  string `xml:"name"`
			Value string `xml:"value"`
		} `xml:"property"`
	}
	if err := xml.Unmarshal(b, &props); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	for _, pr := range props.Property {
		conf[pr.Name] = pr.Value
	}
	return nil
}

// namenodes resolves the NameNode addresses: OptNamenodes; else the URI's authority,
// which is "host:port", a comma-separated list of them, a nameservice of the Hadoop
// configuration (dfs.ha.namenodes.<ns> and dfs.namenode.rpc-address.<ns>.<nn>), or a
// host on port 8020; an empty authority takes fs.defaultFS.
func namenodes(uri ufs.URI, opts ufs.Options, conf hadoopconf.HadoopConf) ([]string, error) {
	if v, ok := opts.Get(OptNamenodes); ok {
		addrs, err := splitAddrs(v)
		if err != nil {
			return nil, badOption(OptNamenodes, v, err.Error())
		}
		return addrs, nil
	}
	auth := uri.Authority
	if auth == "" {
		def := conf["fs.defaultFS"]
		if def == "" {
			def = conf["fs.default.name"]
		}
		u, err := ufs.ParseURI(def)
		if def == "" || err != nil || u.Scheme != "hdfs" || u.Authority == "" {
			return nil, fmt.Errorf("%w: %s names no NameNode and fs.defaultFS (%q) is not an hdfs:// URI; set %s or %s",
				fs.ErrInvalid, uri, def, OptNamenodes, OptConfiguration)
		}
		auth = u.Authority
	}
	if strings.Contains(auth, ",") {
		return splitAddrs(auth)
	}
	if _, _, err := net.SplitHostPort(auth); err == nil {
		return []string{auth}, nil
	}
	if addrs, err := nameservice(conf, auth); addrs != nil || err != nil {
		return addrs, err
	}
	return []string{net.JoinHostPort(auth, defaultPort)}, nil
}

func splitAddrs(v string) ([]string, error) {
	var out []string
	for _, a := range strings.Split(v, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a); err != nil {
			a = net.JoinHostPort(a, defaultPort)
		}
		out = append(out, a)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no NameNode address in %q", fs.ErrInvalid, v)
	}
	return out, nil
}

// nameservice returns the RPC addresses of nameservice ns, nil when the configuration
// does not define it.
func nameservice(conf hadoopconf.HadoopConf, ns string) ([]string, error) {
	if ids, ok := conf["dfs.ha.namenodes."+ns]; ok {
		var addrs []string
		for _, id := range strings.Split(ids, ",") {
			id = strings.TrimSpace(id)
			key := "dfs.namenode.rpc-address." + ns + "." + id
			a := conf[key]
			if a == "" {
				return nil, fmt.Errorf("%w: nameservice %s lists NameNode %q but %s is not set", fs.ErrInvalid, ns, id, key)
			}
			addrs = append(addrs, a)
		}
		return addrs, nil
	}
	if a := conf["dfs.namenode.rpc-address."+ns]; a != "" {
		return []string{a}, nil
	}
	if services := conf["dfs.nameservices"]; contains(strings.Split(services, ","), ns) {
		return nil, fmt.Errorf("%w: nameservice %s has no dfs.ha.namenodes.%s nor dfs.namenode.rpc-address.%s", fs.ErrInvalid, ns, ns, ns)
	}
	return nil, nil
}

// authenticate sets the user, or a Kerberos client when a principal or credential cache
// is configured or hadoop.security.authentication is "kerberos".
func authenticate(c *hdfs.ClientOptions, opts ufs.Options, conf hadoopconf.HadoopConf) error {
	_, principal, _ := get(opts, conf, OptPrincipal)
	_, kt, _ := get(opts, conf, OptKeytab)
	ccache, _ := opts.Get(OptCCache)
	kerberos := c.KerberosClient != nil || principal != "" || kt != "" || ccache != ""
	c.KerberosClient = nil
	if !kerberos {
		u, ok := opts.Get(OptUser)
		if !ok || u == "" {
			u = os.Getenv("HADOOP_USER_NAME")
		}
		if u == "" {
			cur, err := user.Current()
			if err != nil {
				return fmt.Errorf("%w: no %s option, no HADOOP_USER_NAME and no OS user: %w", fs.ErrInvalid, OptUser, err)
			}
			u = cur.Username
		}
		c.User = u
		return nil
	}
	if spn, ok := opts.Get(OptServicePrincipl); ok {
		c.KerberosServicePrincipleName = strings.Split(spn, "@")[0]
	}
	if c.KerberosServicePrincipleName == "" {
		return fmt.Errorf("%w: Kerberos needs the NameNode principal: set %s or dfs.namenode.kerberos.principal", fs.ErrInvalid, OptServicePrincipl)
	}
	cfgPath, ok := opts.Get(OptKrb5Conf)
	if !ok || cfgPath == "" {
		cfgPath = os.Getenv("KRB5_CONFIG")
	}
	if cfgPath == "" {
		cfgPath = "/etc/krb5.conf"
	}
	kcfg, err := krbconfig.Load(cfgPath)
	if err != nil {
		return fmt.Errorf("%w: Kerberos configuration %s (set %s): %w", fs.ErrInvalid, cfgPath, OptKrb5Conf, err)
	}
	switch {
	case kt != "":
		if principal == "" {
			return fmt.Errorf("%w: %s is set but %s is not", fs.ErrInvalid, OptKeytab, OptPrincipal)
		}
		tab, err := keytab.Load(kt)
		if err != nil {
			return fmt.Errorf("%w: keytab %s: %w", fs.ErrInvalid, kt, err)
		}
		name, realm, _ := strings.Cut(principal, "@")
		if realm == "" {
			realm = kcfg.LibDefaults.DefaultRealm
		}
		c.KerberosClient = krb.NewWithKeytab(name, realm, tab, kcfg, krb.DisablePAFXFAST(true))
	default:
		if ccache == "" {
			ccache = strings.TrimPrefix(os.Getenv("KRB5CCNAME"), "FILE:")
		}
		if ccache == "" {
			ccache = filepath.Join(os.TempDir(), "krb5cc_"+strconv.Itoa(os.Getuid()))
		}
		cc, err := credentials.LoadCCache(ccache)
		if err != nil {
			return fmt.Errorf("%w: Kerberos needs %s with %s, or a credential cache (%s): %w", fs.ErrInvalid, OptKeytab, OptPrincipal, ccache, err)
		}
		cl, err := krb.NewFromCCache(cc, kcfg, krb.DisablePAFXFAST(true))
		if err != nil {
			return fmt.Errorf("%w: credential cache %s: %w", fs.ErrInvalid, ccache, err)
		}
		c.KerberosClient = cl
	}
	return nil
}

// bufferedDial wraps DataNode connections in a read buffer: the driver reads blocks in
// pieces smaller than a checksum chunk (see reader), which would otherwise cost a
// system call per piece.
func bufferedDial(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return newBufConn(c), nil
	}
}
