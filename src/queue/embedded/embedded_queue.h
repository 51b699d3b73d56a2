#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "queue/embedded/live_slots.h"
#include "queue/embedded/segment_log.h"
#include "queue/queue.h"

namespace eg::queue {

// | option       | default       | meaning                                                  |
// |--------------|---------------|----------------------------------------------------------|
// | dir          | required      | directory of the log (-queue-dir, <embed-data-dir>/queue)|
// | maxBytes     | 1 GiB         | the log's size; beyond, new events are refused (503)     |
// | segmentBytes | maxBytes / 64 | size of one segment file, within 64 KiB – 16 MiB         |
// | readAhead    | 200           | deliveries held in memory ready for the workers          |
// | maxTimers    | 65536         | retries waiting in memory for their time                 |
struct EmbeddedQueueOptions {
  std::string dir;
  uint64_t maxBytes = uint64_t{1} << 30;
  uint64_t segmentBytes = 0;
  std::size_t readAhead = 200;
  std::size_t maxTimers = 65536;
};

// `-queue embedded`: deliveries in an append-only log on local disk (segment_log.h).
//
// Every delivery state is a record with a slot number. An accepted event is one record
// holding its deliveries (slots in a row), and the enqueue answers only once that record
// is fsync'd; every enqueue waiting at that moment shares the fsync (group commit). A
// retry, a dead letter or a compacted copy is a record of one delivery that names the
// slot it replaces; completions are records of slots. None of those needs an fsync of
// its own: losing one in a crash only repeats a delivery (at least once).
//
// Memory stays flat however much waits on disk: fresh deliveries are read back in order
// by a cursor as the workers need them (`readAhead` at a time), retries wait in a heap of
// `maxTimers` compact entries fed by a second cursor, and one bit per slot says which
// are live. New records go straight to memory while the cursors are caught up; past the
// limits, the cursors fall behind and catch up from disk.
//
// The oldest segment is removed once nothing in it is live. A segment that a few
// long-waiting retries keep alive is compacted: those retries are copied forward and
// the segment goes, so that neither disk nor the slot bitmap grow behind them.
//
// One thread of its own writes and reads the log. Callers hand it operations through a
// short lock, and take deliveries that are ready straight from memory under that lock:
// only enqueues (and dead letters) wake it at once; completions and retries wait for
// the next write, or at most kLazyFlush. After kill -9, start() replays the log: every
// delivery not completed is made again with its attempts and due time.
class EmbeddedQueue final : public DeliveryQueue {
 public:
  explicit EmbeddedQueue(EmbeddedQueueOptions options);
  ~EmbeddedQueue() override;

  Status start() override;
  void enqueue(EnqueueRequest request, EnqueueHandler done) override;
  void enqueueAll(std::vector<EnqueueRequest> requests, EnqueueHandler done) override;
  void take(std::size_t max, TakeHandler handler) override;
  void complete(Lease lease) override;
  void retry(Lease lease, uint32_t attempts, WallMs dueAtMs, std::string lastError) override;
  void replace(Lease lease, Delivery replacement) override;
  void release(Lease lease) override;
  void close() override;
  Stats stats() const override;
  std::string describe() const override;
  bool durable() const override { return true; }

 private:
  struct Op {
    enum Kind { kEnqueue, kRetry, kReplace } kind;
    explicit Op(Kind k) : kind(k) {}
    EnqueueRequest request;  // kEnqueue
    EnqueueHandler done;     // kEnqueue
    uint64_t frameBytes = 0; // kEnqueue: bytes reserved against maxBytes
    std::string body;        // the record, its prefix to fill
    uint64_t slot = 0;       // kRetry, kReplace: the lease's slot
    Delivery delivery;       // kRetry: its new state; kReplace: the replacement
  };
  struct SegmentSlots {      // slots of one segment: [first, end), how many live
    uint64_t number = 0;
    uint64_t first = 0;
    uint64_t end = 0;
    uint64_t live = 0;
  };
  struct Ready {
    uint64_t slot;
    Delivery delivery;
  };
  struct Timer {             // a retry waiting for its time; its record is on disk
    WallMs due;
    uint64_t slot;
    SegmentLog::Position at;
    WallMs accepted;
  };
  struct Later {
    bool operator()(const Timer& a, const Timer& b) const { return a.due > b.due; }
  };
  // A cursor over one kind of record. Caught up: every live record of its kind before
  // the end is in memory, and new ones go straight there while there is room.
  struct Reader {
    SegmentLog::Cursor cursor;
    bool caughtUp = false;
  };

  void push(Op op, bool urgent);
  // Several ops, queued under one lock: all of them, or (closed) none.
  void push(std::span<Op> ops, bool urgent);
  // An enqueue's record, encoded, without its handler.
  Op enqueueOp(EnqueueRequest request);
  // Takes `frameBytes` of room against -queue-max-bytes, or says the queue is full.
  Status reserve(uint64_t frameBytes);
  void run();
  void process(std::vector<Op>& ops, std::vector<uint64_t>& acks);
  // Adds to ready_ (lock held) and answers a waiting take (after unlocking `lock`).
  void makeReady(std::unique_lock<std::mutex>& lock, std::vector<Ready> fresh,
                 std::vector<Ready> first);
  std::vector<Lease> takeLocked(std::size_t max);

  // Recovery.
  void replay(SegmentLog::Position at, std::string_view body);

  // Record bookkeeping (queue thread).
  SegmentSlots& segmentOf(SegmentLog::Position at);
  SegmentSlots* segmentOfSlot(uint64_t slot);
  void live(uint64_t slot, SegmentLog::Position at);
  void kill(uint64_t slot);
  Result<SegmentLog::Position> appendDeliveries(Op& op, std::vector<Ready>& fresh);
  Result<SegmentLog::Position> appendReplacement(Op& op, uint64_t newSlot);
  void scheduleRetry(uint64_t slot, SegmentLog::Position at, Delivery delivery,
                     std::vector<Ready>& dueNow);

  // Filling memory from disk. `room`: how many ready_ may take now.
  std::vector<Ready> promoteDueTimers(std::size_t room);
  std::vector<Ready> readFresh(std::size_t room);
  void readRetries();
  void refill();
  std::size_t readyRoom();
  Result<Delivery> readOne(SegmentLog::Position at, uint64_t slot);

  // Keeping the log short.
  void collect();
  bool compactOldest();

  void publishStats();

  const EmbeddedQueueOptions options_;

  // Shared with callers, under mu_.
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::vector<Op> inbox_;
  std::vector<uint64_t> acks_;     // completed slots to record
  bool urgent_ = false;            // an op in inbox_ wants the thread now
  bool refill_ = false;            // ready_ ran low: read more from disk
  std::size_t lastBurst_ = 0;
  bool stopping_ = false;
  bool closed_ = false;
  std::deque<Ready> ready_;        // due, in memory, for take
  std::unordered_map<uint64_t, WallMs> leased_;  // slot -> accepted, handed out
  TakeHandler waiter_;
  std::size_t waiterMax_ = 0;
  std::thread thread_;
  std::atomic<uint64_t> logBytes_{0};      // published by the queue thread
  std::atomic<uint64_t> reservedBytes_{0}; // accepted enqueues not yet written
  std::atomic<uint64_t> liveCount_{0};
  std::atomic<int64_t> oldestAcceptedMs_{0};

  // Queue thread only.
  SegmentLog log_;
  LiveSlots live_;
  uint64_t nextSlot_ = 1;
  std::deque<SegmentSlots> segments_;  // segments holding slot records, oldest first
  std::vector<Timer> timers_;          // a heap by Later
  Reader fresh_;
  Reader retries_;
  WallMs freshBehindMs_ = 0;  // accepted time of the last fresh delivery read from disk
  std::chrono::steady_clock::time_point nextStats_{};
};

}  // namespace eg::queue
