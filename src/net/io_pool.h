#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>

namespace eg::net {

namespace asio = boost::asio;

// N io_contexts, one thread each. Sessions and outbound calls of a request stay on
// the io_context that accepted it, so that nothing on the request path is shared
// between threads.
class IoPool {
 public:
  explicit IoPool(std::size_t threads);
  ~IoPool();
  IoPool(const IoPool&) = delete;
  IoPool& operator=(const IoPool&) = delete;

  void start();
  // Stops every io_context and joins the threads.
  void stop();

  std::size_t size() const { return contexts_.size(); }
  asio::io_context& context(std::size_t i) { return *contexts_[i]; }
  // Round-robin.
  asio::io_context& next();
  // True between start() and stop(): the contexts are being run by the pool's threads.
  bool running() const { return running_.load(std::memory_order_acquire); }

 private:
  // An io_context whose shutdown (which destroys every handler and coroutine frame still
  // queued) can be called apart from its destruction: see ~IoPool.
  class Context : public asio::io_context {
   public:
    using asio::io_context::io_context;
    using asio::execution_context::shutdown;
  };
  std::vector<std::unique_ptr<Context>> contexts_;
  std::vector<std::unique_ptr<asio::executor_work_guard<asio::io_context::executor_type>>> guards_;
  std::vector<std::thread> threads_;
  std::atomic<std::size_t> next_{0};
  std::atomic<bool> running_{false};
};

}  // namespace eg::net
