package hdfstest

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Block states as the NameNode's BlockInfo tracks them.
const (
	blockUnderConstruction = iota // being written
	blockCommitted                // the client reported its final length
	blockComplete                 // committed and a replica of that length was reported
	blockUnderRecovery            // lease or truncate recovery: the DataNode is finalizing it
)

type blockInfo struct {
	id, gs   uint64
	numBytes uint64
	state    int
	reported int64 // length of the finalized replica the DataNode reported; -1 if none
	file     *inode

	// While under recovery: the recovery id (the generation stamp the block gets) and,
	// for a truncate, the length to cut the replica to (-1 for lease recovery).
	recoveryID  uint64
	truncateLen int64
}

// commit records the client's final length of b, as BlockManager.commitBlock does.
func (n *namenode) commit(b *blockInfo, eb *extendedBlock) error {
	if eb.GenerationStamp != b.gs {
		return exception(exIO, "Commit block with mismatching GS. NN has blk_%d_%d, client submits blk_%d_%d",
			b.id, b.gs, eb.BlockID, eb.GenerationStamp)
	}
	if b.state != blockUnderConstruction {
		return nil // already committed: a retried call
	}
	b.numBytes = eb.NumBytes
	b.state = blockCommitted
	n.tryComplete(b)
	return nil
}

func (n *namenode) tryComplete(b *blockInfo) {
	if b.state == blockCommitted && b.reported == int64(b.numBytes) {
		b.state = blockComplete
	}
}

// blockReceived is the DataNode's incremental block report for a finalized replica.
func (n *namenode) blockReceived(id, gs, numBytes uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	b := n.blocks[id]
	if b == nil || b.gs != gs {
		n.dn.invalidate(id) // a replica of a deleted block: the NameNode tells the DataNode to drop it
		return
	}
	b.reported = int64(numBytes)
	n.tryComplete(b)
}

// Block access tokens: the identifier names the block, user, modes and expiry; the
// password is an HMAC-SHA1 of the identifier under a key shared by the NameNode and the
// DataNode, as BlockTokenSecretManager does (the encoding is this cluster's own).

const blockTokenKind = "HDFS_BLOCK_TOKEN"

type blockToken struct {
	expiry  int64
	user    string
	poolID  string
	blockID uint64
	modes   string // "R", "W" or "RW"
}

func (t blockToken) encode() []byte {
	b := binary.AppendVarint(nil, t.expiry)
	for _, s := range []string{t.user, t.poolID, t.modes} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return binary.AppendUvarint(b, t.blockID)
}

func decodeToken(b []byte) (blockToken, error) {
	var t blockToken
	var k int
	t.expiry, k = binary.Varint(b)
	if k <= 0 {
		return t, errors.New("bad token identifier")
	}
	b = b[k:]
	strs := make([]string, 3)
	for i := range strs {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return t, errors.New("bad token identifier")
		}
		strs[i] = string(b[k : k+int(n)])
		b = b[k+int(n):]
	}
	t.user, t.poolID, t.modes = strs[0], strs[1], strs[2]
	t.blockID, k = binary.Uvarint(b)
	if k <= 0 || k != len(b) {
		return t, errors.New("bad token identifier")
	}
	return t, nil
}

type tokenKey []byte

func (k tokenKey) issue(t blockToken) tokenProto {
	id := t.encode()
	mac := hmac.New(sha1.New, k)
	mac.Write(id)
	return tokenProto{Identifier: id, Password: mac.Sum(nil), Kind: blockTokenKind, Service: ""}
}

// verify checks tok for access mode ("R" or "W") to block id of pool.
func (k tokenKey) verify(tok *tokenProto, pool string, id uint64, mode string) error {
	if tok == nil || len(tok.Identifier) == 0 {
		return errors.New("block token is missing")
	}
	if tok.Kind != blockTokenKind {
		return fmt.Errorf("token kind %q is not %s", tok.Kind, blockTokenKind)
	}
	mac := hmac.New(sha1.New, k)
	mac.Write(tok.Identifier)
	if !hmac.Equal(mac.Sum(nil), tok.Password) {
		return errors.New("block token has an invalid password")
	}
	t, err := decodeToken(tok.Identifier)
	if err != nil {
		return err
	}
	switch {
	case t.poolID != pool || t.blockID != id:
		return fmt.Errorf("block token is for blk_%d in %s, not blk_%d in %s", t.blockID, t.poolID, id, pool)
	case time.Now().UnixMilli() > t.expiry:
		return errors.New("block token is expired")
	case !containsRune(t.modes, mode):
		return fmt.Errorf("block token allows %q, not %q", t.modes, mode)
	}
	return nil
}

func containsRune(s, r string) bool {
	for _, c := range s {
		if string(c) == r {
			return true
		}
	}
	return false
}
