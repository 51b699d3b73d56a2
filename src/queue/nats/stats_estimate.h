#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>

#include "queue/queue.h"

namespace eg::queue::nats {

// What the queue holds, as the last snapshot of the stream said plus what this process
// did since, so that stats() answers at once and reflects this process's own operations
// the moment they are made (the contract expects a completed delivery to be gone from
// stats() right away), while other instances' operations show up with the next snapshot.
//
// An operation (a publish, an ack) is counted from begin() on. Its effect is in a
// snapshot for certain only when the snapshot was requested after the server confirmed
// the operation; for one still unconfirmed there is no telling. So a snapshot replaces
// the base only when no operation was unconfirmed when it was requested and none changed
// while it was under way ("quiet"); under steady load that may not happen, and then
// `force` takes it anyway (the estimate may be off by the operations in flight until
// the next quiet snapshot).
//
// Thread-safe.
class StatsEstimate {
 public:
  using Token = uint64_t;

  // The stream's state as the server reported it.
  struct Snapshot {
    uint64_t deliveries = 0;
    uint64_t bytes = 0;
    WallMs firstMs = 0;  // when the oldest message held was stored; 0 when empty
  };
  // Where a snapshot request started, for finishSnapshot.
  struct Mark {
    uint64_t changes = 0;
    bool quiet = false;
  };

  Token begin(int64_t deliveries, int64_t bytes, WallMs at);
  // The server applied it: snapshots requested from now on include it.
  void confirm(Token token);
  // It failed (or its outcome is unknown): stop counting it; the next snapshot decides.
  void forget(Token token);

  Mark startSnapshot() const;
  // Takes `snapshot` as the new base if it is quiet (or `force`); answers whether it did.
  bool finishSnapshot(Mark mark, const Snapshot& snapshot, bool force);
  // Whether an operation was confirmed or forgotten since the last snapshot was taken in.
  bool changedSinceSnapshot() const;

  Stats current(WallMs now) const;

 private:
  struct Op {
    int64_t deliveries = 0;
    int64_t bytes = 0;
    WallMs at = 0;
    bool confirmed = false;
    uint64_t confirmedAt = 0;  // changes_ when it was confirmed
  };

  mutable std::mutex mu_;
  std::map<Token, Op> ops_;
  Token next_ = 1;
  uint64_t changes_ = 0;  // bumped by every begin, confirm and forget
  uint64_t changesAtBase_ = 0;
  Snapshot base_;
};

}  // namespace eg::queue::nats
