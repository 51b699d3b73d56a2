#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <spdlog/common.h>

#include "common/log.h"
#include "model/resources.h"

namespace eg::gateway {

// Everything the command line can set, with the defaults of spec §1. Filled and
// validated once by parseFlags; the rest of the program only reads it.
struct Settings {
  bool dev = false;                                // -dev: embedded store, text logs
  std::string embedDataDir = "default.eventgateway";  // -embed-data-dir

  std::vector<std::string> dbHosts{"127.0.0.1:2379"};  // -db-hosts, comma-separated
  std::string dbPrefix = "/eventgateway";              // -db-prefix: key prefix in etcd
  std::string dbTlsCa, dbTlsCert, dbTlsKey;            // -db-tls-ca/-cert/-key

  uint16_t eventsPort = 4000;  // -events-port
  uint16_t configPort = 4001;  // -config-port
  // A pair is either both set (serve that API over TLS) or both empty.
  std::string eventsTlsCert, eventsTlsKey;  // -events-tls-cert/-key
  std::string eventsTlsClientCa;            // -events-tls-client-ca: mutual TLS
  std::string configTlsCert, configTlsKey;  // -config-tls-cert/-key
  std::string configTlsClientCa;            // -config-tls-client-ca: mutual TLS

  int workers = 100;         // -workers: concurrent async deliveries
  int workersBacklog = 200;  // -workers-backlog: queued async deliveries
  // -authorizer-cache-size: authorizer decisions cached at most (event types'
  // authorizerCache, spec §6), least recently used evicted first; 0 caches none.
  size_t authorizerCacheSize = 10'000;
  int ioThreads = 1;         // -io-threads: defaults to the number of cores (see parseFlags)
  size_t maxBodySize = 6 * 1024 * 1024;  // -max-body-size: largest event body, bytes
  std::chrono::milliseconds readTimeout{30'000};  // -read-timeout: a whole request, both APIs
  std::chrono::milliseconds idleTimeout{60'000};  // -idle-timeout: idle keep-alive connections
  size_t maxConnections = 10'000;                 // -max-connections: per API

  // Delivery policy defaults (spec §5): what a subscription's deliveryPolicy leaves out.
  int deliveryRetries = 10;                                   // -delivery-retries, 0–1000
  model::Backoff deliveryBackoff = model::Backoff::kExponential;  // -delivery-backoff
  std::chrono::milliseconds deliveryBackoffDelay{200};        // -delivery-backoff-delay
  std::chrono::milliseconds deliveryMaxBackoff{60'000};       // -delivery-max-backoff
  std::chrono::milliseconds deliveryMaxEventAge{24 * 3'600'000};  // -delivery-max-event-age

  // The delivery queue (spec §5).
  std::string queue = "embedded";  // -queue: "embedded", "memory" or "nats://host:port,..."
  std::string queueDir;            // -queue-dir: embedded log; empty: <embed-data-dir>/queue
  uint64_t queueMaxBytes = uint64_t{1} << 30;  // -queue-max-bytes: embedded log / NATS stream
  int queueReplicas = 3;                       // -queue-replicas: NATS stream replicas, 1–5
  // -queue-lease: how long a NATS delivery stays with an instance that stopped answering
  // for it (crashed) before another instance makes it.
  std::chrono::milliseconds queueLease{30'000};
  std::string queueTlsCa, queueTlsCert, queueTlsKey;  // -queue-tls-ca/-cert/-key: TLS to NATS
  std::string queueCreds;                             // -queue-creds: NATS credentials file

  // Access keys of the Config API (spec §6).
  std::string accessKeys;    // -access-keys: keys file; empty: the Config API is open
  bool metricsOpen = false;  // -metrics-open: metrics need no key even with -access-keys

  spdlog::level::level_enum logLevel = spdlog::level::info;  // -log-level
  LogFormat logFormat = LogFormat::kJson;  // -log-format: text under -dev unless given
};

// The longest -read-timeout and -idle-timeout. A deadline is steady_clock::now() plus the
// timeout, and Go's longest duration (about 2562047h) overflows it; a day is far beyond
// any real use.
inline constexpr std::chrono::milliseconds kMaxServerTimeout = std::chrono::hours(24);

// What the command line asks for. kRun carries validated settings; kVersion carries
// the version line in `message`; kNewAccessKey the validated scope of -new-access-key
// in `message`; kError carries the reason in `message`. The caller prints kError's
// message and usage() to stderr and exits 2, prints usage() to stdout and exits 0 on
// kHelp, prints the message and exits 0 on kVersion, prints a new key and its keys-file
// line and exits 0 on kNewAccessKey.
struct ParseOutcome {
  enum Kind { kRun, kVersion, kHelp, kNewAccessKey, kError } kind = kRun;
  Settings settings;
  std::string message;
};

// Go `flag` package rules: `-name` or `--name`; `-name=v` or `-name v`; booleans bare
// or `-name=true|false`; the last occurrence wins; `--` ends flags. Arguments that are
// not flags are an error. argv[0] is the program name and is skipped.
ParseOutcome parseFlags(int argc, const char* const* argv);

// Every flag with its value kind, meaning and default, sorted by name, in the layout of
// Go's flag.PrintDefaults.
std::string usage();

}  // namespace eg::gateway
