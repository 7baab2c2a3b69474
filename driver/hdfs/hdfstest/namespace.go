package hdfstest

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Java exception classes the NameNode throws, as the client sees them.
const (
	exFileNotFound       = "java.io.FileNotFoundException"
	exIO                 = "java.io.IOException"
	exAccessControl      = "org.apache.hadoop.security.AccessControlException"
	exFileExists         = "org.apache.hadoop.fs.FileAlreadyExistsException"
	exParentNotDir       = "org.apache.hadoop.fs.ParentNotDirectoryException"
	exNotEmpty           = "org.apache.hadoop.fs.PathIsNotEmptyDirectoryException"
	exInvalidPath        = "org.apache.hadoop.fs.InvalidPathException"
	exAlreadyCreated     = "org.apache.hadoop.hdfs.protocol.AlreadyBeingCreatedException"
	exLeaseExpired       = "org.apache.hadoop.hdfs.server.namenode.LeaseExpiredException"
	exNotReplicatedYet   = "org.apache.hadoop.hdfs.server.namenode.NotReplicatedYetException"
	exComponentTooLong   = "org.apache.hadoop.hdfs.protocol.FSLimitException$PathComponentTooLongException"
	exIllegalArgument    = "org.apache.hadoop.HadoopIllegalArgumentException"
	exRecoveryInProgress = "org.apache.hadoop.hdfs.protocol.RecoveryInProgressException"
	exRetriable          = "org.apache.hadoop.ipc.RetriableException"
	maxComponentLength   = 255 // dfs.namenode.fs-limits.max-component-length
	permRead, permWrite  = 4, 2
	permExec             = 1
)

// inode is a file or a directory of the namespace.
type inode struct {
	id       uint64
	name     string
	parent   *inode
	dir      bool
	children map[string]*inode // directories only

	perm         uint32
	owner, group string
	mtime, atime int64 // milliseconds since the epoch

	// Files only.
	blocks      []*blockInfo
	blockSize   uint64
	replication uint32
	holder      string // lease holder (client name) while under construction
}

func (in *inode) path() string {
	if in.parent == nil {
		return "/"
	}
	var parts []string
	for n := in; n.parent != nil; n = n.parent {
		parts = append(parts, n.name)
	}
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return "/" + strings.Join(parts, "/")
}

// lastBlock returns the file's last block, nil when it has none.
func (in *inode) lastBlock() *blockInfo {
	if len(in.blocks) == 0 {
		return nil
	}
	return in.blocks[len(in.blocks)-1]
}

func (in *inode) length() uint64 {
	var n uint64
	for _, b := range in.blocks {
		n += b.numBytes
	}
	return n
}

// sortedChildren orders children as the NameNode does: by name bytes compared as
// *signed* Java bytes (DFSUtilClient.compareBytes), so names with bytes >= 0x80 sort
// before ASCII ones.
func (in *inode) sortedChildren() []*inode {
	out := make([]*inode, 0, len(in.children))
	for _, c := range in.children {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return compareJavaBytes(out[i].name, out[j].name) < 0 })
	return out
}

// compareJavaBytes compares two names byte by byte as signed bytes.
func compareJavaBytes(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		x, y := int8(a[i]), int8(b[i])
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return len(a) - len(b)
}

// iip ("inodes in path") is a resolved path: comps are the names below the root and
// nodes[i] the inode of comps[:i] (nodes[0] is the root); nodes stops at the first
// missing component or at a file that has components below it.
type iip struct {
	src   string
	comps []string
	nodes []*inode
}

func (p *iip) last() *inode {
	if len(p.nodes) == len(p.comps)+1 {
		return p.nodes[len(p.nodes)-1]
	}
	return nil
}

// parent returns the inode of the parent directory, or nil when it is missing.
func (p *iip) parent() *inode {
	if len(p.comps) == 0 || len(p.nodes) < len(p.comps) {
		return nil
	}
	if par := p.nodes[len(p.comps)-1]; par.dir {
		return par
	}
	return nil
}

// fileAncestor returns the path of an existing ancestor that is a file, or "".
func (p *iip) fileAncestor() string {
	for i, n := range p.nodes {
		if i < len(p.comps) && !n.dir {
			return n.path()
		}
	}
	return ""
}

// resolve validates src as DFSUtil.isValidName does and walks the tree.
func (n *namenode) resolve(src string) (*iip, error) {
	if !strings.HasPrefix(src, "/") {
		return nil, exception(exInvalidPath, "Invalid path name Path is not absolute: %s", src)
	}
	var comps []string
	if src != "/" {
		raw := strings.Split(strings.TrimSuffix(src[1:], "/"), "/")
		for _, c := range raw {
			if c == "" || c == "." || c == ".." || strings.Contains(c, ":") {
				return nil, exception(exInvalidPath, "Invalid path name Invalid file name: %s", src)
			}
		}
		comps = raw
	}
	p := &iip{src: src, comps: comps, nodes: []*inode{n.root}}
	cur := n.root
	for _, c := range comps {
		if !cur.dir {
			break
		}
		next := cur.children[c]
		if next == nil {
			break
		}
		p.nodes = append(p.nodes, next)
		cur = next
	}
	return p, nil
}

// lookup resolves src and checks that user may traverse every directory on the way
// (the preamble of most NameNode calls); n.mu must be held.
func (n *namenode) lookup(user, src string) (*iip, error) {
	p, err := n.resolve(src)
	if err != nil {
		return nil, err
	}
	if err := n.traverse(user, p); err != nil {
		return nil, err
	}
	return p, nil
}

func checkComponents(p *iip) error {
	for _, c := range p.comps {
		if len(c) > maxComponentLength {
			return exception(exComponentTooLong, "The maximum path component name limit of %s in directory %s is exceeded: limit=%d length=%d",
				c, p.src, maxComponentLength, len(c))
		}
	}
	return nil
}

func (n *namenode) isSuper(user string) bool {
	if user == n.cfg.Superuser {
		return true
	}
	for _, g := range n.groupsOf(user) {
		if g == n.cfg.Supergroup {
			return true
		}
	}
	return false
}

func (n *namenode) groupsOf(user string) []string {
	if gs, ok := n.cfg.Groups[user]; ok {
		return gs
	}
	return []string{user}
}

// access checks that user may access in with the rwx bits of want, as POSIX does.
func (n *namenode) access(user string, in *inode, want uint32) error {
	if n.isSuper(user) {
		return nil
	}
	var bits uint32
	switch {
	case in.owner == user:
		bits = in.perm >> 6 & 7
	case contains(n.groupsOf(user), in.group):
		bits = in.perm >> 3 & 7
	default:
		bits = in.perm & 7
	}
	if bits&want == want {
		return nil
	}
	return exception(exAccessControl, "Permission denied: user=%s, access=%s, inode=%q:%s:%s:%s",
		user, rwx(want), in.path(), in.owner, in.group, modeString(in))
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func rwx(bits uint32) string {
	b := []byte("---")
	if bits&permRead != 0 {
		b[0] = 'r'
	}
	if bits&permWrite != 0 {
		b[1] = 'w'
	}
	if bits&permExec != 0 {
		b[2] = 'x'
	}
	return string(b)
}

func modeString(in *inode) string {
	t := "-"
	if in.dir {
		t = "d"
	}
	return t + rwx(in.perm>>6&7) + rwx(in.perm>>3&7) + rwx(in.perm&7)
}

// traverse checks execute permission on every existing ancestor directory of p. A file
// among the ancestors fails with ParentNotDirectoryException, as for mutations.
func (n *namenode) traverse(user string, p *iip) error {
	for i, in := range p.nodes {
		if i >= len(p.comps) {
			break
		}
		if !in.dir {
			return exception(exParentNotDir, "%s (is not a directory)", in.path())
		}
		if err := n.access(user, in, permExec); err != nil {
			return err
		}
	}
	return nil
}

// subtreeAccess checks that user has rwx on every directory below (and including) in,
// as a recursive delete requires.
func (n *namenode) subtreeAccess(user string, in *inode) error {
	if !in.dir || n.isSuper(user) {
		return nil
	}
	if err := n.access(user, in, permRead|permWrite|permExec); err != nil {
		return err
	}
	for _, c := range in.children {
		if err := n.subtreeAccess(user, c); err != nil {
			return err
		}
	}
	return nil
}

func (n *namenode) now() int64 { return time.Now().UnixMilli() }

func (n *namenode) newInode(name string, parent *inode, dir bool, perm uint32, owner string) *inode {
	n.nextInode++
	now := n.now()
	in := &inode{id: n.nextInode, name: name, parent: parent, dir: dir, perm: perm & 0o7777,
		owner: owner, mtime: now, atime: now}
	if parent != nil {
		in.group = parent.group // BSD semantics: a new inode takes its directory's group
		parent.children[name] = in
		parent.mtime = now
	} else {
		in.group = n.cfg.Supergroup
	}
	if dir {
		in.children = map[string]*inode{}
	}
	n.inodes[in.id] = in
	return in
}

// unlink removes in (and everything below it) from the tree, dropping its blocks and
// the leases of files under construction.
func (n *namenode) unlink(in *inode) {
	delete(in.parent.children, in.name)
	in.parent.mtime = n.now()
	var drop func(*inode)
	drop = func(x *inode) {
		delete(n.inodes, x.id)
		for _, c := range x.children {
			drop(c)
		}
		for _, b := range x.blocks {
			delete(n.blocks, b.id)
			n.dn.invalidate(b.id)
		}
		x.holder = "" // the lease goes with the file
	}
	drop(in)
}

func (n *namenode) status(in *inode, name string) fileStatus {
	st := fileStatus{
		FileType:         "IS_FILE",
		Path:             []byte(name),
		Permission:       fsPermission{Perm: in.perm},
		Owner:            in.owner,
		Group:            in.group,
		ModificationTime: uint64(in.mtime),
		AccessTime:       uint64(in.atime),
		FileID:           in.id,
		ChildrenNum:      -1,
	}
	if in.dir {
		st.FileType = "IS_DIR"
		st.ChildrenNum = int32(len(in.children))
	} else {
		st.Length = in.length()
		st.BlockReplication = in.replication
		st.Blocksize = in.blockSize
	}
	return st
}

func notFound(src string) error { return exception(exFileNotFound, "File does not exist: %s", src) }

func describe(in *inode) string {
	return fmt.Sprintf("%s (inode %d)", in.path(), in.id)
}
