#pragma once

#include <string>
#include <string_view>

#include <nats/nats.h>

#include "common/result.h"
#include "queue/nats/nats_queue.h"

namespace eg::queue::nats {

// kUnavailable with the text users see in a 503: kUnavailable + reason.
inline constexpr std::string_view kUnavailable = "the delivery queue (NATS) is unavailable: ";
Error unavailable(const std::string& reason);

// The calling thread's last NATS error text (the server's own words for a refused
// JetStream request), or the status's name; with the JetStream error code when there is one.
std::string lastError(natsStatus status, jsErrCode code = static_cast<jsErrCode>(0));

// Connection options: servers, reconnecting forever in the background, TLS and
// credentials. An Error (kInvalid) names the file that cannot be used. The caller owns
// the result (natsOptions_Destroy).
Result<natsOptions*> makeConnectionOptions(const NatsQueueOptions& options);

// Creates the stream, or brings an existing one to `options` (limits, replicas); an
// existing stream of another kind (not a work queue) is an error. Idempotent, and safe
// when several instances run it at once.
Status ensureStream(jsCtx* js, const NatsQueueOptions& options);
// The same for the durable pull consumer.
Status ensureConsumer(jsCtx* js, const NatsQueueOptions& options);
// A pull subscription bound to the durable consumer (never creates nor deletes it).
Result<natsSubscription*> subscribe(jsCtx* js, const NatsQueueOptions& options);

// The stream's state for stats; kNotFound when the stream is gone.
struct StreamState {
  uint64_t messages = 0;
  uint64_t bytes = 0;
  int64_t firstMs = 0;
};
Result<StreamState> streamState(jsCtx* js, const NatsQueueOptions& options,
                                std::chrono::milliseconds wait);

}  // namespace eg::queue::nats
