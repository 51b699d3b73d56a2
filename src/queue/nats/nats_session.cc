#include "queue/nats/nats_session.h"

#include <spdlog/spdlog.h>

#include "queue/nats/nats_setup.h"

namespace eg::queue::nats {
namespace {

// Threads for acks that wait for the server's confirmation and for deletes.
constexpr int kJobThreads = 2;
// A stored message's framing and our headers (Nats-Msg-Id, Nats-Expected-Stream).
constexpr int64_t kMessageOverhead = 120;

}  // namespace

Session::Session(NatsQueueOptions opts)
    : options(std::move(opts)),
      publisher(options.stream, options.subject, options.publishTimeout),
      jobs(kJobThreads) {}

Session::~Session() {
  jobs.stop();
  // Destroying (rather than closing) the subscription leaves the durable consumer alone.
  natsSubscription_Destroy(subscription.exchange(nullptr));
  natsConnection* nc = connection.exchange(nullptr);
  if (nc != nullptr) natsConnection_Close(nc);
  jsCtx_Destroy(js.exchange(nullptr));
  natsConnection_Destroy(nc);
  natsOptions_Destroy(connectionOptions);
}

std::string Session::notReadyReason() const {
  std::lock_guard lock(mu_);
  return notReadyReason_;
}

void Session::setNotReadyReason(std::string reason) {
  std::lock_guard lock(mu_);
  notReadyReason_ = std::move(reason);
}

bool Session::connected() const {
  natsConnection* nc = connection.load();
  return nc != nullptr && natsConnection_Status(nc) == NATS_CONN_STATUS_CONNECTED;
}

int64_t Session::storedBytes(std::size_t bodyBytes) const {
  return static_cast<int64_t>(bodyBytes + options.subject.size()) + kMessageOverhead;
}

void Session::add(LeaseState* lease) {
  std::lock_guard lock(mu_);
  leases_.insert(lease);
}

void Session::remove(LeaseState* lease) {
  std::lock_guard lock(mu_);
  leases_.erase(lease);
}

void Session::keepLeasesAlive() {
  const auto now = std::chrono::steady_clock::now();
  const auto after = options.ackWait / 2;
  std::lock_guard lock(mu_);
  for (LeaseState* lease : leases_) {
    if (lease->finished_ || now - lease->lastAlive_ < after) continue;
    lease->progress();
    lease->lastAlive_ = now;
  }
}

void Session::releaseAllLeases() {
  std::lock_guard lock(mu_);
  for (LeaseState* lease : leases_) {
    if (lease->claim()) lease->nak(std::chrono::milliseconds(0));
  }
}

LeaseState::LeaseState(std::shared_ptr<Session> session, natsMsg* msg, uint64_t sequence)
    : session_(std::move(session)),
      msg_(msg),
      sequence_(sequence),
      storedBytes_(session_->storedBytes(static_cast<std::size_t>(natsMsg_GetDataLength(msg)))),
      lastAlive_(std::chrono::steady_clock::now()) {
  session_->add(this);
}

LeaseState::~LeaseState() {
  // Unregistered first: the keeper and releaseAllLeases hold the session's lock while
  // they use a lease, so none of them uses this one any more.
  session_->remove(this);
  if (claim()) nak(std::chrono::milliseconds(0));
  natsMsg_Destroy(msg_);
}

bool LeaseState::ack(bool wait, std::string* error) {
  std::lock_guard lock(mu_);
  natsStatus s = NATS_OK;
  jsErrCode code = static_cast<jsErrCode>(0);
  if (wait) {
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = session_->options.publishTimeout.count();
    s = natsMsg_AckSync(msg_, &jo, &code);
  } else {
    s = natsMsg_Ack(msg_, nullptr);
  }
  finished_ = true;
  if (s != NATS_OK && error != nullptr) *error = lastError(s, code);
  return s == NATS_OK;
}

void LeaseState::nak(std::chrono::milliseconds delay) {
  std::lock_guard lock(mu_);
  const natsStatus s = delay.count() > 0 ? natsMsg_NakWithDelay(msg_, delay.count(), nullptr)
                                         : natsMsg_Nak(msg_, nullptr);
  finished_ = true;
  if (s != NATS_OK) {
    // Not redelivered early then, but after ackWait: late, never lost.
    spdlog::debug("delivery queue (NATS): NAK of message {} failed: {}", sequence_,
                  lastError(s));
  }
}

void LeaseState::progress() {
  // Skipped when the lease is being settled right now: it will not need it.
  std::unique_lock lock(mu_, std::try_to_lock);
  if (!lock.owns_lock() || finished_) return;
  if (natsMsg_InProgress(msg_, nullptr) != NATS_OK) {
    spdlog::debug("delivery queue (NATS): keeping message {} in progress failed", sequence_);
  }
}

}  // namespace eg::queue::nats
