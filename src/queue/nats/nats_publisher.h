#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <nats/nats.h>

#include "common/result.h"

namespace eg::queue::nats {

// Publishes to JetStream without waiting, and turns the stream's answers (which the
// library hands to one callback for every message) back into one answer per group of
// messages. Every message carries a Nats-Msg-Id unique to it, so that the stream drops a
// message published twice, and so that the callback knows whose answer it has.
//
// Thread-safe. Callbacks (`done`, `orphan`) run on a NATS library thread or inside
// publish(); they must not block.
class Publisher {
 public:
  using Done = std::function<void(Status)>;
  // A message of a group that had already failed was stored after all.
  using Orphan = std::function<void(uint64_t sequence)>;

  Publisher(std::string stream, std::string subject, std::chrono::milliseconds timeout);
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;

  // Puts our answer handler into the options of the JetStream context to be created.
  void configure(jsOptions& options);
  // The context publish() uses; set once, before the first publish().
  void attach(jsCtx* js);

  // Publishes one message per body. `done` is called once: ok when the stream stored them
  // all, or with the first failure (kUnavailable) at once. The messages of a failed group
  // that were stored (before or after the failure) are handed to `orphan`.
  void publish(std::vector<std::string> bodies, Done done, Orphan orphan = {});

  // Shutdown: waits up to `wait` for the answers still due, then fails every group left
  // ("shutting down"). The library calls none of our handlers afterwards, and publish()
  // fails at once.
  void abandon(std::chrono::milliseconds wait);

 private:
  struct Group {
    std::size_t remaining = 0;
    bool finished = false;  // `done` was called
    std::vector<uint64_t> stored;
    Done done;
    Orphan orphan;
  };

  static void onAck(jsCtx* js, natsMsg* msg, jsPubAck* ack, jsPubAckErr* err, void* closure);
  void resolve(const std::string& id, Result<uint64_t> outcome);
  Error failure(jsPubAckErr& err) const;

  const std::string stream_;
  const std::string subject_;
  const std::chrono::milliseconds timeout_;
  jsCtx* js_ = nullptr;

  std::mutex mu_;
  bool abandoned_ = false;
  bool published_ = false;
  std::unordered_map<std::string, std::shared_ptr<Group>> pending_;  // by Nats-Msg-Id
};

}  // namespace eg::queue::nats
