#include "store/embedded_store.h"

#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <set>
#include <string>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "store/store_contract.h"

namespace eg::store {
namespace {

using testing::runAwait;
using testing::WatchRecorder;
using namespace std::chrono_literals;

// A fresh directory under /tmp, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = "/tmp/eg-store-test-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::unique_ptr<EmbeddedStore> openOrDie(const std::string& dir, EmbeddedStoreOptions options = {}) {
  auto r = EmbeddedStore::open(dir, options);
  if (!r) throw std::runtime_error("open failed: " + r.error().message);
  return std::move(r).value();
}

struct EmbeddedFactory {
  TempDir dir;

  std::unique_ptr<Store> open() { return openOrDie(dir.path()); }

  Status compact(Store& store, int64_t revision) {
    return runAwait(static_cast<EmbeddedStore&>(store).compact(revision));
  }
};

}  // namespace

namespace testing {
using Backends = ::testing::Types<EmbeddedFactory>;
INSTANTIATE_TYPED_TEST_SUITE_P(Embedded, StoreContractTest, Backends);
}  // namespace testing

namespace {

class EmbeddedStoreTest : public ::testing::Test {
 protected:
  int64_t put(Store& store, const std::string& key, const std::string& value) {
    auto r = runAwait(store.put(key, value));
    if (!r) throw std::runtime_error("put failed: " + r.error().message);
    return *r;
  }

  TempDir dir_;
};

TEST_F(EmbeddedStoreTest, NameAndHealth) {
  auto store = openOrDie(dir_.path());
  EXPECT_EQ(store->name(), "embedded");
  EXPECT_TRUE(store->healthy());
}

TEST_F(EmbeddedStoreTest, RevisionsStartAtOneAndOnlyChangesCount) {
  auto store = openOrDie(dir_.path());
  EXPECT_EQ(store->currentRevision(), 0);
  EXPECT_EQ(runAwait(store->list(""))->revision, 0);
  EXPECT_EQ(put(*store, "/a", "1"), 1);

  EXPECT_FALSE(runAwait(store->create("/a", "x")));
  EXPECT_FALSE(runAwait(store->compareAndSwap("/a", "x", 7)));
  EXPECT_FALSE(runAwait(store->remove("/missing")));
  auto failed = runAwait(store->txn({Compare{"/a", 0}}, {Op{Op::Type::kPut, "/b", "b"}}));
  ASSERT_TRUE(failed);
  EXPECT_FALSE(failed->succeeded);
  EXPECT_EQ(failed->revision, 1);
  // Deleting an absent key succeeds but changes nothing, so no revision (as etcd).
  auto noop = runAwait(store->txn({}, {Op{Op::Type::kDelete, "/missing", {}}}));
  ASSERT_TRUE(noop);
  EXPECT_TRUE(noop->succeeded);
  EXPECT_EQ(noop->revision, 1);
  EXPECT_EQ(store->currentRevision(), 1);

  auto txn = runAwait(store->txn({}, {Op{Op::Type::kPut, "/b", "b"}, Op{Op::Type::kPut, "/c", "c"},
                                      Op{Op::Type::kDelete, "/a", {}}}));
  ASSERT_TRUE(txn);
  EXPECT_EQ(txn->revision, 2);
  EXPECT_EQ(*runAwait(store->create("/d", "d")), 3);
  EXPECT_EQ(*runAwait(store->compareAndSwap("/d", "e", 3)), 4);
  EXPECT_EQ(*runAwait(store->remove("/d")), 5);
  EXPECT_EQ(runAwait(store->list(""))->revision, 5);
}

TEST_F(EmbeddedStoreTest, EmptyKeyAndDuplicateTxnKeysAreInvalid) {
  auto store = openOrDie(dir_.path());
  auto empty = runAwait(store->put("", "v"));
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().kind, ErrorKind::kInvalid);
  auto duplicate = runAwait(
      store->txn({}, {Op{Op::Type::kPut, "/k", "1"}, Op{Op::Type::kDelete, "/k", {}}}));
  ASSERT_FALSE(duplicate);
  EXPECT_EQ(duplicate.error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(store->currentRevision(), 0);
  EXPECT_FALSE(runAwait(store->get("/k"))->has_value());
}

TEST_F(EmbeddedStoreTest, DataAndHistorySurviveReopen) {
  int64_t created;
  {
    auto store = openOrDie(dir_.path());
    created = put(*store, "/r/a", "1");
    put(*store, "/r/a", "2");
    put(*store, "/r/b", "b");
    ASSERT_TRUE(runAwait(store->remove("/r/b")));
    EXPECT_EQ(store->currentRevision(), 4);
  }
  auto store = openOrDie(dir_.path());
  EXPECT_EQ(store->currentRevision(), 4);
  auto a = runAwait(store->get("/r/a"));
  ASSERT_TRUE(a && a->has_value());
  EXPECT_EQ((*a)->value, "2");
  EXPECT_EQ((*a)->createRevision, created);
  EXPECT_EQ((*a)->modRevision, 2);
  EXPECT_FALSE(runAwait(store->get("/r/b"))->has_value());
  EXPECT_EQ(put(*store, "/r/c", "c"), 5);

  // The change log survived too: a watch from the start replays every revision.
  WatchRecorder recorder;
  auto watch = store->watch("/r/", 1, recorder.handler());
  ASSERT_TRUE(recorder.waitForEvents(5));
  auto events = recorder.events();
  ASSERT_EQ(events.size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(events[i].kv.modRevision, i + 1);
  EXPECT_EQ(events[3].type, WatchEvent::Type::kDelete);
}

TEST_F(EmbeddedStoreTest, HistoryLimitCompactsOldRevisions) {
  EmbeddedStoreOptions options;
  options.historyLimit = 5;
  {
    auto store = openOrDie(dir_.path(), options);
    for (int i = 1; i <= 20; ++i) put(*store, "/h/" + std::to_string(i), "v");

    WatchRecorder old;
    auto oldWatch = store->watch("/h/", 15, old.handler());
    ASSERT_TRUE(old.waitForErrors(1));
    EXPECT_EQ(old.errors()[0].kind, ErrorKind::kCompacted);

    WatchRecorder kept;
    auto keptWatch = store->watch("/h/", 16, kept.handler());
    ASSERT_TRUE(kept.waitForEvents(5));
    EXPECT_EQ(kept.events().front().kv.modRevision, 16);
    EXPECT_EQ(kept.events().back().kv.modRevision, 20);
    EXPECT_TRUE(kept.errors().empty());
    EXPECT_EQ(old.calls(), 1u);
  }
  // The compaction point is stored, not recomputed.
  auto store = openOrDie(dir_.path(), options);
  WatchRecorder old;
  auto oldWatch = store->watch("/h/", 15, old.handler());
  ASSERT_TRUE(old.waitForErrors(1));
  EXPECT_EQ(old.errors()[0].kind, ErrorKind::kCompacted);
}

TEST_F(EmbeddedStoreTest, HistoryIsCompactedInBatchesWithinTheLimitAndAFew) {
  // A limit of 64 compacts 4 revisions at a time: between 64 and 67 revisions are kept.
  EmbeddedStoreOptions options;
  options.historyLimit = 64;
  auto store = openOrDie(dir_.path(), options);
  for (int i = 1; i <= 200; ++i) put(*store, "/b/" + std::to_string(i % 7), "v");

  // The last 64 revisions are always there.
  WatchRecorder kept;
  auto keptWatch = store->watch("/b/", 200 - 64 + 1, kept.handler());
  ASSERT_TRUE(kept.waitForEvents(64));
  EXPECT_EQ(kept.events().front().kv.modRevision, 137);
  EXPECT_TRUE(kept.errors().empty());

  // Never more than the limit and one batch.
  WatchRecorder old;
  auto oldWatch = store->watch("/b/", 200 - 64 - 4 + 1, old.handler());
  ASSERT_TRUE(old.waitForErrors(1));
  EXPECT_EQ(old.errors()[0].kind, ErrorKind::kCompacted);
}

TEST_F(EmbeddedStoreTest, OpensADataDirectoryWhoseRevisionIsOnlyInMeta) {
  // Earlier versions wrote the revision to meta on every commit. Where meta is ahead of
  // the log (here: a log emptied by hand), the revision goes on from meta's.
  {
    auto store = openOrDie(dir_.path());
    put(*store, "/m/a", "1");
    put(*store, "/m/b", "2");
  }
  const std::string db = (std::filesystem::path(dir_.path()) / "store.db").string();
  sqlite3* handle = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &handle), SQLITE_OK);
  EXPECT_EQ(sqlite3_exec(handle,
                         "UPDATE meta SET value = 41 WHERE name = 'revision'; DELETE FROM log;",
                         nullptr, nullptr, nullptr),
            SQLITE_OK)
      << sqlite3_errmsg(handle);
  sqlite3_close(handle);
  auto store = openOrDie(dir_.path());
  EXPECT_EQ(put(*store, "/m/c", "3"), 42);
  auto listed = runAwait(store->list("/m/"));
  ASSERT_TRUE(listed);
  EXPECT_EQ(listed->revision, 42);
  EXPECT_EQ(listed->kvs.size(), 3u);
}

TEST_F(EmbeddedStoreTest, ItsThreadsDoNotPreemptTheIoThreads) {
  // The store's thread and its sync thread run under SCHED_BATCH (becomeBatchThread).
  auto store = openOrDie(dir_.path());
  put(*store, "/t/k", "v");  // the sync thread has started by now
  std::set<std::string> batch;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    std::getline(comm, name);
    const pid_t tid = std::stoi(task.path().filename().string());
    if (name.starts_with("eg-store") && ::sched_getscheduler(tid) == SCHED_BATCH) {
      batch.insert(name);
    }
  }
  EXPECT_EQ(batch, (std::set<std::string>{"eg-store", "eg-store-sync"}));
}

TEST_F(EmbeddedStoreTest, CompactToFutureRevisionIsInvalid) {
  auto store = openOrDie(dir_.path());
  put(*store, "/k", "v");
  auto r = runAwait(store->compact(5));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kInvalid);
  EXPECT_TRUE(runAwait(store->compact(1)));
}

TEST_F(EmbeddedStoreTest, WatchFromZeroStartsAfterTheCurrentRevision) {
  auto store = openOrDie(dir_.path());
  put(*store, "/z/before", "1");
  WatchRecorder recorder;
  auto watch = store->watch("/z/", 0, recorder.handler());
  int64_t after = put(*store, "/z/after", "2");
  ASSERT_TRUE(recorder.waitForEvents(1));
  auto events = recorder.events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kv.key, "/z/after");
  EXPECT_EQ(events[0].kv.modRevision, after);
}

TEST_F(EmbeddedStoreTest, LongReplayComesInBatchesThatKeepRevisionsWhole) {
  auto store = openOrDie(dir_.path());
  constexpr int kRevisions = 5;
  constexpr int kPerRevision = 600;
  for (int r = 0; r < kRevisions; ++r) {
    std::vector<Op> ops;
    for (int i = 0; i < kPerRevision; ++i) {
      ops.push_back(Op{Op::Type::kPut, "/l/" + std::to_string(r) + "/" + std::to_string(i), "v"});
    }
    ASSERT_TRUE(runAwait(store->txn({}, std::move(ops)))->succeeded);
  }
  WatchRecorder recorder;
  auto watch = store->watch("/l/", 1, recorder.handler());
  ASSERT_TRUE(recorder.waitForEvents(kRevisions * kPerRevision));
  auto batches = recorder.batches();
  EXPECT_GT(batches.size(), 1u);
  std::set<int64_t> seen;
  int64_t last = 0;
  for (const auto& batch : batches) {
    ASSERT_FALSE(batch.events.empty());
    EXPECT_EQ(batch.revision, batch.events.back().kv.modRevision);
    for (const auto& event : batch.events) {
      EXPECT_GE(event.kv.modRevision, last);
      last = event.kv.modRevision;
    }
    // A revision is never split between batches.
    EXPECT_TRUE(seen.insert(batch.events.front().kv.modRevision).second);
    seen.insert(batch.events.back().kv.modRevision);
  }
}

// Lists read on their own connection while writes go on: each list is one view, its
// revision that of its keys (every write here adds one key, so n keys at revision n).
TEST_F(EmbeddedStoreTest, ListsWhileWritesGoOnAreEachOneView) {
  auto store = openOrDie(dir_.path());
  constexpr int kWrites = 1500;
  std::atomic<bool> written{false};
  std::thread writer([&] {
    for (int i = 0; i < kWrites; ++i) put(*store, "/k/" + std::to_string(i), "v");
    written = true;
  });
  int lists = 0;
  int64_t last = 0;
  while (!written.load() || lists == 0) {
    auto range = runAwait(store->list("/k/"));
    ASSERT_TRUE(range) << range.error().message;
    ASSERT_EQ(static_cast<int64_t>(range->kvs.size()), range->revision);
    EXPECT_GE(range->revision, last);
    last = range->revision;
    ++lists;
  }
  writer.join();
  EXPECT_EQ(runAwait(store->list("/k/"))->revision, kWrites);
}

TEST_F(EmbeddedStoreTest, SecondOpenOfTheSameDirectoryFails) {
  EmbeddedStoreOptions options;
  options.busyTimeout = 100ms;
  auto first = openOrDie(dir_.path(), options);
  auto second = EmbeddedStore::open(dir_.path(), options);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().kind, ErrorKind::kInternal);
  EXPECT_NE(second.error().message.find("locked"), std::string::npos) << second.error().message;
  first.reset();
  EXPECT_TRUE(EmbeddedStore::open(dir_.path(), options));
}

TEST_F(EmbeddedStoreTest, OpenCreatesMissingDirectories) {
  std::string nested = dir_.path() + "/a/b/c";
  auto store = openOrDie(nested);
  put(*store, "/k", "v");
  EXPECT_TRUE(std::filesystem::exists(nested + "/store.db"));
}

TEST_F(EmbeddedStoreTest, OpenOnAFileFails) {
  std::string file = dir_.path() + "/file";
  std::ofstream(file) << "x";
  auto r = EmbeddedStore::open(file);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kInternal);
}

TEST_F(EmbeddedStoreTest, CancellingFromAnotherThreadWaitsForTheRunningHandler) {
  auto store = openOrDie(dir_.path());
  std::atomic<bool> inHandler{false};
  std::atomic<bool> handlerDone{false};
  std::promise<void> release;
  auto released = release.get_future().share();
  auto watch = store->watch("/c/", 0, [&, released](Result<WatchBatch>) {
    inHandler = true;
    released.wait_for(5s);
    handlerDone = true;
  });
  // The write completes only after its handlers ran, so it cannot be awaited here.
  std::thread writer([&] { put(*store, "/c/k", "v"); });
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!inHandler && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  ASSERT_TRUE(inHandler);

  std::atomic<bool> doneWhenDestroyed{false};
  std::thread canceller([&] {
    watch.reset();
    doneWhenDestroyed = handlerDone.load();
  });
  // Give the canceller time to block in the destructor; nothing to poll for here.
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(handlerDone);
  release.set_value();
  canceller.join();
  writer.join();
  EXPECT_TRUE(doneWhenDestroyed);
}

TEST_F(EmbeddedStoreTest, WatchMayOutliveTheStore) {
  auto store = openOrDie(dir_.path());
  WatchRecorder recorder;
  auto watch = store->watch("/", 0, recorder.handler());
  put(*store, "/k", "v");
  ASSERT_TRUE(recorder.waitForEvents(1));
  store.reset();
  watch.reset();
  EXPECT_EQ(recorder.calls(), 1u);
}

// Each acknowledged write must be on disk: a child writes and reports every
// acknowledged key through a pipe, is killed mid-way with SIGKILL, and the parent
// reopens the store and looks for every reported key.
TEST_F(EmbeddedStoreTest, AcknowledgedWritesSurviveKill9) {
  constexpr int kKeys = 100000;  // far more than are written before the kill
  constexpr size_t kKillAfter = 150;
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    auto opened = EmbeddedStore::open(dir_.path());
    if (!opened) _exit(2);
    auto store = std::move(opened).value();
    asio::io_context ioc;
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
          for (int i = 0; i < kKeys; ++i) {
            std::string key = "/crash/" + std::to_string(i);
            auto r = co_await store->put(key, "value-" + std::to_string(i));
            if (!r) _exit(3);
            std::string line = key + "\n";
            if (write(fds[1], line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
              _exit(4);
            }
          }
        },
        asio::detached);
    ioc.run();
    _exit(0);
  }
  close(fds[1]);

  std::string received;
  size_t lines = 0;
  bool killed = false;
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!killed && lines >= kKillAfter) {
      kill(pid, SIGKILL);
      killed = true;
    }
    pollfd p{fds[0], POLLIN, 0};
    if (poll(&p, 1, 1000) <= 0) continue;
    char buffer[4096];
    ssize_t n = read(fds[0], buffer, sizeof buffer);
    if (n <= 0) break;  // the child is gone: every report it made has been read
    for (ssize_t i = 0; i < n; ++i) lines += buffer[i] == '\n';
    received.append(buffer, n);
  }
  if (!killed) kill(pid, SIGKILL);
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(killed) << "the child reported only " << lines << " writes in time";
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);

  std::vector<std::string> acknowledged;
  size_t start = 0;
  for (size_t end; (end = received.find('\n', start)) != std::string::npos; start = end + 1) {
    acknowledged.push_back(received.substr(start, end - start));
  }
  ASSERT_GE(acknowledged.size(), kKillAfter);

  auto store = openOrDie(dir_.path());
  for (const auto& key : acknowledged) {
    auto got = runAwait(store->get(key));
    ASSERT_TRUE(got) << got.error().message;
    ASSERT_TRUE(got->has_value()) << "acknowledged key lost: " << key;
    EXPECT_EQ((*got)->value, "value-" + key.substr(std::string("/crash/").size()));
  }
  // What was committed is a prefix of the writes, one revision each.
  auto range = runAwait(store->list("/crash/"));
  ASSERT_TRUE(range);
  EXPECT_EQ(static_cast<int64_t>(range->kvs.size()), store->currentRevision());
  EXPECT_GE(range->kvs.size(), acknowledged.size());
  int64_t before = store->currentRevision();
  EXPECT_EQ(put(*store, "/after", "crash"), before + 1);
}

}  // namespace
}  // namespace eg::store
