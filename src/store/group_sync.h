#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "common/result.h"

namespace eg::store {

namespace asio = boost::asio;

// Makes writes durable in groups (group commit). Writers append without syncing, publish
// their revision in `applied`, and ask durable(revision); a thread of its own syncs once
// for every writer waiting by then and completes each whose revision was applied before
// that sync began. While one sync runs, the next group gathers.
//
// A failed sync fails its waiters and every later durable() with kUnavailable: the
// writes cannot be promised any more. Thread-safe; completions run on each waiter's
// executor. The destructor completes the waiters still there, then joins.
class GroupSync {
 public:
  // Makes everything appended so far durable; runs on the group's thread only.
  using SyncFn = std::function<Status()>;

  // Syncs with `sync`. `applied` is the highest revision whose bytes are written; every
  // revision up to its value now counts as durable.
  GroupSync(SyncFn sync, const std::atomic<int64_t>& applied);
  ~GroupSync();
  GroupSync(const GroupSync&) = delete;
  GroupSync& operator=(const GroupSync&) = delete;

  // For the file at `path` (fdatasync; once the file held is removed, the one at the
  // path then is opened). A failed fdatasync is not retried: it fails the group. Syncs
  // the file once first, on the caller's thread: what an earlier process appended may
  // not be synced yet.
  static Result<std::unique_ptr<GroupSync>> forFile(std::string path,
                                                    const std::atomic<int64_t>& applied);

  // `revision` must be applied already.
  asio::awaitable<Status> durable(int64_t revision);

  // False once a sync failed: nothing written since can be promised.
  bool healthy() const { return !failed_.load(std::memory_order_acquire); }

  // Syncs performed, for tests and metrics.
  uint64_t syncs() const { return syncs_.load(std::memory_order_relaxed); }

 private:
  struct Waiter {
    int64_t revision;
    asio::any_completion_handler<void(Status)> handler;
    // The waiter's executor, tracking work: it keeps running while the waiter waits.
    asio::any_io_executor work;
  };

  void run();
  static void complete(Waiter waiter, Status status);

  const SyncFn sync_;
  const std::atomic<int64_t>& applied_;

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Waiter> waiters_;
  int64_t durable_;
  std::string failure_;  // set once a sync failed
  bool stopping_ = false;
  std::atomic<uint64_t> syncs_{0};
  std::atomic<bool> failed_{false};
  std::thread thread_;
};

}  // namespace eg::store
