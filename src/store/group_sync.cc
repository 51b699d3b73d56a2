#include "store/group_sync.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>
#include <vector>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "common/thread_policy.h"

namespace eg::store {

namespace {

// fdatasync of the file at a path; once the file held is removed, of the one there then.
class FileSync {
 public:
  explicit FileSync(std::string path) : path_(std::move(path)) {}
  FileSync(FileSync&& other) noexcept
      : path_(std::move(other.path_)), fd_(std::exchange(other.fd_, -1)) {}
  FileSync(const FileSync&) = delete;
  ~FileSync() {
    if (fd_ >= 0) ::close(fd_);
  }

  Status operator()() {
    if (fd_ >= 0) {
      // A failed sync is final: the pages it could not write may be dropped already, so
      // a retry on a new descriptor could succeed without them.
      if (::fdatasync(fd_) != 0) {
        return Error::unavailable("cannot sync " + path_ + ": " + std::strerror(errno));
      }
      // The file held is still linked, so it is the one at the path (nothing renames a
      // WAL onto it): synced. One fstat() per sync, not a look-up of the path.
      if (stillLinked()) return {};
    }
    // Not open yet, or the file held was removed (SQLite removes the WAL when its last
    // connection closes, and another may be created at the path): the file there now.
    if (fd_ >= 0) ::close(fd_);
    fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) {
      if (errno == ENOENT) return {};  // nothing appended since it went: nothing to sync
      return Error::unavailable("cannot open " + path_ + ": " + std::strerror(errno));
    }
    if (::fdatasync(fd_) != 0) {
      return Error::unavailable("cannot sync " + path_ + ": " + std::strerror(errno));
    }
    return {};
  }

 private:
  bool stillLinked() const {
    struct stat held {};
    return ::fstat(fd_, &held) == 0 && held.st_nlink > 0;
  }

  std::string path_;
  int fd_ = -1;
};

}  // namespace

GroupSync::GroupSync(SyncFn sync, const std::atomic<int64_t>& applied)
    : sync_(std::move(sync)),
      applied_(applied),
      durable_(applied.load(std::memory_order_acquire)) {
  thread_ = std::thread([this] {
    becomeBatchThread("eg-store-sync");
    run();
  });
}

Result<std::unique_ptr<GroupSync>> GroupSync::forFile(std::string path,
                                                      const std::atomic<int64_t>& applied) {
  auto file = std::make_shared<FileSync>(std::move(path));
  if (auto s = (*file)(); !s) return std::move(s).error();
  return std::make_unique<GroupSync>([file] { return (*file)(); }, applied);
}

GroupSync::~GroupSync() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void GroupSync::complete(Waiter waiter, Status status) {
  auto ex = waiter.work;
  asio::post(ex, [handler = std::move(waiter.handler), work = std::move(waiter.work),
                  status = std::move(status)]() mutable { std::move(handler)(std::move(status)); });
}

asio::awaitable<Status> GroupSync::durable(int64_t revision) {
  return asio::async_initiate<const asio::use_awaitable_t<>&, void(Status)>(
      [this, revision](auto handler) {
        asio::any_io_executor work = asio::prefer(asio::get_associated_executor(handler),
                                                  asio::execution::outstanding_work.tracked);
        Status answer;
        bool wakeSyncer = false;
        {
          std::lock_guard lock(mu_);
          if (!failure_.empty()) {
            answer = Error::unavailable(failure_);
          } else if (revision > durable_) {
            waiters_.push_back(Waiter{revision, std::move(handler), std::move(work)});
            wakeSyncer = true;
          }
        }
        // Outside the lock: woken inside it, the sync thread would block on it at once.
        if (wakeSyncer) {
          wake_.notify_one();
          return;
        }
        complete(Waiter{revision, std::move(handler), std::move(work)}, std::move(answer));
      },
      asio::use_awaitable);
}

void GroupSync::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait(lock, [&] { return stopping_ || !waiters_.empty(); });
    if (waiters_.empty()) return;  // stopping, and nobody waits
    // Everything applied before the sync starts is in the file, so the sync covers it.
    const int64_t target = applied_.load(std::memory_order_acquire);
    lock.unlock();
    Status synced = sync_();
    syncs_.fetch_add(1, std::memory_order_relaxed);
    lock.lock();
    std::vector<Waiter> done;
    if (synced) {
      durable_ = std::max(durable_, target);
      // Not necessarily in revision order: writers on several threads ask.
      for (auto it = waiters_.begin(); it != waiters_.end();) {
        if (it->revision <= durable_) {
          done.push_back(std::move(*it));
          it = waiters_.erase(it);
        } else {
          ++it;
        }
      }
    } else {
      failure_ = synced.error().message + "; writes are no longer made durable";
      failed_.store(true, std::memory_order_release);
      spdlog::critical("store: {}", failure_);
      for (auto& w : waiters_) done.push_back(std::move(w));
      waiters_.clear();
    }
    const bool stalled = done.empty() && !waiters_.empty();
    lock.unlock();
    const Status answer = synced ? Status{} : Status(Error::unavailable(failure_));
    for (auto& w : done) complete(std::move(w), answer);
    lock.lock();
    // A waiter ahead of `applied` (a misuse) is not worth a busy loop of syncs.
    if (stalled) wake_.wait_for(lock, std::chrono::milliseconds(1));
  }
}

}  // namespace eg::store
