#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include <boost/asio/async_result.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/post.hpp>

#include "common/result.h"

namespace eg::queue {

// The delivery queue (spec §5): where async deliveries wait between the 202 and their
// function's answer. One interface, three backends chosen once at start-up (open.h):
// memory (bounded, lost on a crash), embedded (an append-only log on local disk) and
// NATS JetStream (a replicated stream shared by every gateway instance).
//
// Deliveries name their target by configuration names (space, subscription,
// function); the dispatcher resolves them against the configuration of the moment a
// delivery is attempted, so that a queue holds no pointers into any snapshot and
// survives restarts.

// Milliseconds since the Unix epoch: times that outlive the process.
using WallMs = int64_t;
WallMs nowMs();

// Who one delivery goes to.
struct Target {
  std::string space;
  std::string subscriptionId;  // the subscription that matched the event
  std::string functionId;      // the function called: the subscription's, or a dead letter's
  std::string eventType;       // the event's type, for metrics and authorizers
  uint8_t flags = 0;

  static constexpr uint8_t kSystem = 1;      // a system event: no authorizer, emits none
  static constexpr uint8_t kDeadLetter = 2;  // a given-up delivery on its way to a dead letter
  bool system() const { return (flags & kSystem) != 0; }
  bool deadLetter() const { return (flags & kDeadLetter) != 0; }
};

// What every delivery of one event shares. Immutable once queued.
struct EventData {
  std::string payload;         // the event's JSON, as the function receives it
  std::string request;         // http.request JSON of the original request, for
                               // authorizers; empty when no subscriber's needs it
  // The W3C trace context of the request that brought the event (spec §3.8), forwarded
  // on every call the event causes; empty when it had none.
  std::string traceparent;
  std::string tracestate;
  WallMs acceptedAtMs = 0;     // when the gateway accepted the event (maxEventAge)
  int64_t configRevision = 0;  // the configuration revision the event was routed on
};

// One delivery of one event to one target, and where it stands.
struct Delivery {
  std::shared_ptr<const EventData> event;
  Target target;
  uint32_t attempts = 0;  // attempts made so far
  WallMs dueAtMs = 0;     // the next attempt is not made before this
  std::string lastError;  // why the last attempt failed; empty before the first

  // Bytes this delivery stands for in size limits (its share of the event counted whole).
  std::size_t bytes() const;
};

// A delivery handed out by take(): the caller owns it until it settles it with exactly
// one of complete, retry, replace or release.
struct Lease {
  Delivery delivery;
  uint64_t id = 0;                // the backend's name for the delivery's stored state
  std::shared_ptr<void> handle;   // backend state that must live as long as the lease
};

struct EnqueueRequest {
  std::shared_ptr<const EventData> event;
  std::vector<Target> targets;  // one delivery each, all due at once
};

struct Stats {
  uint64_t deliveries = 0;     // waiting or in flight
  uint64_t bytes = 0;          // held by the queue (the embedded log's files; a stream's bytes)
  double oldestSeconds = 0;    // age of the oldest delivery held (0 when empty)
};

using EnqueueHandler = std::function<void(Status)>;
using TakeHandler = std::function<void(std::vector<Lease>)>;

// Thread-safe: every member may be called from any thread. Handlers are called on a
// thread of the backend's choosing (possibly inside the call): the awaitable wrappers
// below carry their result back to the caller's executor.
class DeliveryQueue {
 public:
  virtual ~DeliveryQueue() = default;

  // Opens the storage and recovers what it holds (embedded: replays the log; NATS:
  // connects in the background). A failure here is the operator's to fix: start-up stops.
  virtual Status start() = 0;

  // Queues one delivery per target, all or none. `done` gets ok once the deliveries are
  // kept as the backend promises (memory: in memory; embedded: fsync'd; NATS: the
  // stream acknowledged them), or kUnavailable with a message when nothing was queued
  // (full, or the backend cannot be reached); then the event is refused with 503.
  virtual void enqueue(EnqueueRequest request, EnqueueHandler done) = 0;
  // enqueue for several events at once, admitted whole: every request's deliveries fit
  // and are queued, or none is (a CloudEvents batch has one answer, spec §3.8). `done`
  // once all are kept; should keeping one fail after admission (a disk error), it gets
  // that error though others may have been kept.
  virtual void enqueueAll(std::vector<EnqueueRequest> requests, EnqueueHandler done) = 0;

  // Hands out up to `max` (at least 1) deliveries that are due, waiting until one is.
  // Answers an empty vector once close() was called. One take at a time.
  virtual void take(std::size_t max, TakeHandler handler) = 0;

  // Settling a lease. complete: delivered, given up or dropped; never again. retry: try
  // again at `dueAtMs` with the new state. replace: done, and `replacement` (a dead
  // letter) takes its place, never lost in between. release: untouched; attempted again
  // later, by this instance or (NATS) another.
  virtual void complete(Lease lease) = 0;
  virtual void retry(Lease lease, uint32_t attempts, WallMs dueAtMs, std::string lastError) = 0;
  virtual void replace(Lease lease, Delivery replacement) = 0;
  virtual void release(Lease lease) = 0;

  // Stops handing out deliveries (a pending take answers empty) and makes what was
  // settled so far durable. Leases still out may be settled until the queue is
  // destroyed; what is neither settled nor released then stays queued for the next start.
  virtual void close() = 0;

  virtual Stats stats() const = 0;
  // The mode and where it keeps its data, for the start-up log line.
  virtual std::string describe() const = 0;
  // Whether the deliveries survive a crash of the process (memory: no). SIGTERM waits
  // for a queue that does not to empty itself before exiting.
  virtual bool durable() const = 0;
};

// A handler for `n` parts of one enqueue: calls `done` once, when the last part
// answers, with the first failure among them (or ok).
EnqueueHandler allParts(std::size_t n, EnqueueHandler done);

// co_await-able forms of enqueue (one EnqueueRequest) or enqueueAll (a vector of them),
// and of take: the handler runs on the awaiting coroutine's executor.
template <class Request, class Token>
auto asyncEnqueue(DeliveryQueue& queue, Request request, Token&& token) {
  return boost::asio::async_initiate<Token, void(Status)>(
      [&queue](auto handler, Request request) {
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        auto done = [shared](Status status) {
          auto executor = boost::asio::get_associated_executor(*shared);
          boost::asio::post(executor, [shared, status = std::move(status)]() mutable {
            std::move (*shared)(std::move(status));
          });
        };
        if constexpr (std::is_same_v<Request, EnqueueRequest>) {
          queue.enqueue(std::move(request), std::move(done));
        } else {
          queue.enqueueAll(std::move(request), std::move(done));
        }
      },
      token, std::move(request));
}

template <class Token>
auto asyncTake(DeliveryQueue& queue, std::size_t max, Token&& token) {
  return boost::asio::async_initiate<Token, void(std::vector<Lease>)>(
      [&queue](auto handler, std::size_t max) {
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        queue.take(max, [shared](std::vector<Lease> leases) {
          auto executor = boost::asio::get_associated_executor(*shared);
          boost::asio::post(executor, [shared, leases = std::move(leases)]() mutable {
            std::move (*shared)(std::move(leases));
          });
        });
      },
      token, max);
}

}  // namespace eg::queue
