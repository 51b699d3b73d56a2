#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/result.h"
#include "queue/queue.h"

namespace eg::queue {

// The queue the -queue flag asks for, from the settings that concern it.
struct QueueSettings {
  std::string spec = "embedded";  // "embedded", "memory" or "nats://host:port,..."
  std::string dir;                // embedded: the log's directory
  uint64_t maxBytes = uint64_t{1} << 30;
  std::size_t workers = 100;      // deliveries in flight per instance
  std::size_t backlog = 200;      // memory: room beyond the workers; embedded: read-ahead
  int replicas = 3;               // nats
  std::chrono::milliseconds lease{30'000};  // nats: a crashed instance's deliveries wait this long
  std::string tlsCa, tlsCert, tlsKey, creds;  // nats
};

// A queue of the kind asked for, not yet started. kInvalid for a spec that names none.
Result<std::unique_ptr<DeliveryQueue>> makeQueue(const QueueSettings& settings);

}  // namespace eg::queue
