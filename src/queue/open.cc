#include "queue/open.h"

#include "queue/embedded/embedded_queue.h"
#include "queue/memory/memory_queue.h"
#include "queue/nats/nats_queue.h"

namespace eg::queue {

Result<std::unique_ptr<DeliveryQueue>> makeQueue(const QueueSettings& s) {
  if (s.spec == "memory") {
    return std::unique_ptr<DeliveryQueue>(std::make_unique<MemoryQueue>(s.workers + s.backlog));
  }
  if (s.spec == "embedded") {
    EmbeddedQueueOptions options;
    options.dir = s.dir;
    options.maxBytes = s.maxBytes;
    options.readAhead = s.backlog;
    return std::unique_ptr<DeliveryQueue>(std::make_unique<EmbeddedQueue>(std::move(options)));
  }
  constexpr std::string_view kNats = "nats://";
  if (s.spec.starts_with(kNats)) {
    NatsQueueOptions options;
    std::string_view servers = std::string_view(s.spec).substr(kNats.size());
    while (!servers.empty()) {
      const auto comma = servers.find(',');
      options.servers.emplace_back(servers.substr(0, comma));
      if (comma == std::string_view::npos) break;
      servers.remove_prefix(comma + 1);
    }
    options.replicas = s.replicas;
    options.ackWait = s.lease;
    options.maxBytes = s.maxBytes;
    options.tlsCa = s.tlsCa;
    options.tlsCert = s.tlsCert;
    options.tlsKey = s.tlsKey;
    options.credsFile = s.creds;
    return std::unique_ptr<DeliveryQueue>(std::make_unique<NatsQueue>(std::move(options)));
  }
  return Error::invalid("unknown queue \"" + s.spec + "\": want embedded, memory or nats://...");
}

}  // namespace eg::queue
