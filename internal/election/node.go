package election

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Candidate node names: "_c_" + 32 hex digits of GUID + "-n_" + the 10-digit sequence
// ZooKeeper appends (Curator's protected-name layout).
const (
	protectedPrefix = "_c_"
	guidLen         = 32
	nameInfix       = "-n_"
	seqLen          = 10
)

func newGUID() string {
	var b [guidLen / 2]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b[:])
}

// nodePrefix is the name given to Create; ZooKeeper appends the sequence.
func nodePrefix(guid string) string { return protectedPrefix + guid + nameInfix }

type candidate struct {
	name string
	guid string
	seq  int64
}

// parseCandidates keeps the well-formed candidate names among children, sorted by
// sequence (lowest, the leader, first). Other children are ignored.
func parseCandidates(children []string) []candidate {
	var out []candidate
	for _, name := range children {
		if len(name) != len(protectedPrefix)+guidLen+len(nameInfix)+seqLen ||
			!strings.HasPrefix(name, protectedPrefix) ||
			name[len(protectedPrefix)+guidLen:len(name)-seqLen] != nameInfix {
			continue
		}
		seq, err := strconv.ParseInt(name[len(name)-seqLen:], 10, 64)
		if err != nil || seq < 0 {
			continue
		}
		out = append(out, candidate{name: name, guid: name[len(protectedPrefix) : len(protectedPrefix)+guidLen], seq: seq})
	}
	slices.SortFunc(out, func(a, b candidate) int { return cmp.Compare(a.seq, b.seq) })
	return out
}

// Leader is what the leader publishes at LeaderPath.
type Leader struct {
	Address string `json:"address"`
	Epoch   int64  `json:"epoch"`
}

func (l Leader) String() string { return fmt.Sprintf("%s (epoch %d)", l.Address, l.Epoch) }

func (l Leader) encode() []byte {
	b, _ := json.Marshal(l)
	return b
}

func decodeLeader(b []byte) (Leader, error) {
	var l Leader
	if err := json.Unmarshal(b, &l); err != nil {
		return Leader{}, fmt.Errorf("election: leader record %q: %w", b, err)
	}
	if l.Address == "" || l.Epoch <= 0 {
		return Leader{}, fmt.Errorf("election: leader record %q lacks an address or an epoch", b)
	}
	return l, nil
}
