// Package election elects one leader among unifiedfs members with ZooKeeper (the
// leader-latch recipe, as Curator's LeaderLatch) and publishes the leader's address for
// clients and standbys. ZooKeeper decides who leads; this package invents no consensus.
//
// # The recipe
//
// A member that Joins creates an EPHEMERAL_SEQUENTIAL znode under Config.ElectionPath
// holding its address, named "_c_<guid>-n_<sequence>". The member with the lowest
// sequence leads; every other member watches only its predecessor (no herd effect). The
// GUID makes a node recognisable after a create whose response was lost (connection loss,
// a timed-out call): every child carrying the member's GUID is its own, the lowest is its
// candidacy and extra ones are deleted. A session that expires takes the node with it;
// the member rejoins with a new node in a new session. A node deleted by someone else is
// replaced with a new one.
//
// # Epochs
//
// On winning, the member rewrites its own election node; the epoch is that write's zxid
// (Stat.Mzxid). Zxids are ZooKeeper's own total order of writes: they grow across all
// members, all sessions and server restarts (they only start again if ZooKeeper's data is
// wiped, as any counter kept in ZooKeeper would), deleting our znodes does not reset them,
// and drawing one needs no read-modify-write. The write succeeds only while the node
// exists, and a node that was lowest and still exists is still lowest (sequences only
// grow), so the epoch is drawn only by the rightful leader. Only then is
// {address, epoch} published at Config.LeaderPath, an ephemeral node of the leader's
// session, which therefore vanishes with the session. A new leadership always has a new,
// larger epoch; leadership regained after a suspension keeps its epoch.
//
// # Fencing: what Check promises
//
// Elector.Check(E) returns nil only while the member leads with epoch E, is connected,
// and holds a lease: the leader confirms its node (present, lowest, same session) every
// SessionTimeout/6, and a confirmation whose request was sent at monotonic time t0 grants
// the lease until t0 + SessionTimeout/2. ZooKeeper received that request after t0, so it
// cannot expire the session, and no other member can be granted leadership, before
// t0 + SessionTimeout. Hence: if Check(E) returns nil at time t, no other member led at
// time t (given that the two clocks run at rates within a factor of two of each other and,
// for a ZooKeeper ensemble, that a server forwards session activity to the ZooKeeper
// leader within SessionTimeout/2).
//
// Check is one atomic load and a monotonic clock read. A Disconnected event suspends the
// leader at once (Check fails, EventSuspended); a lapsed lease does too. A reconnect
// within the session, with the node still present and lowest, regains leadership with the
// same epoch (EventRegained). Session expiry, the loss of the node, Leave, or no
// confirmation for 3/4 of the session timeout (the member then gives the session up, as
// Curator does after a session timeout spent disconnected) lose it (EventLost), and the
// member rejoins with a new node.
//
// What cannot be promised: anything about the time after Check returns. A process paused
// (SIGSTOP, a long GC or swap stall, a VM freeze) between a successful Check and the
// effect it guarded — writing a journal entry, answering a client — resumes believing it
// checked, while another member may have become leader during the pause. The lease bounds
// everything that calls Check after the pause (it fails at once, even before the
// elector's goroutines have run), but not an effect already past its Check. Only a fence
// at the receiving end closes that window: the shared journal must refuse (or replay must
// ignore) entries of an epoch older than the newest it has seen. Monotonic time does not
// advance while the whole machine is suspended; a machine suspend longer than the session
// timeout is outside what the lease covers, and again the journal's epoch fence decides.
package election
