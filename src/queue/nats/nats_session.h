#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_set>

#include <nats/nats.h>

#include "queue/nats/job_runner.h"
#include "queue/nats/nats_publisher.h"
#include "queue/nats/nats_queue.h"
#include "queue/nats/stats_estimate.h"

namespace eg::queue::nats {

class LeaseState;

// The NATS objects of one NatsQueue, and what must live as long as any of its leases:
// acknowledging a message needs the connection and the subscription it came through, so
// every lease holds the session, and the session frees the NATS objects when the queue
// and its last lease are gone. The queue's threads never outlive the queue.
class Session {
 public:
  explicit Session(NatsQueueOptions options);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  const NatsQueueOptions options;
  Publisher publisher;
  StatsEstimate stats;
  JobRunner jobs;

  // Set once each, in this order, before `ready`; constant afterwards. The options are
  // set by start(); the rest by the control thread.
  natsOptions* connectionOptions = nullptr;
  std::atomic<natsConnection*> connection{nullptr};
  std::atomic<jsCtx*> js{nullptr};
  std::atomic<natsSubscription*> subscription{nullptr};
  // The stream and consumer were set up (at least once).
  std::atomic<bool> setUp{false};
  // Why enqueue is refused while not set up (for the 503's text).
  std::string notReadyReason() const;
  void setNotReadyReason(std::string reason);

  bool connected() const;
  // Bytes a message with a body of `bodyBytes` takes in the stream, about (headers and
  // the store's framing included), for the stats estimate.
  int64_t storedBytes(std::size_t bodyBytes) const;

  // Leases out. The keeper sends "in progress" for those held longer than ackWait/2;
  // the queue's destructor NAKs what is left.
  void keepLeasesAlive();
  void releaseAllLeases();

 private:
  friend class LeaseState;
  void add(LeaseState* lease);
  void remove(LeaseState* lease);

  mutable std::mutex mu_;
  std::string notReadyReason_ = "not connected to NATS";
  std::unordered_set<LeaseState*> leases_;
};

// One message handed out as a Lease (Lease::handle). Exactly one party settles it: the
// first to claim() it (a settling call, the queue's destructor, or the lease's end, which
// NAKs it so that it is redelivered at once).
class LeaseState {
 public:
  LeaseState(std::shared_ptr<Session> session, natsMsg* msg, uint64_t sequence);
  ~LeaseState();
  LeaseState(const LeaseState&) = delete;
  LeaseState& operator=(const LeaseState&) = delete;

  uint64_t sequence() const { return sequence_; }
  // Bytes the message takes in the stream (about), for the stats estimate.
  int64_t storedBytes() const { return storedBytes_; }
  Session& session() { return *session_; }

  // True for the first caller only; the others must leave the message alone.
  bool claim() { return !claimed_.exchange(true); }

  // Acks; `wait`: for the server's confirmation (up to the request timeout). Answers
  // whether the server confirmed it (or, without waiting, whether it was sent).
  bool ack(bool wait, std::string* error);
  // Redelivered after `delay` (0: at once).
  void nak(std::chrono::milliseconds delay);

 private:
  friend class Session;
  void progress();

  std::shared_ptr<Session> session_;
  natsMsg* msg_;
  const uint64_t sequence_;
  const int64_t storedBytes_;
  std::mutex mu_;  // the natsMsg calls
  std::atomic<bool> claimed_{false};
  std::atomic<bool> finished_{false};                // acked or NAK'd: no more progress
  std::chrono::steady_clock::time_point lastAlive_;  // under the session's mu_
};

}  // namespace eg::queue::nats
