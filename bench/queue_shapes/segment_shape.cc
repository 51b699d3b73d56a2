// (B) Segment files: our own append-only files of checksummed records, one write() and
// one fdatasync() per group commit.
//
// Files NNNNNNNNNNNNNNNN.seg, written front to back; a new one before the current one
// would pass the size limit. Every record:
//
//   u32 crc32c (of the segment number as u32, then everything after the crc) |
//   u32 body length | u8 type | body
//
//   event (1): the form of src/queue/record.h: u8 version | i64 acceptedAtMs |
//              i64 configRevision | str payload | str request | u32 count |
//              count × (str space | str subscriptionId | str functionId | str eventType |
//                       u8 flags | u32 attempts | i64 dueAtMs | str lastError)
//   done  (2): u32 n | n × ref
//   retry (3): u32 n | n × (ref | u32 attempts | i64 dueAtMs | str lastError)
//   ref = u32 segment | u32 offset of the event record | u32 target index; str = u32 + bytes
//
// Memory: one counter of not-done deliveries per segment file, nothing per delivery
// (a consumer reads waiting deliveries back with a cursor). Files are retired from the
// oldest on, once all their deliveries are done, so that no done-mark outlives the file
// it refers to.
//
// Recycling (on by default, as RocksDB's recycle_log_file_num): a retired file is
// renamed to a spare (at most two) and later renamed to the next segment and written
// over from its start. Overwriting allocated blocks does not change the file's size or
// extents, so fdatasync() has no metadata to commit to the ext4 journal: one flush
// instead of two, as SQLite's WAL gets once it restarts from its beginning after a
// checkpoint. The segment number in every CRC makes the old records behind the new ones
// fail their check, so a scan ends there as at a torn tail.
#include "common.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace queue_shapes {
namespace {

enum RecordType : uint8_t { kEventRecord = 1, kDoneRecord = 2, kRetryRecord = 3 };
constexpr size_t kRecordHead = 9;
constexpr uint8_t kRecordVersion = 1;

template <class T>
void put(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.append(b, sizeof(T));
}
void putStr(std::string& out, std::string_view s) {
  put<uint32_t>(out, uint32_t(s.size()));
  out.append(s);
}

size_t beginRecord(std::string& out, RecordType type) {
  size_t at = out.size();
  out.append(8, '\0');
  out.push_back(char(type));
  return at;
}
void endRecord(std::string& out, size_t at) {
  uint32_t len = uint32_t(out.size() - at - kRecordHead);
  std::memcpy(out.data() + at + 4, &len, 4);
}
uint32_t recordCrc(uint64_t segment, const char* afterCrc, size_t n) {
  uint32_t id = uint32_t(segment);
  return crc32c(crc32c(0, &id, 4), afterCrc, n);
}
// Fills in the CRC of the record at `at`, once its segment is known.
void sealRecord(std::string& out, size_t at, uint64_t segment) {
  uint32_t len;
  std::memcpy(&len, out.data() + at + 4, 4);
  uint32_t crc = recordCrc(segment, out.data() + at + 4, kRecordHead - 4 + len);
  std::memcpy(out.data() + at, &crc, 4);
}

std::string segmentPath(const std::string& dir, uint64_t id) {
  char name[32];
  std::snprintf(name, sizeof name, "/%016llu.seg", (unsigned long long)id);
  return dir + name;
}

class SegmentShape final : public Shape {
 public:
  SegmentShape(std::string dir, uint64_t segmentBytes, bool recycle)
      : dir_(std::move(dir)), segmentBytes_(segmentBytes), recycle_(recycle) {
    dirFd_ = open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirFd_ < 0) die("open %s: %s", dir_.c_str(), std::strerror(errno));
    openSegment(1);
  }
  ~SegmentShape() override {
    if (fd_ >= 0) close(fd_);
    close(dirFd_);
  }

  void commit(std::span<Event* const> events, std::span<const Op> ops, bool durable) override {
    buf_.clear();
    records_.clear();
    const auto& targets = allTargets();
    for (Event* e : events) {
      size_t at = beginRecord(buf_, kEventRecord);
      records_.push_back(at);
      e->ref2 = at;  // relative to the batch until the file is known
      put<uint8_t>(buf_, kRecordVersion);
      put<int64_t>(buf_, e->acceptedAtMs);
      put<int64_t>(buf_, kConfigRevision);
      putStr(buf_, e->payload);
      putStr(buf_, {});
      put<uint32_t>(buf_, e->targets);
      for (uint32_t i = 0; i < e->targets; ++i) {
        const TargetSpec& t = targets[i];
        putStr(buf_, t.space);
        putStr(buf_, t.subscriptionId);
        putStr(buf_, t.functionId);
        putStr(buf_, t.eventType);
        put<uint8_t>(buf_, kTargetFlags);
        put<uint32_t>(buf_, 0);
        put<int64_t>(buf_, e->acceptedAtMs);
        putStr(buf_, {});
      }
      endRecord(buf_, at);
    }
    size_t dones = 0, retries = 0;
    for (const Op& op : ops) (op.kind == Op::kDone ? dones : retries)++;
    if (dones > 0) {
      size_t at = beginRecord(buf_, kDoneRecord);
      records_.push_back(at);
      put<uint32_t>(buf_, uint32_t(dones));
      for (const Op& op : ops) {
        if (op.kind != Op::kDone) continue;
        put<uint32_t>(buf_, uint32_t(op.ref1));
        put<uint32_t>(buf_, uint32_t(op.ref2));
        put<uint32_t>(buf_, op.index);
      }
      endRecord(buf_, at);
    }
    if (retries > 0) {
      size_t at = beginRecord(buf_, kRetryRecord);
      records_.push_back(at);
      put<uint32_t>(buf_, uint32_t(retries));
      for (const Op& op : ops) {
        if (op.kind != Op::kRetry) continue;
        put<uint32_t>(buf_, uint32_t(op.ref1));
        put<uint32_t>(buf_, uint32_t(op.ref2));
        put<uint32_t>(buf_, op.index);
        put<uint32_t>(buf_, op.attempts);
        put<int64_t>(buf_, op.dueAtMs);
        putStr(buf_, kLastError);
      }
      endRecord(buf_, at);
    }
    if (size_ > 0 && size_ + buf_.size() > segmentBytes_) openSegment(segments_.back().id + 1);
    Segment& current = segments_.back();
    for (size_t at : records_) sealRecord(buf_, at, current.id);
    for (Event* e : events) {
      e->ref1 = current.id;
      e->ref2 += size_;
      current.live += e->targets;
    }
    writeAll(fd_, buf_.data(), buf_.size());
    size_ += buf_.size();
    if (durable) {
      if (dirDirty_ && fsync(dirFd_) != 0) die("fsync dir: %s", std::strerror(errno));
      dirDirty_ = false;
      if (fdatasync(fd_) != 0) die("fdatasync: %s", std::strerror(errno));
    }
    for (const Op& op : ops) {
      if (op.kind != Op::kDone) continue;
      uint64_t first = segments_.front().id;
      if (op.ref1 < first || op.ref1 - first >= segments_.size()) {
        ++misses_;
        continue;
      }
      Segment& s = segments_[op.ref1 - first];
      if (s.live == 0) ++misses_; else --s.live;
    }
    while (segments_.size() > 1 && segments_.front().live == 0) {
      retire(segments_.front().id);
      segments_.pop_front();
    }
  }

  uint64_t pending() override {
    uint64_t n = 0;
    for (const Segment& s : segments_) n += s.live;
    return n;
  }
  uint64_t misses() const override { return misses_; }

 private:
  struct Segment {
    uint64_t id;
    uint64_t live;  // deliveries of its event records not done
  };

  void openSegment(uint64_t id) {
    if (fd_ >= 0) close(fd_);  // synced by the last durable commit, or holding only marks
    std::string path = segmentPath(dir_, id);
    if (!spares_.empty()) {
      if (rename(spares_.back().c_str(), path.c_str()) != 0) die("rename: %s", std::strerror(errno));
      spares_.pop_back();
      fd_ = open(path.c_str(), O_WRONLY | O_CLOEXEC);  // written over from offset 0
    } else {
      fd_ = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    }
    if (fd_ < 0) die("open segment: %s", std::strerror(errno));
    segments_.push_back({id, 0});
    size_ = 0;
    dirDirty_ = true;  // the new name must be durable with the first records in it
  }

  // A file whose deliveries are all done. Neither its unlink nor its rename need to be
  // durable at once: if either is lost, a restart finds the file with its done-marks
  // in the files after it (those are still there), or, renamed, with records whose
  // segment number no longer matches.
  void retire(uint64_t id) {
    std::string path = segmentPath(dir_, id);
    if (recycle_ && spares_.size() < kMaxSpares) {
      std::string spare = dir_ + "/spare-" + std::to_string(++spareSeq_);
      if (rename(path.c_str(), spare.c_str()) != 0) die("rename: %s", std::strerror(errno));
      spares_.push_back(spare);
    } else {
      unlink(path.c_str());
    }
  }

  static constexpr size_t kMaxSpares = 2;

  std::string dir_;
  uint64_t segmentBytes_;
  bool recycle_;
  std::vector<std::string> spares_;
  uint64_t spareSeq_ = 0;
  std::vector<size_t> records_;  // starts of the records in buf_
  int dirFd_ = -1, fd_ = -1;
  uint64_t size_ = 0;
  bool dirDirty_ = false;
  std::deque<Segment> segments_;
  std::string buf_;
  uint64_t misses_ = 0;
};

// Reads records one after the other through a 1 MiB buffer; a record that fails its
// length or checksum ends the file (a torn tail after a crash).
class RecordReader {
 public:
  RecordReader(const std::string& path, uint64_t segment)
      : fd_(open(path.c_str(), O_RDONLY | O_CLOEXEC)), segment_(segment) {
    if (fd_ < 0) die("open %s: %s", path.c_str(), std::strerror(errno));
    buf_.resize(1 << 20);
  }
  ~RecordReader() { close(fd_); }
  // The next record's type and body; false at the end or at a bad record (then bad()).
  bool next(uint8_t& type, std::string_view& body, uint64_t& offset) {
    if (!fill(kRecordHead)) return false;
    uint32_t crc, len;
    std::memcpy(&crc, buf_.data() + pos_, 4);
    std::memcpy(&len, buf_.data() + pos_ + 4, 4);
    if (len > (64u << 20) || !fill(kRecordHead + len)) {
      bad_ = true;
      return false;
    }
    if (recordCrc(segment_, buf_.data() + pos_ + 4, kRecordHead - 4 + len) != crc) {
      bad_ = true;
      return false;
    }
    type = uint8_t(buf_[pos_ + 8]);
    body = std::string_view(buf_.data() + pos_ + kRecordHead, len);
    offset = fileOffset_ + pos_;
    pos_ += kRecordHead + len;
    bytes_ += kRecordHead + len;
    return true;
  }
  bool bad() const { return bad_; }
  uint64_t bytes() const { return bytes_; }

 private:
  // Makes `n` bytes available at pos_; false when the file ends first.
  bool fill(size_t n) {
    if (end_ - pos_ >= n) return true;
    std::memmove(buf_.data(), buf_.data() + pos_, end_ - pos_);
    fileOffset_ += pos_;
    end_ -= pos_;
    pos_ = 0;
    if (buf_.size() < n) buf_.resize(n);
    while (end_ < n) {
      ssize_t r = ::read(fd_, buf_.data() + end_, buf_.size() - end_);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        if (end_ != 0) bad_ = true;  // a partial record at the end
        return false;
      }
      end_ += size_t(r);
    }
    return true;
  }

  int fd_;
  uint64_t segment_;
  std::string buf_;
  size_t pos_ = 0, end_ = 0;
  uint64_t fileOffset_ = 0, bytes_ = 0;
  bool bad_ = false;
};

class BodyReader {
 public:
  explicit BodyReader(std::string_view b) : b_(b) {}
  template <class T>
  bool get(T& v) {
    if (b_.size() < sizeof(T)) return false;
    std::memcpy(&v, b_.data(), sizeof(T));
    b_.remove_prefix(sizeof(T));
    return true;
  }
  bool str(std::string_view& s) {
    uint32_t n;
    if (!get(n) || b_.size() < n) return false;
    s = b_.substr(0, n);
    b_.remove_prefix(n);
    return true;
  }

 private:
  std::string_view b_;
};

}  // namespace

std::unique_ptr<Shape> makeSegmentShape(std::string dir, uint64_t segmentBytes, bool recycle) {
  return std::make_unique<SegmentShape>(std::move(dir), segmentBytes, recycle);
}

// The same work as sqliteRecover: verify every record, count what is pending, read the
// first due deliveries. Acks and retries of deliveries in files still present are kept
// in memory (none in a backlog that was never consumed).
RecoveryResult segmentRecover(const std::string& dir) {
  RecoveryResult r;
  struct Ref {
    uint32_t seg, off, idx;
    bool operator==(const Ref&) const = default;
  };
  struct RefHash {
    size_t operator()(const Ref& x) const {
      return (uint64_t(x.seg) << 40 ^ uint64_t(x.off) << 8 ^ x.idx) * 0x9E3779B97F4A7C15ull;
    }
  };
  std::map<uint64_t, uint64_t> live;  // segment → deliveries written
  std::unordered_set<Ref, RefHash> done;
  std::unordered_map<Ref, std::pair<uint32_t, int64_t>, RefHash> retried;
  uint64_t written = 0;
  std::vector<std::pair<uint64_t, std::string>> files;
  for (const auto& f : filesIn(dir)) {
    std::string_view name = std::string_view(f).substr(f.rfind('/') + 1);
    if (name.size() != 20 || !name.ends_with(".seg")) continue;  // spares, strays
    files.push_back({std::strtoull(name.data(), nullptr, 10), f});
  }
  for (const auto& [id, path] : files) {
    RecordReader reader(path, id);
    uint8_t type;
    std::string_view body;
    uint64_t offset;
    while (reader.next(type, body, offset)) {
      BodyReader b(body);
      if (type == kEventRecord) {
        uint8_t version;
        int64_t accepted, revision;
        std::string_view payload, request;
        uint32_t count;
        if (!b.get(version) || !b.get(accepted) || !b.get(revision) || !b.str(payload) ||
            !b.str(request) || !b.get(count)) {
          ++r.badRecords;
          continue;
        }
        live[id] += count;
        written += count;
      } else if (type == kDoneRecord || type == kRetryRecord) {
        uint32_t n;
        if (!b.get(n)) {
          ++r.badRecords;
          continue;
        }
        for (uint32_t i = 0; i < n; ++i) {
          Ref ref;
          if (!b.get(ref.seg) || !b.get(ref.off) || !b.get(ref.idx)) break;
          if (type == kDoneRecord) {
            done.insert(ref);
            retried.erase(ref);
          } else {
            uint32_t attempts;
            int64_t due;
            std::string_view error;
            if (!b.get(attempts) || !b.get(due) || !b.str(error)) break;
            retried[ref] = {attempts, due};
          }
        }
      } else {
        ++r.badRecords;
      }
    }
    if (reader.bad()) ++r.badRecords;
    r.bytesScanned += reader.bytes();
  }
  // Marks for files already deleted refer to nothing: count only those that hit.
  uint64_t doneHits = 0;
  for (const Ref& ref : done) doneHits += live.count(ref.seg);
  r.pending = written - doneHits;

  // The cursor's first batch: the oldest not-done deliveries, decoded in full.
  std::vector<LoadedDelivery> batch;
  for (const auto& [id, path] : files) {
    if (batch.size() >= 100) break;
    RecordReader reader(path, id);
    uint8_t type;
    std::string_view body;
    uint64_t offset;
    while (batch.size() < 100 && reader.next(type, body, offset)) {
      if (type != kEventRecord) continue;
      BodyReader b(body);
      uint8_t version;
      int64_t accepted, revision;
      std::string_view payload, request, space, sub, fn, et, error;
      uint32_t count;
      if (!b.get(version) || !b.get(accepted) || !b.get(revision) || !b.str(payload) ||
          !b.str(request) || !b.get(count)) {
        continue;
      }
      for (uint32_t i = 0; i < count && batch.size() < 100; ++i) {
        LoadedDelivery d;
        if (!b.str(space) || !b.str(sub) || !b.str(fn) || !b.str(et) || !b.get(d.flags) ||
            !b.get(d.attempts) || !b.get(d.dueAtMs) || !b.str(error)) {
          break;
        }
        Ref ref{uint32_t(id), uint32_t(offset), i};
        if (done.count(ref)) continue;
        if (auto it = retried.find(ref); it != retried.end()) {
          d.attempts = it->second.first;
          d.dueAtMs = it->second.second;
        }
        d.index = i;
        d.payload = payload;
        d.space = space;
        d.subscriptionId = sub;
        d.functionId = fn;
        d.eventType = et;
        d.lastError = error;
        d.acceptedAtMs = accepted;
        batch.push_back(std::move(d));
      }
    }
  }
  r.firstBatch = batch.size();
  return r;
}

}  // namespace queue_shapes
