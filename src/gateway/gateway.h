#pragma once

#include <memory>

#include "gateway/flags.h"

namespace eg::gateway {

// Owns and wires every part: I/O threads, store, configuration cache, providers,
// Config API and Events API servers. start() brings them up in dependency order;
// shutdown() answers new events 503 and closes each connection after its next answer
// while queued deliveries drain (bounded), then closes the listeners and stops
// everything in reverse order.
class Gateway {
 public:
  explicit Gateway(Settings settings);
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // Throws std::runtime_error with a message for the operator on start-up failures
  // (store cannot be opened, port in use, TLS files unreadable, a bad access keys
  // file). From its first step SIGHUP no longer ends the process: it is kept for
  // runUntilSignalled.
  void start();
  // Blocks until SIGINT or SIGTERM, then shuts down. Returns the process exit code.
  // SIGHUP meanwhile calls reload().
  int runUntilSignalled();
  // Re-reads what may change without a restart: the APIs' TLS certificates, keys and
  // client CAs, and the -access-keys file. A file that does not load leaves what was in
  // force as it was, logged as an error. Any thread.
  void reload();
  void shutdown();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace eg::gateway
