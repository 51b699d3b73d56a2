#include "queue/nats/nats_queue.h"

#include <algorithm>
#include <exception>
#include <functional>
#include <span>
#include <utility>

#include <nats/nats.h>
#include <spdlog/spdlog.h>

#include "queue/nats/nats_session.h"
#include "queue/nats/nats_setup.h"
#include "queue/record.h"

namespace eg::queue {

using nats::LeaseState;
using nats::Session;
using namespace std::chrono_literals;

namespace {

constexpr auto kTick = 50ms;                // the control loop's pace
constexpr auto kSetUpRetry = 1s;            // after a failed setup
constexpr auto kStatsEvery = 1s;            // stream state poll
constexpr auto kStatsAfterChange = 250ms;   // sooner, after our own operations
constexpr auto kStatsWait = 1000ms;         // one stream info request
constexpr auto kForceSnapshotAfter = 5s;    // see StatsEstimate
constexpr auto kFetchExpiry = 1s;           // one pull request
constexpr auto kFetchRefusedPause = 50ms;   // the server answered "requests pending" at once
constexpr auto kFetchErrorPause = 200ms;
constexpr int kMaxBatch = 256;
constexpr WallMs kReplaceFallbackMs = 1000;  // a dead letter that could not be stored
constexpr WallMs kDueSlackMs = 5;            // this close to its due time is due
constexpr auto kShutdownPublishWait = 3s;
constexpr int64_t kFlushOnCloseMs = 1000;

int64_t nanos(std::chrono::milliseconds d) { return d.count() * 1'000'000; }

// Whether a fetch failure points at a missing consumer (deleted, or the stream was lost
// with a server's data), which setting up again repairs.
bool consumerMayBeGone(natsStatus s) { return s == NATS_NO_RESPONDERS || s == NATS_ERR; }

std::chrono::milliseconds keepAliveEvery(std::chrono::milliseconds ackWait) {
  return std::clamp<std::chrono::milliseconds>(ackWait / 4, 10ms, 1000ms);
}

uint64_t reconnectsOf(natsConnection* nc, natsStatistics* counters) {
  uint64_t in = 0, inBytes = 0, out = 0, outBytes = 0, reconnects = 0;
  if (natsConnection_GetStats(nc, counters) == NATS_OK) {
    natsStatistics_GetCounts(counters, &in, &inBytes, &out, &outBytes, &reconnects);
  }
  return reconnects;
}

std::string lastConnectionError(natsConnection* nc) {
  const char* text = nullptr;
  if (natsConnection_GetLastError(nc, &text) == NATS_OK || text == nullptr) return {};
  return text;  // copied at once: the connection reuses the buffer
}

void callGuarded(const char* what, const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    spdlog::error("delivery queue (NATS): {} threw: {}", what, e.what());
  } catch (...) {
    spdlog::error("delivery queue (NATS): {} threw", what);
  }
}

// Deletes a message of an event that was refused (another of its messages failed).
void deleteOrphan(Session* session, uint64_t sequence) {
  session->jobs.post([session, sequence](bool hurry) {
    const auto& o = session->options;
    jsCtx* js = session->js.load();
    if (hurry || js == nullptr) {
      spdlog::warn("delivery queue (NATS): message {} of a refused event stays in stream {}",
                   sequence, o.stream);
      return;
    }
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = o.publishTimeout.count();
    jsErrCode code = static_cast<jsErrCode>(0);
    const natsStatus s = js_DeleteMsg(js, o.stream.c_str(), sequence, &jo, &code);
    if (s != NATS_OK && s != NATS_NOT_FOUND) {
      spdlog::warn(
          "delivery queue (NATS): cannot delete message {} of a refused event from stream {} "
          "({}); it will be delivered",
          sequence, o.stream, nats::lastError(s, code));
    }
  });
}

// The leases of fetched messages; a message that is not due yet goes back with the time
// it has left, one that is no delivery is dropped. Takes the messages out of `list`.
std::vector<Lease> leasesOf(const std::shared_ptr<Session>& session, natsMsgList& list) {
  std::vector<Lease> leases;
  for (int i = 0; i < list.Count; ++i) {
    natsMsg* msg = std::exchange(list.Msgs[i], nullptr);
    uint64_t sequence = 0;
    jsMsgMetaData* meta = nullptr;
    if (natsMsg_GetMetaData(&meta, msg) == NATS_OK) {
      sequence = meta->Sequence.Stream;
      jsMsgMetaData_Destroy(meta);
    }
    // From here the state owns the message, and NAKs it if it ends unsettled.
    auto state = std::make_shared<LeaseState>(session, msg, sequence);
    auto decoded = decodeDeliveries(std::string_view(
        natsMsg_GetData(msg), static_cast<std::size_t>(natsMsg_GetDataLength(msg))));
    if (!decoded || decoded->size() != 1) {
      spdlog::error("delivery queue (NATS): message {} of stream {} is no delivery ({}); dropped",
                    sequence, session->options.stream,
                    decoded ? "several deliveries" : decoded.error().message);
      if (state->claim()) state->ack(false, nullptr);
      continue;
    }
    Delivery delivery = std::move(decoded->front());
    const WallMs now = nowMs();
    if (delivery.dueAtMs > now + kDueSlackMs) {
      if (state->claim()) state->nak(std::chrono::milliseconds(delivery.dueAtMs - now));
      continue;
    }
    Lease lease;
    lease.delivery = std::move(delivery);
    lease.id = sequence;
    lease.handle = std::move(state);
    leases.push_back(std::move(lease));
  }
  return leases;
}

}  // namespace

NatsQueue::NatsQueue(NatsQueueOptions options)
    : session_(std::make_shared<Session>(std::move(options))) {}

NatsQueue::~NatsQueue() {
  close();
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (fetch_.joinable()) fetch_.join();
  Session& s = *session_;
  // Answers every publish under way (retries and dead letters whose new message was
  // stored get their old one acked by a job), runs the jobs left, NAKs what no one settled.
  s.publisher.abandon(std::min<std::chrono::milliseconds>(s.options.publishTimeout,
                                                          kShutdownPublishWait));
  s.jobs.stop();
  s.releaseAllLeases();
  if (natsConnection* nc = s.connection.load()) {
    if (s.connected()) natsConnection_FlushTimeout(nc, kFlushOnCloseMs);
    // Also ends a request the control thread may be waiting on.
    natsConnection_Close(nc);
  }
  if (control_.joinable()) control_.join();
}

Status NatsQueue::start() {
  std::lock_guard lock(mu_);
  if (started_) return {};
  const auto& o = session_->options;
  if (o.stream.empty() || o.subject.empty() || o.consumer.empty()) {
    return Error::invalid("the NATS queue needs a stream, a subject and a consumer name");
  }
  if (o.ackWait <= 0ms || o.publishTimeout <= 0ms) {
    return Error::invalid("the NATS queue's ack wait and publish timeout must be positive");
  }
  auto options = nats::makeConnectionOptions(o);
  if (!options) return std::move(options).error();
  session_->connectionOptions = *options;
  started_ = true;
  control_ = std::thread([this] { controlLoop(); });
  fetch_ = std::thread([this] { fetchLoop(); });
  return {};
}

bool NatsQueue::ready() const { return session_->setUp && session_->connected(); }

std::string NatsQueue::describe() const {
  const auto& o = session_->options;
  std::string servers;
  for (const auto& s : o.servers) servers += (servers.empty() ? "" : ",") + s;
  return "nats (servers " + servers + ", stream " + o.stream + ", " +
         std::to_string(o.replicas) + (o.replicas == 1 ? " replica)" : " replicas)");
}

Stats NatsQueue::stats() const { return session_->stats.current(nowMs()); }

void NatsQueue::enqueue(EnqueueRequest request, EnqueueHandler done) {
  publish(std::span<EnqueueRequest>(&request, 1), std::move(done));
}

void NatsQueue::enqueueAll(std::vector<EnqueueRequest> requests, EnqueueHandler done) {
  publish(requests, std::move(done));
}

void NatsQueue::publish(std::span<EnqueueRequest> requests, EnqueueHandler done) {
  Session& s = *session_;
  auto refuse = [&](Error e) {
    if (done) callGuarded("an enqueue handler", [&] { done(std::move(e)); });
  };
  {
    std::lock_guard lock(mu_);
    if (closed_) return refuse(nats::unavailable("the queue is closed"));
  }
  std::size_t n = 0;
  for (const EnqueueRequest& request : requests) {
    if (!request.event) return refuse(Error::internal("enqueue without an event"));
    n += request.targets.size();
  }
  if (n == 0) {
    if (done) callGuarded("an enqueue handler", [&] { done(Status{}); });
    return;
  }
  if (!s.setUp || !s.connected()) return refuse(nats::unavailable(s.notReadyReason()));

  // One message per delivery; the publisher answers once the stream has them all, and
  // deletes those it has when one fails: all or none.
  std::vector<std::string> bodies;
  bodies.reserve(n);
  int64_t bytes = 0;
  for (const EnqueueRequest& request : requests) {
    for (const Target& target : request.targets) {
      std::string body;
      encodeNew(body, *request.event, std::span<const Target>(&target, 1));
      bytes += s.storedBytes(body.size());
      bodies.push_back(std::move(body));
    }
  }
  const auto token = s.stats.begin(static_cast<int64_t>(n), bytes, nowMs());
  Session* session = &s;
  s.publisher.publish(
      std::move(bodies),
      [session, token, done = std::move(done)](Status status) {
        if (status) {
          session->stats.confirm(token);
        } else {
          session->stats.forget(token);
        }
        if (done) callGuarded("an enqueue handler", [&] { done(std::move(status)); });
      },
      [session](uint64_t sequence) { deleteOrphan(session, sequence); });
}

void NatsQueue::take(std::size_t max, TakeHandler handler) {
  {
    std::lock_guard lock(mu_);
    if (!closed_) {
      take_ = PendingTake{std::max<std::size_t>(max, 1), std::move(handler)};
      wake_.notify_all();
      return;
    }
  }
  callGuarded("a take handler", [&] { handler({}); });
}

std::shared_ptr<LeaseState> NatsQueue::claim(Lease& lease) {
  auto state = std::static_pointer_cast<LeaseState>(std::move(lease.handle));
  if (!state || !state->claim()) return nullptr;  // settled already, or the queue is gone
  return state;
}

void NatsQueue::complete(Lease lease) {
  auto state = claim(lease);
  if (!state) return;
  Session* session = session_.get();
  const auto token = session->stats.begin(-1, -state->storedBytes(), nowMs());
  session->jobs.post([session, state, token](bool hurry) {
    std::string error;
    if (state->ack(!hurry, &error)) {
      session->stats.confirm(token);
      return;
    }
    session->stats.forget(token);
    spdlog::warn(
        "delivery queue (NATS): acknowledging message {} failed ({}); it will be delivered "
        "again",
        state->sequence(), error);
  });
}

void NatsQueue::retry(Lease lease, uint32_t attempts, WallMs dueAtMs, std::string lastError) {
  Delivery next = std::move(lease.delivery);
  next.attempts = attempts;
  next.dueAtMs = dueAtMs;
  next.lastError = std::move(lastError);
  republish(std::move(lease), std::move(next), dueAtMs);
}

void NatsQueue::replace(Lease lease, Delivery replacement) {
  republish(std::move(lease), std::move(replacement), nowMs() + kReplaceFallbackMs);
}

void NatsQueue::republish(Lease lease, Delivery next, WallMs fallbackDueMs) {
  auto state = claim(lease);
  if (!state) return;
  Session* session = session_.get();
  std::string body;
  encodeDeliveries(body, std::span<const Delivery>(&next, 1));
  const WallMs now = nowMs();
  // Counted as one message in and one out at once: the delivery count does not move.
  const auto added = session->stats.begin(1, session->storedBytes(body.size()), now);
  const auto removed = session->stats.begin(-1, -state->storedBytes(), now);
  std::vector<std::string> bodies;
  bodies.push_back(std::move(body));
  session->publisher.publish(std::move(bodies), [session, state, added, removed,
                                                 fallbackDueMs](Status status) {
    if (!status) {
      session->stats.forget(added);
      session->stats.forget(removed);
      const auto delay = std::chrono::milliseconds(std::max<WallMs>(0, fallbackDueMs - nowMs()));
      spdlog::warn(
          "delivery queue (NATS): cannot store the next state of message {} ({}); it comes "
          "back as it was in {} ms",
          state->sequence(), status.error().message, delay.count());
      state->nak(delay);
      return;
    }
    session->stats.confirm(added);
    // Only now that the new message is stored does the old one go.
    session->jobs.post([session, state, removed](bool hurry) {
      std::string error;
      if (state->ack(!hurry, &error)) {
        session->stats.confirm(removed);
        return;
      }
      session->stats.forget(removed);
      spdlog::warn(
          "delivery queue (NATS): acknowledging message {} after storing its next state "
          "failed ({}); it will be delivered again",
          state->sequence(), error);
    });
  });
}

void NatsQueue::release(Lease lease) {
  if (auto state = claim(lease)) state->nak(0ms);
}

void NatsQueue::close() {
  TakeHandler handler;
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    closed_ = true;
    if (take_) handler = std::move(take_->handler);
    take_.reset();
  }
  wake_.notify_all();
  // Ends a fetch under way at once (the durable consumer stays: the subscription is bound).
  if (natsSubscription* sub = session_->subscription.load()) natsSubscription_Unsubscribe(sub);
  if (handler) callGuarded("a take handler", [&] { handler({}); });
}

bool NatsQueue::pause(std::chrono::milliseconds d, bool orClosed) {
  std::unique_lock lock(mu_);
  return !wake_.wait_for(lock, d, [&] { return stopping_ || (orClosed && closed_); });
}

void NatsQueue::fetchLoop() {
  for (;;) {
    std::size_t max = 1;
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [&] {
        return stopping_ || closed_ ||
               (take_ && session_->setUp && session_->subscription.load() != nullptr);
      });
      if (stopping_ || closed_) return;
      max = take_->max;
    }
    fetchOnce(max);
  }
}

void NatsQueue::fetchOnce(std::size_t max) {
  jsFetchRequest req;
  jsFetchRequest_Init(&req);
  req.Batch = static_cast<int>(std::min<std::size_t>(max, kMaxBatch));
  // With an expiry, "no wait" answers as soon as any message is there (what is there,
  // up to Batch), or waits for the first one until the expiry.
  req.NoWait = true;
  req.Expires = nanos(kFetchExpiry);
  natsMsgList list{};
  const auto started = std::chrono::steady_clock::now();
  const natsStatus s = natsSubscription_FetchRequest(&list, session_->subscription.load(), &req);
  if (s != NATS_OK) {
    if (s == NATS_TIMEOUT) {
      // Answered at once: other instances' requests wait for what is there.
      if (std::chrono::steady_clock::now() - started < kFetchRefusedPause) {
        pause(kFetchRefusedPause, true);
      }
      return;
    }
    {
      std::lock_guard lock(mu_);
      if (closed_ || stopping_) return;
      if (consumerMayBeGone(s)) setUpAgain_ = true;
    }
    spdlog::debug("delivery queue (NATS): fetch failed: {}", nats::lastError(s));
    pause(kFetchErrorPause, true);
    return;
  }
  std::vector<Lease> leases = leasesOf(session_, list);
  natsMsgList_Destroy(&list);
  if (leases.empty()) return;
  TakeHandler handler;
  {
    std::lock_guard lock(mu_);
    if (take_ && !closed_) {
      handler = std::move(take_->handler);
      take_.reset();
    }
  }
  // Closed meanwhile: the leases end here, unsettled, and so go back (NAK).
  if (handler) callGuarded("a take handler", [&] { handler(std::move(leases)); });
}

Status NatsQueue::setUp() {
  Session& s = *session_;
  jsCtx* js = s.js.load();
  if (auto r = nats::ensureStream(js, s.options); !r) return r;
  if (auto r = nats::ensureConsumer(js, s.options); !r) return r;
  if (s.subscription.load() == nullptr) {
    auto sub = nats::subscribe(js, s.options);
    if (!sub) return std::move(sub).error();
    s.subscription = *sub;
  }
  return {};
}

bool NatsQueue::refreshStats(bool force, bool& streamGone) {
  Session& s = *session_;
  const auto mark = s.stats.startSnapshot();
  auto state = nats::streamState(s.js.load(), s.options, kStatsWait);
  if (!state) {
    streamGone = state.error().kind == ErrorKind::kNotFound;
    if (streamGone) {
      spdlog::warn("delivery queue (NATS): {}; setting it up again", state.error().message);
    }
    return false;
  }
  return s.stats.finishSnapshot(mark, {state->messages, state->bytes, state->firstMs}, force);
}

bool NatsQueue::connect() {
  Session& s = *session_;
  natsConnection* nc = nullptr;
  // Returns at once when no server answers: the library goes on trying in the background.
  natsStatus status = natsConnection_Connect(&nc, s.connectionOptions);
  if (status != NATS_OK && status != NATS_NOT_YET_CONNECTED) {
    s.setNotReadyReason("cannot connect to NATS: " + nats::lastError(status));
    spdlog::error("delivery queue (NATS): {}", s.notReadyReason());
    natsConnection_Destroy(nc);
    return false;
  }
  s.connection = nc;
  {
    std::lock_guard lock(mu_);
    if (stopping_) {  // the destructor may have looked before the connection was there
      natsConnection_Close(nc);
      return false;
    }
  }
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = s.options.publishTimeout.count();
  s.publisher.configure(jo);
  jsCtx* js = nullptr;
  status = natsConnection_JetStream(&js, nc, &jo);
  if (status != NATS_OK) {
    s.setNotReadyReason("cannot use JetStream: " + nats::lastError(status));
    spdlog::error("delivery queue (NATS): {}", s.notReadyReason());
    return false;
  }
  s.js = js;
  s.publisher.attach(js);
  return true;
}

void NatsQueue::controlLoop() {
  if (!connect()) return;
  Session& s = *session_;
  natsConnection* nc = s.connection.load();
  natsStatistics* counters = nullptr;
  natsStatistics_Create(&counters);
  using Clock = std::chrono::steady_clock;
  bool wasConnected = false;
  bool needSetUp = true;
  uint64_t reconnects = 0;
  std::string lastSetUpError, lastConnectionReason;
  Clock::time_point nextSetUp, nextStats, lastStats, nextKeepAlive;
  Clock::time_point lastSnapshot = Clock::now();
  const auto keepEvery = keepAliveEvery(s.options.ackWait);
  do {
    const auto now = Clock::now();
    const bool up = natsConnection_Status(nc) == NATS_CONN_STATUS_CONNECTED;
    if (up != wasConnected) {
      if (up) {
        spdlog::info("delivery queue (NATS): connected");
      } else {
        spdlog::warn("delivery queue (NATS): not connected; reconnecting in the background");
      }
      wasConnected = up;
    }
    if (!up) {
      // Why, for the 503s: a refused TLS handshake or authorization says more than "down".
      std::string reason = "not connected to NATS";
      if (std::string last = lastConnectionError(nc); !last.empty()) reason += " (" + last + ")";
      if (reason != lastConnectionReason) {
        lastConnectionReason = reason;
        s.setNotReadyReason(reason);
        if (reason.find('(') != std::string::npos) {
          spdlog::warn("delivery queue (NATS): {}", reason);
        }
      }
    } else {
      lastConnectionReason.clear();
    }
    if (up) {
      // After a reconnection the server may be another one, or have lost the stream.
      if (const uint64_t r = reconnectsOf(nc, counters); r != reconnects) {
        reconnects = r;
        needSetUp = true;
      }
      {
        std::lock_guard lock(mu_);
        if (std::exchange(setUpAgain_, false)) needSetUp = true;
      }
      if (needSetUp && now >= nextSetUp) {
        if (Status done = setUp()) {
          needSetUp = false;
          lastSetUpError.clear();
          if (!s.setUp.exchange(true)) {
            spdlog::info("delivery queue (NATS): stream {} and consumer {} ready",
                         s.options.stream, s.options.consumer);
            std::lock_guard lock(mu_);  // the fetch thread waits for this
            wake_.notify_all();
          }
        } else {
          nextSetUp = now + kSetUpRetry;
          // Kept without the prefix: a refusal puts it back (nats::unavailable).
          std::string_view reason = done.error().message;
          if (reason.starts_with(nats::kUnavailable)) reason.remove_prefix(nats::kUnavailable.size());
          s.setNotReadyReason(std::string(reason));
          if (done.error().message != lastSetUpError) {  // once, not every second
            lastSetUpError = done.error().message;
            spdlog::error("{}", lastSetUpError);
          }
        }
      }
      const bool statsDue =
          now >= nextStats ||
          (s.stats.changedSinceSnapshot() && now - lastStats >= kStatsAfterChange);
      if (s.setUp && statsDue) {
        bool streamGone = false;
        if (refreshStats(now - lastSnapshot >= kForceSnapshotAfter, streamGone)) {
          lastSnapshot = now;
        }
        needSetUp = needSetUp || streamGone;
        lastStats = now;
        nextStats = now + kStatsEvery;
      }
    }
    if (now >= nextKeepAlive) {
      s.keepLeasesAlive();
      nextKeepAlive = now + keepEvery;
    }
  } while (pause(kTick, false));
  natsStatistics_Destroy(counters);
}

}  // namespace eg::queue
