#pragma once

#include <array>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/result.h"

namespace eg::queue {

// Append-only segment files of checksummed records in one directory: the storage of the
// embedded queue, which knows nothing of deliveries.
//
// A segment is `<number>.seg`: an 8-byte magic, then frames `u32 length | u32 crc32c of
// the body | body`. Records are appended to the newest segment; a new one starts once
// it passes `segmentBytes`. Only the oldest segment is ever removed, so that a record
// may refer to (and cancel) records of older segments.
//
// Opening scans every record and checks its checksum; the first torn or corrupt frame
// of a segment and everything after it in that segment are cut off (logged), never a
// crash. A LOCK file (flock) keeps a second process out of the directory.
//
// Once the newest segment is half full, the next one is made ahead of need by a thread
// of its own: a file of zeros as large as a segment, under its final name. An fdatasync
// of a file that does not grow has no metadata to journal, and under load costs much
// less than one that does; and moving to a segment made ahead waits for no disk. So a
// segment's records end at the first frame of zeros, not at the end of the file; when
// anything but zeros follows that frame, opening cuts it off like a torn tail (a record
// there would come back once new records fill the gap).
// Without the next one ready, a segment starts empty and grows.
//
// Not thread-safe: one thread owns it.
class SegmentLog {
 public:
  struct Position {
    uint64_t segment = 0;  // segment number
    uint64_t offset = 0;   // of the frame within the file
    bool operator==(const Position&) const = default;
  };
  struct Segment {
    uint64_t number = 0;
    uint64_t bytes = 0;  // file size (written and flushed)
    int fd = -1;
  };
  using Visitor = std::function<void(Position, std::string_view body)>;

  static constexpr std::size_t kFrameHeader = 8;
  static constexpr std::size_t kMagicBytes = 8;
  static constexpr uint64_t kMaxRecord = uint64_t{1} << 28;

  SegmentLog() = default;
  ~SegmentLog();
  SegmentLog(const SegmentLog&) = delete;
  SegmentLog& operator=(const SegmentLog&) = delete;

  // Creates `dir` if needed, locks it and calls `visit` for every intact record, oldest
  // first. Errors (kUnavailable) are the operator's: unwritable directory, locked by
  // another process.
  Status open(const std::string& dir, uint64_t segmentBytes, const Visitor& visit);

  // Queues a record for the next flush, starting a new segment first when the current
  // one is full (which flushes and syncs it). Answers where the record will be.
  Result<Position> append(std::string body);
  // Writes what append queued. After a flush, reads see the records.
  Status flush();
  // Makes what was flushed durable (fdatasync of the newest segment).
  Status sync();

  // The body of the record at `at`, checked against its checksum.
  Result<std::string> read(Position at) const;

  // Reads records in order from a position, up to what was flushed.
  class Cursor {
   public:
    Cursor() = default;
    explicit Cursor(Position at) : at_(at) {}
    // The next record at or after the cursor and where it is, or nullopt at the end
    // of what was flushed. The body is valid until the next call.
    std::optional<std::pair<Position, std::string_view>> next(const SegmentLog& log);
    Position position() const { return at_; }
    void seek(Position at) {
      at_ = at;
      buffer_.clear();
      bufferAt_ = at;
    }

   private:
    Position at_;
    std::string buffer_;  // bytes of at_.segment from bufferAt_.offset
    Position bufferAt_;
  };

  // The start of the oldest segment (where a full scan begins) and the end of what was
  // flushed (where the next record goes).
  Position begin() const;
  Position end() const;

  const std::deque<Segment>& segments() const { return segments_; }
  uint64_t bytes() const;
  // Deletes the oldest segment file; never the newest.
  Status removeOldest();
  const std::string& dir() const { return dir_; }

 private:
  Status startSegment(uint64_t number);
  Status scanSegment(Segment& segment, bool newest, const Visitor& visit);
  const Segment* find(uint64_t number) const;
  // The next segment, made ahead: asked for once the newest is half full, taken by
  // startSegment when it is the one wanted.
  void wantNext(uint64_t number);
  bool takeNext(uint64_t number);
  void prepareNext();

  std::string dir_;
  uint64_t segmentBytes_ = 0;
  int lockFd_ = -1;
  std::deque<Segment> segments_;  // oldest first; the back one is written
  // Queued by append, written by flush: frame headers and bodies.
  std::vector<std::string> pendingBodies_;
  std::vector<std::array<char, kFrameHeader>> pendingHeads_;
  uint64_t pendingBytes_ = 0;

  std::vector<int> unsynced_;  // segments left for the next sync() (rolled from)

  enum class Next { kNone, kWanted, kReady };
  std::mutex spareMu_;
  std::condition_variable spareWake_;
  Next next_ = Next::kNone;     // guarded by spareMu_
  uint64_t nextNumber_ = 0;     // guarded by spareMu_
  bool spareStop_ = false;      // guarded by spareMu_
  std::thread spareThread_;
};

}  // namespace eg::queue
