#include "queue/embedded/embedded_queue.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include <gtest/gtest.h>

#include "queue/embedded/crc32c.h"
#include "queue/embedded/live_slots.h"
#include "queue/embedded/segment_log.h"
#include "queue/queue_contract.h"
#include "queue/record.h"

namespace eg::queue::testing {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "eg-queue-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::unique_ptr<EmbeddedQueue> openQueue(EmbeddedQueueOptions options) {
  auto q = std::make_unique<EmbeddedQueue>(std::move(options));
  const Status started = q->start();
  EXPECT_TRUE(started.ok()) << (started.ok() ? "" : started.error().message);
  return q;
}

std::unique_ptr<EmbeddedQueue> openQueue(const std::string& dir) {
  EmbeddedQueueOptions options;
  options.dir = dir;
  return openQueue(std::move(options));
}

struct EmbeddedFactory {
  static constexpr bool kDurable = true;
  std::shared_ptr<TempDir> dir;
  std::unique_ptr<DeliveryQueue> open() {
    dir = std::make_shared<TempDir>();
    return openQueue(dir->path() + "/queue");
  }
  std::unique_ptr<DeliveryQueue> reopen() { return openQueue(dir->path() + "/queue"); }
};

INSTANTIATE_TYPED_TEST_SUITE_P(Embedded, QueueContractTest, ::testing::Types<EmbeddedFactory>);

std::vector<fs::path> segmentFiles(const std::string& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.ends_with(".seg") && name.find_first_not_of("0123456789") == name.size() - 4) {
      out.push_back(e.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Queues `n` events of one delivery each, payloads "0".."n-1", then stops the queue
// without completing any (what a crash leaves behind, minus nothing: each was fsync'd).
void fill(const std::string& dir, int n, int from = 0) {
  auto q = openQueue(dir);
  for (int i = from; i < from + n; ++i) {
    ASSERT_TRUE(enqueueNow(*q, event(std::to_string(i)), {target("a")}).ok());
  }
}

std::set<std::string> drain(DeliveryQueue& q, std::size_t expected) {
  std::set<std::string> payloads;
  for (auto& l : takeAll(q, expected)) {
    payloads.insert(l.delivery.event->payload);
    q.complete(std::move(l));
  }
  return payloads;
}

TEST(EmbeddedQueueTest, ATornTailIsCutOffAndTheIntactRecordsAreKept) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/q";
  fill(dir, 10);
  auto files = segmentFiles(dir);
  ASSERT_EQ(files.size(), 1u);
  const auto size = fs::file_size(files[0]);
  fs::resize_file(files[0], size - 5);  // mid-record: the last event is torn
  auto q = openQueue(dir);
  const auto got = drain(*q, 9);
  EXPECT_EQ(got.size(), 9u);
  EXPECT_FALSE(got.contains("9"));
  EXPECT_LT(fs::file_size(files[0]), size - 5) << "the torn record was cut off";
  // And the log goes on where it was cut.
  ASSERT_TRUE(enqueueNow(*q, event("after"), {target("a")}).ok());
  EXPECT_EQ(drain(*q, 1), std::set<std::string>{"after"});
}

TEST(EmbeddedQueueTest, GarbageAfterTheLastRecordIsCutOffAndLogged) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/q";
  fill(dir, 5);
  const auto file = segmentFiles(dir)[0];
  const auto size = fs::file_size(file);
  {
    std::ofstream out(file, std::ios::binary | std::ios::app);
    std::mt19937 rng(42);
    for (int i = 0; i < 3000; ++i) out.put(static_cast<char>(rng()));
  }
  auto q = openQueue(dir);
  EXPECT_EQ(fs::file_size(file), size) << "only the intact records are left";
  EXPECT_EQ(drain(*q, 5), (std::set<std::string>{"0", "1", "2", "3", "4"}));
}

TEST(EmbeddedQueueTest, ACorruptByteInTheMiddleLosesOnlyWhatFollowsInThatSegment) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/q";
  fill(dir, 20);
  const auto file = segmentFiles(dir)[0];
  {
    std::fstream io(file, std::ios::binary | std::ios::in | std::ios::out);
    io.seekp(static_cast<std::streamoff>(fs::file_size(file) / 2));
    io.put('\x7f');
    io.put('\x01');
  }
  auto q = openQueue(dir);
  const auto before = q->stats().deliveries;
  EXPECT_GT(before, 0u);
  EXPECT_LT(before, 20u);
  EXPECT_EQ(drain(*q, before).size(), before);
}

TEST(EmbeddedQueueTest, AnUnstampedNewestSegmentIsStartedAgain) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/q";
  fill(dir, 3);
  { std::ofstream(dir + "/0000000002.seg"); }  // created, then the process died
  auto q = openQueue(dir);
  EXPECT_EQ(drain(*q, 3).size(), 3u);
}

TEST(EmbeddedQueueTest, ASecondQueueOnTheSameDirectoryIsRefused) {
  TempDir tmp;
  auto first = openQueue(tmp.path());
  EmbeddedQueue second(EmbeddedQueueOptions{tmp.path()});
  const Status st = second.start();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("in use"), std::string::npos) << st.error().message;
}

TEST(EmbeddedQueueTest, RetriesSurviveARestartWithTheirScheduleAndAttempts) {
  TempDir tmp;
  {
    auto q = openQueue(tmp.path());
    ASSERT_TRUE(enqueueNow(*q, event("x"), {target("a")}).ok());
    auto leases = takeNow(*q, 1);
    ASSERT_EQ(leases.size(), 1u);
    q->retry(std::move(leases[0]), 4, nowMs() + 500, "http 503");
  }
  auto q = openQueue(tmp.path());
  const auto reopened = std::chrono::steady_clock::now();
  PendingTake pending(*q, 1);
  EXPECT_FALSE(pending.readyWithin(200ms)) << "a retry came back before its time";
  auto leases = pending.get();
  ASSERT_EQ(leases.size(), 1u);
  EXPECT_GE(std::chrono::steady_clock::now() - reopened, 250ms);
  EXPECT_EQ(leases[0].delivery.attempts, 4u);
  EXPECT_EQ(leases[0].delivery.lastError, "http 503");
  q->complete(std::move(leases[0]));
}

// A log of 64 KiB in segments of 8 KiB: room for about forty events of 1 KB.
EmbeddedQueueOptions smallLog(const TempDir& tmp) {
  EmbeddedQueueOptions options;
  options.dir = tmp.path();
  options.maxBytes = 64 << 10;
  options.segmentBytes = 8 << 10;
  return options;
}

TEST(EmbeddedQueueTest, AFullLogRefusesNewEventsAndRecoversRoomAsDeliveriesComplete) {
  TempDir tmp;
  const EmbeddedQueueOptions options = smallLog(tmp);
  auto q = openQueue(options);
  const std::string payload(1000, 'p');
  int accepted = 0;
  Status refused;
  for (int i = 0; i < 200; ++i) {
    refused = enqueueNow(*q, event(payload), {target("a")});
    if (!refused) break;
    ++accepted;
  }
  ASSERT_FALSE(refused.ok()) << "64 KiB cannot hold 200 KB of events";
  EXPECT_EQ(refused.error().kind, ErrorKind::kUnavailable);
  EXPECT_NE(refused.error().message.find("full"), std::string::npos);
  EXPECT_GT(accepted, 30);
  EXPECT_LE(q->stats().bytes, options.maxBytes);
  EXPECT_EQ(drain(*q, accepted).size(), 1u);  // all the same payload
  // Completed segments are removed; there is room again.
  ASSERT_TRUE(waitUntil([&] { return enqueueNow(*q, event(payload), {target("a")}).ok(); }));
}

TEST(EmbeddedQueueTest, EventsQueuedTogetherFitWholeOrNoneIsQueued) {
  TempDir tmp;
  auto q = openQueue(smallLog(tmp));
  const std::string payload(1000, 'p');
  // Forty events of 1 KB fit in 64 KiB; eighty do not.
  std::vector<EnqueueRequest> tooMany;
  for (int i = 0; i < 80; ++i) tooMany.push_back(EnqueueRequest{event(payload), {target("a")}});
  const Status refused = enqueueAllNow(*q, tooMany);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("full"), std::string::npos);
  EXPECT_EQ(q->stats().deliveries, 0u);
  tooMany.resize(40);
  ASSERT_TRUE(enqueueAllNow(*q, tooMany).ok());
  EXPECT_EQ(drain(*q, 40).size(), 1u);  // all the same payload
}

TEST(EmbeddedQueueTest, CompletedSegmentsAreRemoved) {
  TempDir tmp;
  EmbeddedQueueOptions options;
  options.dir = tmp.path();
  options.segmentBytes = 4096;
  auto q = openQueue(options);
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(enqueueNow(*q, event(std::string(200, 'x') + std::to_string(i)), {target("a")}).ok());
  }
  EXPECT_GT(segmentFiles(tmp.path()).size(), 3u);
  EXPECT_EQ(drain(*q, 100).size(), 100u);
  ASSERT_TRUE(enqueueNow(*q, event("last"), {target("a")}).ok());  // a write runs collection
  EXPECT_TRUE(waitUntil([&] { return segmentFiles(tmp.path()).size() <= 2; }))
      << segmentFiles(tmp.path()).size() << " segment files left";
  EXPECT_EQ(drain(*q, 1), std::set<std::string>{"last"});
}

TEST(EmbeddedQueueTest, NewSegmentsArePreallocatedAndTheirZerosEndTheRecords) {
  TempDir tmp;
  EmbeddedQueueOptions options;
  options.dir = tmp.path();
  options.segmentBytes = 64 << 10;
  const std::string payload(1000, 'z');
  int sent = 0;
  {
    auto q = openQueue(options);
    // Half a segment asks for the next; it is ready long before this one is full.
    for (; sent < 40; ++sent) ASSERT_TRUE(enqueueNow(*q, event(payload), {target("a")}).ok());
    ASSERT_TRUE(waitUntil([&] { return segmentFiles(tmp.path()).size() == 2; }));
    for (; sent < 100; ++sent) ASSERT_TRUE(enqueueNow(*q, event(payload), {target("a")}).ok());
  }
  const auto files = segmentFiles(tmp.path());
  ASSERT_GE(files.size(), 2u);
  EXPECT_EQ(fs::file_size(files[1]), options.segmentBytes) << "the second segment was made ahead";
  auto q = openQueue(options);
  EXPECT_EQ(fs::file_size(files[1]), options.segmentBytes) << "its zeros are no torn tail";
  EXPECT_EQ(drain(*q, sent).size(), 1u);
  EXPECT_TRUE(waitUntil([&] { return q->stats().deliveries == 0; }));
}

// Found by fuzz/segment_scan_fuzz.cc: the scan took a frame of zeros for the end of a
// segment made ahead and left what followed it in place. A record there (its page
// written before a crash, the page before it not) came back once new records filled
// the gap exactly.
TEST(SegmentLogTest, ARecordAfterAFrameOfZerosIsCutOffNotRevived) {
  TempDir tmp;
  const auto visit = [](std::vector<std::string>& out) {
    return [&out](SegmentLog::Position, std::string_view body) { out.emplace_back(body); };
  };
  const std::string gap = "lost header";  // a record whose frame reads as zeros
  {
    SegmentLog log;
    std::vector<std::string> none;
    ASSERT_TRUE(log.open(tmp.path(), 1 << 20, visit(none)).ok());
    ASSERT_TRUE(log.append("kept").ok());
    ASSERT_TRUE(log.flush().ok());
  }
  const auto file = segmentFiles(tmp.path()).at(0);
  const auto end = fs::file_size(file);
  {
    const std::string stale = "stale";
    uint32_t head[2] = {static_cast<uint32_t>(stale.size()), crc32c(stale)};
    std::ofstream out(file, std::ios::binary | std::ios::app);
    out << std::string(SegmentLog::kFrameHeader + gap.size(), '\0');
    out.write(reinterpret_cast<const char*>(head), sizeof head);
    out << stale;
  }
  {
    SegmentLog log;
    std::vector<std::string> records;
    ASSERT_TRUE(log.open(tmp.path(), 1 << 20, visit(records)).ok());
    EXPECT_EQ(records, std::vector<std::string>{"kept"});
    EXPECT_EQ(fs::file_size(file), end) << "what follows the zeros is cut off";
    ASSERT_TRUE(log.append(gap).ok());
    ASSERT_TRUE(log.flush().ok());
  }
  SegmentLog log;
  std::vector<std::string> records;
  ASSERT_TRUE(log.open(tmp.path(), 1 << 20, visit(records)).ok());
  EXPECT_EQ(records, (std::vector<std::string>{"kept", gap}));
}

TEST(EmbeddedQueueTest, ALongRetryIsCopiedForwardSoItsSegmentCanGo) {
  TempDir tmp;
  EmbeddedQueueOptions options;
  options.dir = tmp.path();
  options.segmentBytes = 4096;
  {
    auto q = openQueue(options);
    ASSERT_TRUE(enqueueNow(*q, event("patient"), {target("slow")}).ok());
    auto leases = takeNow(*q, 1);
    ASSERT_EQ(leases.size(), 1u);
    q->retry(std::move(leases[0]), 1, nowMs() + 3'600'000, "down");
    // Traffic that completes behind it: without compaction, every segment since would stay.
    for (int i = 0; i < 200; ++i) {
      ASSERT_TRUE(enqueueNow(*q, event(std::string(200, 'y')), {target("fast")}).ok());
      for (auto& l : takeNow(*q, 1)) q->complete(std::move(l));
    }
    EXPECT_TRUE(waitUntil([&] { return segmentFiles(tmp.path()).size() <= 5; }))
        << segmentFiles(tmp.path()).size() << " segment files left";
    EXPECT_TRUE(waitUntil([&] { return q->stats().deliveries == 1; }));
  }
  // The copy is what a restart finds, with its schedule.
  auto q = openQueue(options);
  EXPECT_EQ(q->stats().deliveries, 1u);
}

TEST(EmbeddedQueueTest, ABacklogLargerThanTheReadAheadComesBackInOrderFromDisk) {
  TempDir tmp;
  EmbeddedQueueOptions options;
  options.dir = tmp.path();
  options.readAhead = 4;
  auto q = openQueue(options);
  constexpr int kEvents = 300;
  for (int i = 0; i < kEvents; ++i) {
    ASSERT_TRUE(enqueueNow(*q, event(std::to_string(i)), {target("a"), target("b")}).ok());
  }
  std::vector<std::string> order;
  for (auto& l : takeAll(*q, 2 * kEvents)) {
    if (l.delivery.target.subscriptionId == "a") order.push_back(l.delivery.event->payload);
    q->complete(std::move(l));
  }
  ASSERT_EQ(order.size(), static_cast<std::size_t>(kEvents));
  for (int i = 0; i < kEvents; ++i) EXPECT_EQ(order[i], std::to_string(i));
}

TEST(EmbeddedQueueTest, MoreRetriesThanTimersInMemoryAllComeBack) {
  TempDir tmp;
  EmbeddedQueueOptions options;
  options.dir = tmp.path();
  options.maxTimers = 3;
  auto q = openQueue(options);
  constexpr int kEvents = 40;
  for (int i = 0; i < kEvents; ++i) {
    ASSERT_TRUE(enqueueNow(*q, event(std::to_string(i)), {target("a")}).ok());
  }
  for (auto& l : takeAll(*q, kEvents)) q->retry(std::move(l), 1, nowMs() + 100, "again");
  std::set<std::string> back;
  for (auto& l : takeAll(*q, kEvents)) {
    EXPECT_EQ(l.delivery.attempts, 1u);
    back.insert(l.delivery.event->payload);
    q->complete(std::move(l));
  }
  EXPECT_EQ(back.size(), static_cast<std::size_t>(kEvents));
}

TEST(LiveSlotsTest, TracksLiveSlotsAndForgetsTheDeadPrefix) {
  LiveSlots live;
  for (uint64_t s = 1; s <= 1000; ++s) live.set(s);
  EXPECT_EQ(live.count(), 1000u);
  for (uint64_t s = 1; s < 1000; ++s) EXPECT_TRUE(live.clear(s));
  EXPECT_FALSE(live.clear(5));
  EXPECT_TRUE(live.test(1000));
  EXPECT_EQ(live.oldest(), 1000u);
  EXPECT_LE(live.memoryBytes(), 16u);
}

TEST(RecordTest, RoundTripsAndRefusesAnyDamage) {
  auto e = event("{\"a\":1}", "{\"path\":\"/\"}");
  std::vector<Target> targets{target("a", Target::kSystem), target("b")};
  std::string bytes;
  encodeNew(bytes, *e, targets);
  EXPECT_EQ(bytes.size(), encodedNewSize(*e, targets));
  auto decoded = decodeDeliveries(bytes);
  ASSERT_TRUE(decoded.ok());
  ASSERT_EQ(decoded->size(), 2u);
  EXPECT_EQ((*decoded)[0].event->payload, e->payload);
  EXPECT_EQ((*decoded)[1].target.subscriptionId, "b");
  EXPECT_TRUE((*decoded)[0].target.system());
  auto head = decodeHead(bytes);
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->count, 2u);
  EXPECT_EQ(head->acceptedAtMs, e->acceptedAtMs);
  for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
    EXPECT_FALSE(decodeDeliveries(std::string_view(bytes).substr(0, cut)).ok()) << cut;
  }
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string damaged = bytes;
    damaged[rng() % damaged.size()] ^= static_cast<char>(1 + rng() % 255);
    (void)decodeDeliveries(damaged);  // an Error or deliveries, never a crash
  }
}

TEST(RecordTest, TraceContextIsKeptAndAnEventWithoutOneIsWrittenAsVersion1) {
  auto plain = event("{\"a\":1}", "");
  auto traced = std::make_shared<EventData>(*plain);
  traced->traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  traced->tracestate = "congo=t61rcWkgMzE";
  std::vector<Target> targets{target("a")};
  std::string v1;
  encodeNew(v1, *plain, targets);
  EXPECT_EQ(v1[0], 1);  // what an older release reads
  std::string v2;
  encodeNew(v2, *traced, targets);
  EXPECT_EQ(v2[0], 2);
  EXPECT_EQ(v2.size(), encodedNewSize(*traced, targets));
  auto decoded = decodeDeliveries(v2);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ((*decoded)[0].event->traceparent, traced->traceparent);
  EXPECT_EQ((*decoded)[0].event->tracestate, traced->tracestate);
  auto head = decodeHead(v2);
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->count, 1u);
  std::string again;
  encodeDeliveries(again, *decoded);
  EXPECT_EQ(again, v2);
  auto old = decodeDeliveries(v1);
  ASSERT_TRUE(old.ok());
  EXPECT_TRUE((*old)[0].event->traceparent.empty());
  // Version 2 with no trace context is not an encoding the gateway writes.
  traced->traceparent.clear();
  traced->tracestate.clear();
  std::string forged;
  encodeNew(forged, *traced, targets);
  forged[0] = 2;
  forged.insert(1 + 8 + 8 + 4 + traced->payload.size() + 4, std::string(8, '\0'));
  EXPECT_FALSE(decodeDeliveries(forged).ok());
}

}  // namespace
}  // namespace eg::queue::testing
