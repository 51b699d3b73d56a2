#pragma once

// The delivery queue on NATS JetStream (`-queue nats://h1:p1,h2:p2`): one stream shared by
// every gateway instance, consumed through one durable pull consumer, so that the
// deliveries of an instance that dies are made by the others.
//
// How the DeliveryQueue contract maps onto JetStream (decisions the spec leaves open):
// - Storage: stream `stream` (WorkQueue retention, file storage, DiscardNew, MaxBytes
//   `maxBytes`, `replicas` replicas) on subject `subject`; one message per delivery, its
//   body the record format (record.h) of that one delivery, its Nats-Msg-Id random and
//   unique so that the stream drops a message published twice. The stream and the
//   durable consumer (explicit acks, AckWait `ackWait`, no MaxDeliver, no MaxAckPending)
//   are created when missing and brought to these options when they differ, by every
//   instance, on every (re)connection; a setting the server refuses (say 3 replicas on a
//   single server) is reported in the answers to enqueue, word for word.
// - enqueue publishes every target's message without waiting and answers once the
//   stream acknowledged all of them. The first failure answers kUnavailable at once
//   ("delivery queue is full" when the stream reached MaxBytes); the messages of that
//   event that the stream stored anyway are deleted again (best effort: one that an
//   instance fetched in between, or whose acknowledgement timed out, may still be
//   delivered — at least once, never lost).
// - A delivery's state (attempts, due time, last error) lives in its message body, and a
//   message cannot change, so retry publishes the new state as a new message and acks
//   the old one only once the stream acknowledged the new one (never lost in between; a
//   crash in between delivers it twice). replace (a dead letter) is the same with the
//   replacement. If that publish fails, the old message is NAK'd instead (retry: with the
//   requested delay, without the new state; replace: after a second).
// - A message fetched before its due time is NAK'd with the remaining delay and not
//   handed out, so that due times hold on every instance without local timers.
// - attempts are the attempts recorded by retry, nothing more: JetStream's delivery count
//   also counts releases, lease ends and early fetches, which are no attempts (the
//   contract expects a released delivery to come back with its attempts unchanged). A
//   delivery whose instance died mid-call is redelivered with the attempts it had.
// - Leases: complete acks (waiting for the server's confirmation on a thread of our own),
//   release and a Lease destroyed unsettled NAK (redelivered at once, to any instance).
//   A lease gets "in progress" whenever ackWait/2 passed since its last sign of life
//   (checked every ackWait/4, at least every second), so a long call is not redelivered
//   elsewhere; a lease of an instance that dies is redelivered after ackWait.
// - NATS down: start() does not wait for it; the connection is made and kept in the
//   background (reconnecting forever). Until it is up and the stream and consumer are set
//   up, enqueue answers kUnavailable at once and take waits. An enqueue made just as the
//   connection breaks (before the client noticed) waits up to publishTimeout: its messages
//   are sent again on reconnection (to another server of the cluster, say) and usually
//   get in after all.
// - stats(): the stream's state (WorkQueue retention keeps exactly the deliveries waiting
//   or in flight) polled every second on a thread of our own, plus this instance's own
//   operations since (see stats_estimate.h); it never waits on the network.
// - close() answers a pending take empty and stops fetching, without waiting. The
//   destructor waits (bounded by publishTimeout and a few seconds more) for publishes and
//   acks under way, NAKs every lease still unsettled, flushes and closes the connection.
//   A Lease may outlive the queue; settling it is then ignored.
// - Event size: a message must fit the server's max_payload (1 MiB by default); raise it
//   in the server's configuration for events up to -max-body-size.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "queue/queue.h"

namespace eg::queue {

struct NatsQueueOptions {
  std::vector<std::string> servers;  // "host:port" (the -queue nats://h1:p1,h2:p2 flag)
  int replicas = 3;                  // stream replicas (-queue-replicas), as the server takes it
  uint64_t maxBytes = 1 << 30;       // stream MaxBytes (-queue-max-bytes); full: enqueue 503s
  // TLS to NATS (-queue-tls-*): the CA of the servers' certificates, and a client
  // certificate and key when the servers require one. Any of them turns TLS on.
  std::string tlsCa, tlsCert, tlsKey;
  std::string credsFile;  // -queue-creds: a NATS user credentials file (JWT and seed)
  std::string stream = "EVENTGATEWAY";
  std::string subject = "eventgateway.deliveries";
  std::string consumer = "eventgateway";  // durable, shared by every gateway instance
  // A lease not settled nor kept alive for this long goes to another instance.
  std::chrono::milliseconds ackWait{60'000};
  // How long the stream has to acknowledge a publish (and any other NATS request).
  std::chrono::milliseconds publishTimeout{5'000};
};

namespace nats {
class Session;
class LeaseState;
}  // namespace nats

// Every member may be called from any thread. enqueue's handler runs on a NATS library
// thread (or inside the call when the answer is known at once), take's on the queue's
// fetch thread; neither may block. The destructor's time is bounded (publishTimeout and a
// few seconds, with NATS unreachable); it must not run inside a handler.
class NatsQueue final : public DeliveryQueue {
 public:
  explicit NatsQueue(NatsQueueOptions options);
  ~NatsQueue() override;
  NatsQueue(const NatsQueue&) = delete;
  NatsQueue& operator=(const NatsQueue&) = delete;

  // Checks the TLS and credentials files and starts connecting in the background; fails
  // only for such operator mistakes, never because NATS cannot be reached.
  Status start() override;
  void enqueue(EnqueueRequest request, EnqueueHandler done) override;
  void enqueueAll(std::vector<EnqueueRequest> requests, EnqueueHandler done) override;
  void take(std::size_t max, TakeHandler handler) override;
  void complete(Lease lease) override;
  void retry(Lease lease, uint32_t attempts, WallMs dueAtMs, std::string lastError) override;
  void replace(Lease lease, Delivery replacement) override;
  void release(Lease lease) override;
  void close() override;
  Stats stats() const override;
  std::string describe() const override;
  bool durable() const override { return true; }

  // Connected, with the stream and the consumer set up: enqueue is tried, not refused.
  bool ready() const;

 private:
  // enqueue and enqueueAll: one message per delivery of every request.
  void publish(std::span<EnqueueRequest> requests, EnqueueHandler done);
  struct PendingTake {
    std::size_t max = 1;
    TakeHandler handler;
  };

  // Connects, sets up the stream and consumer (again after every reconnection), polls
  // the stream's state for stats and keeps long leases alive.
  void controlLoop();
  // Creates the connection (connecting in the background) and the JetStream context.
  bool connect();
  Status setUp();
  // Polls the stream's state into the stats estimate; answers whether it was taken in.
  bool refreshStats(bool force, bool& streamGone);
  // Serves takes: one pull request at a time, for what the pending take asked.
  void fetchLoop();
  void fetchOnce(std::size_t max);
  // Publishes `next` in the place of the lease's message (retry and replace); if that
  // fails, the old message comes back at `fallbackDueMs`.
  void republish(Lease lease, Delivery next, WallMs fallbackDueMs);
  // The lease's state when this call is the one that settles it, else null.
  static std::shared_ptr<nats::LeaseState> claim(Lease& lease);
  // Sleeps up to `d`; false when the queue stopped (or, `orClosed`, was closed) meanwhile.
  bool pause(std::chrono::milliseconds d, bool orClosed);

  std::shared_ptr<nats::Session> session_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool started_ = false;
  bool closed_ = false;
  bool stopping_ = false;  // the destructor runs
  bool setUpAgain_ = false;  // a fetch error suggests the consumer is gone
  std::optional<PendingTake> take_;
  std::thread control_;
  std::thread fetch_;
};

}  // namespace eg::queue
