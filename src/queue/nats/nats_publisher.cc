#include "queue/nats/nats_publisher.h"

#include <cstdio>
#include <exception>
#include <random>

#include <spdlog/spdlog.h>

#include "queue/nats/nats_setup.h"

namespace eg::queue::nats {
namespace {

constexpr const char* kMsgIdHeader = "Nats-Msg-Id";
// Publishes waiting for the stream's answer; beyond, publish() fails rather than block
// the caller (an I/O thread) for long.
constexpr int64_t kMaxPending = 16384;
constexpr int64_t kStallWaitMs = 20;

// 128 random bits in hex: the prefix of a group's message IDs. Unique enough that two
// instances (or two runs) never share one within the stream's duplicate window.
std::string randomId() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char out[33];
  std::snprintf(out, sizeof out, "%016llx%016llx", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(rng()));
  return out;
}

bool contains(const std::string& text, const char* part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

Publisher::Publisher(std::string stream, std::string subject, std::chrono::milliseconds timeout)
    : stream_(std::move(stream)), subject_(std::move(subject)), timeout_(timeout) {}

void Publisher::configure(jsOptions& options) {
  options.PublishAsync.AckHandler = &Publisher::onAck;
  options.PublishAsync.AckHandlerClosure = this;
  options.PublishAsync.MaxPending = kMaxPending;
  options.PublishAsync.StallWait = kStallWaitMs;
}

void Publisher::attach(jsCtx* js) {
  std::lock_guard lock(mu_);
  js_ = js;
}

void Publisher::publish(std::vector<std::string> bodies, Done done, Orphan orphan) {
  if (bodies.empty()) {
    if (done) done(Status{});
    return;
  }
  auto group = std::make_shared<Group>();
  group->remaining = bodies.size();
  group->done = std::move(done);
  group->orphan = std::move(orphan);
  const std::string prefix = randomId();
  std::vector<std::string> ids;
  jsCtx* js = nullptr;
  {
    std::unique_lock lock(mu_);
    if (abandoned_ || js_ == nullptr) {
      const bool abandoned = abandoned_;
      lock.unlock();
      if (group->done) {
        group->done(unavailable(abandoned ? "the gateway is shutting down" : "not connected"));
      }
      return;
    }
    js = js_;
    // Registered before publishing: the answer may come before js_PublishMsgAsync returns.
    for (std::size_t i = 0; i < bodies.size(); ++i) {
      ids.push_back(prefix + "-" + std::to_string(i));
      pending_.emplace(ids.back(), group);
    }
  }
  for (std::size_t i = 0; i < bodies.size(); ++i) {
    bool failed = false;
    {
      std::lock_guard lock(mu_);
      failed = group->finished;
    }
    if (failed) {  // no use sending the rest of a group that failed
      resolve(ids[i], Error::unavailable("not sent"));
      continue;
    }
    natsMsg* msg = nullptr;
    natsStatus s = natsMsg_Create(&msg, subject_.c_str(), nullptr, bodies[i].data(),
                                  static_cast<int>(bodies[i].size()));
    if (s == NATS_OK) {
      jsPubOptions po;
      jsPubOptions_Init(&po);
      po.MsgId = ids[i].c_str();
      po.ExpectStream = stream_.c_str();
      po.MaxWait = timeout_.count();
      s = js_PublishMsgAsync(js, &msg, &po);
    }
    if (s == NATS_OK) {
      std::lock_guard lock(mu_);
      published_ = true;
    }
    if (s != NATS_OK) {
      // Not sent (the library gave the message back): no answer will come for it.
      std::string why = s == NATS_MAX_PAYLOAD
                            ? "the event is larger than the NATS server takes (max_payload)"
                            : lastError(s);
      natsMsg_Destroy(msg);
      resolve(ids[i], unavailable(why));
    }
  }
}

void Publisher::onAck(jsCtx*, natsMsg* msg, jsPubAck* ack, jsPubAckErr* err, void* closure) {
  auto* self = static_cast<Publisher*>(closure);
  std::string id;
  const char* value = nullptr;
  if (natsMsgHeader_Get(msg, kMsgIdHeader, &value) == NATS_OK && value != nullptr) id = value;
  natsMsg_Destroy(msg);
  try {
    if (ack != nullptr) {
      self->resolve(id, ack->Sequence);
    } else if (err != nullptr) {
      self->resolve(id, self->failure(*err));
    }
  } catch (const std::exception& e) {
    spdlog::error("delivery queue (NATS): handling a publish acknowledgement threw: {}", e.what());
  } catch (...) {
    spdlog::error("delivery queue (NATS): handling a publish acknowledgement threw");
  }
}

Error Publisher::failure(jsPubAckErr& err) const {
  const std::string text = err.ErrText != nullptr ? err.ErrText : natsStatus_GetText(err.Err);
  if (err.Err == NATS_TIMEOUT) {
    return unavailable("the stream did not acknowledge within " +
                       std::to_string(timeout_.count()) + " ms");
  }
  if (err.Err == NATS_NO_RESPONDERS) {
    // No stream leader listens: one is being elected, or JetStream (or the stream) is down.
    return unavailable("stream " + stream_ + " has no leader that answers (electing one?)");
  }
  if (contains(text, "maximum bytes") || contains(text, "maximum messages") ||
      contains(text, "resource limits")) {
    return Error::unavailable("delivery queue is full");
  }
  std::string reason = text;
  if (err.ErrCode != 0) reason += " (error " + std::to_string(static_cast<int>(err.ErrCode)) + ")";
  return unavailable(reason);
}

void Publisher::resolve(const std::string& id, Result<uint64_t> outcome) {
  Done done;
  Orphan orphan;
  std::vector<uint64_t> orphans;
  Status status;
  {
    std::lock_guard lock(mu_);
    auto it = pending_.find(id);
    if (it == pending_.end()) return;  // answered already (abandon, or a late timeout)
    std::shared_ptr<Group> group = std::move(it->second);
    pending_.erase(it);
    if (outcome) {
      if (group->finished) {
        orphans.push_back(*outcome);
      } else {
        group->stored.push_back(*outcome);
        if (--group->remaining == 0) {
          group->finished = true;
          done = std::move(group->done);
        }
      }
    } else if (!group->finished) {
      group->finished = true;
      done = std::move(group->done);
      status = std::move(outcome).error();
      orphans = std::move(group->stored);
    }
    if (!orphans.empty()) orphan = group->orphan;
  }
  if (done) done(std::move(status));
  if (orphan) {
    for (uint64_t seq : orphans) orphan(seq);
  }
}

void Publisher::abandon(std::chrono::milliseconds wait) {
  jsCtx* js = nullptr;
  {
    std::lock_guard lock(mu_);
    abandoned_ = true;
    js = js_;
  }
  if (js != nullptr) {
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = wait.count();
    js_PublishAsyncComplete(js, &po);
    bool unanswered = false;
    {
      std::lock_guard lock(mu_);
      unanswered = published_ && !pending_.empty();
    }
    // Taking the library's list of unanswered messages means it calls no handler for
    // them. (The library crashes when asked before its first asynchronous publish.)
    natsMsgList left{};
    if (unanswered && js_PublishAsyncGetPendingList(&left, js) == NATS_OK) {
      natsMsgList_Destroy(&left);
    }
  }
  std::vector<std::string> ids;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, group] : pending_) ids.push_back(id);
  }
  for (const auto& id : ids) resolve(id, unavailable("the gateway is shutting down"));
  if (js != nullptr) {
    // A handler that was running when the list was taken finishes before we return.
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = 1000;
    js_PublishAsyncComplete(js, &po);
  }
}

}  // namespace eg::queue::nats
