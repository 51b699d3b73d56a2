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
  // (store cannot be opened, port in use, TLS files unreadable).
  void start();
  // Blocks until SIGINT or SIGTERM, then shuts down; SIGHUP calls reload(). Returns the
  // process exit code.
  int runUntilSignalled();
  // SIGHUP: re-reads what can change without a restart (the APIs' TLS certificates,
  // keys and client CAs); a file that does not load leaves the old one in use.
  void reload();
  void shutdown();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace eg::gateway
