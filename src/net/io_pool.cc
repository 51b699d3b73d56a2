#include "net/io_pool.h"

#include <algorithm>
#include <exception>

#include <spdlog/spdlog.h>

namespace eg::net {

IoPool::IoPool(std::size_t threads) {
  threads = std::max<std::size_t>(threads, 1);
  contexts_.reserve(threads);
  for (std::size_t i = 0; i < threads; ++i) {
    // Each context is run by exactly one thread, and its sockets are used only from
    // it: Asio can drop the lock it takes around every socket operation. Posting and
    // timers from other threads stay safe (the scheduler and reactor still lock).
    contexts_.push_back(std::make_unique<Context>(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO));
  }
}

// State shared by several contexts (a server's, with a timer on each) may be released
// by a frame that one context destroys, after another context, whose timer it holds,
// was destroyed: a use after free. Every context is shut down first, destroying what is
// queued while all of them still exist; then they are destroyed.
IoPool::~IoPool() {
  stop();
  for (auto& ctx : contexts_) ctx->shutdown();
  contexts_.clear();
}

void IoPool::start() {
  if (running_.exchange(true)) return;
  for (auto& ctx : contexts_) {
    ctx->restart();
    guards_.push_back(std::make_unique<asio::executor_work_guard<asio::io_context::executor_type>>(
        ctx->get_executor()));
    threads_.emplace_back([c = ctx.get()] {
      // An exception escaping a handler must not take the whole process down with it;
      // log it and keep serving the other connections of this thread.
      for (;;) {
        try {
          c->run();
          return;
        } catch (const std::exception& e) {
          spdlog::error("io thread: unhandled exception: {}", e.what());
        } catch (...) {
          spdlog::error("io thread: unhandled unknown exception");
        }
      }
    });
  }
}

void IoPool::stop() {
  guards_.clear();
  for (auto& ctx : contexts_) ctx->stop();
  for (auto& t : threads_) {
    // stop() from inside a pool thread cannot join itself; that thread ends on its own.
    if (t.get_id() == std::this_thread::get_id()) {
      t.detach();
    } else if (t.joinable()) {
      t.join();
    }
  }
  threads_.clear();
  running_.store(false, std::memory_order_release);
}

asio::io_context& IoPool::next() {
  return *contexts_[next_.fetch_add(1, std::memory_order_relaxed) % contexts_.size()];
}

}  // namespace eg::net
