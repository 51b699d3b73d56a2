#include "queue/embedded/segment_log.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "queue/embedded/crc32c.h"

namespace eg::queue {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kMagic = "EGQLOG1\n";
constexpr std::size_t kReadChunk = 1 << 20;
constexpr std::string_view kNextTmp = "next.seg.tmp";
// Between two chunks of the next segment's zeros: the disk is the log's fsyncs' first.
constexpr auto kNextPause = std::chrono::milliseconds(1);
constexpr std::size_t kNextChunk = 256 << 10;
constexpr int kMaxIov = 512;  // frames (two iovecs each) per writev

static_assert(kMagic.size() == SegmentLog::kMagicBytes);

std::string segmentName(uint64_t number) {
  char name[32];
  std::snprintf(name, sizeof name, "%010llu.seg", static_cast<unsigned long long>(number));
  return name;
}

Error ioError(std::string_view what, const std::string& path) {
  return Error::unavailable(std::string(what) + " " + path + ": " + std::strerror(errno));
}

uint32_t load32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

void store32(char* p, uint32_t v) { std::memcpy(p, &v, 4); }

// Reads up to `n` bytes at `offset`; fewer only at the end of the file.
ssize_t readAt(int fd, char* out, std::size_t n, uint64_t offset) {
  std::size_t done = 0;
  while (done < n) {
    const ssize_t r = ::pread(fd, out + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (r == 0) break;
    done += static_cast<std::size_t>(r);
  }
  return static_cast<ssize_t>(done);
}

// Whether the bytes of the file from `offset` to `size` are all zeros (false when they
// cannot be read).
bool zerosFrom(int fd, uint64_t offset, uint64_t size) {
  std::string chunk(static_cast<std::size_t>(std::min<uint64_t>(size - offset, kReadChunk)), '\0');
  for (uint64_t at = offset; at < size; at += chunk.size()) {
    const std::size_t n = static_cast<std::size_t>(std::min<uint64_t>(size - at, chunk.size()));
    if (readAt(fd, chunk.data(), n, at) != static_cast<ssize_t>(n)) return false;
    if (std::any_of(chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(n),
                    [](char c) { return c != 0; })) {
      return false;
    }
  }
  return true;
}

Status syncDir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ioError("cannot open", dir);
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return ioError("cannot sync", dir);
  return {};
}

}  // namespace

SegmentLog::~SegmentLog() {
  {
    std::lock_guard lock(spareMu_);
    spareStop_ = true;
  }
  spareWake_.notify_all();
  if (spareThread_.joinable()) spareThread_.join();
  for (Segment& s : segments_) {
    if (s.fd >= 0) ::close(s.fd);
  }
  if (lockFd_ >= 0) ::close(lockFd_);  // releases the flock
}

Status SegmentLog::open(const std::string& dir, uint64_t segmentBytes, const Visitor& visit) {
  dir_ = dir;
  segmentBytes_ = std::max<uint64_t>(segmentBytes, 4096);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Error::unavailable("cannot create " + dir + ": " + ec.message());

  const std::string lockPath = dir + "/LOCK";
  lockFd_ = ::open(lockPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lockFd_ < 0) return ioError("cannot open", lockPath);
  if (::flock(lockFd_, LOCK_EX | LOCK_NB) != 0) {
    return Error::unavailable("the queue directory " + dir +
                              " is in use by another process (its LOCK is held)");
  }

  // A next segment being made when the process stopped is not known to be whole; one
  // that was made is an empty segment like any other.
  fs::remove(dir + "/" + std::string(kNextTmp), ec);
  ec.clear();

  std::vector<uint64_t> numbers;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() != 14 || !name.ends_with(".seg")) continue;
    try {
      numbers.push_back(std::stoull(name.substr(0, 10)));
    } catch (const std::exception&) {
      continue;
    }
  }
  if (ec) return Error::unavailable("cannot list " + dir + ": " + ec.message());
  std::sort(numbers.begin(), numbers.end());

  for (std::size_t i = 0; i < numbers.size(); ++i) {
    const std::string path = dir + "/" + segmentName(numbers[i]);
    Segment s;
    s.number = numbers[i];
    s.fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (s.fd < 0) return ioError("cannot open", path);
    const bool newest = i + 1 == numbers.size();
    if (auto st = scanSegment(s, newest, visit); !st) {
      ::close(s.fd);
      return st;
    }
    if (s.fd < 0) continue;  // set aside as unreadable
    segments_.push_back(s);
  }
  Status started;
  if (segments_.empty()) started = startSegment(numbers.empty() ? 1 : numbers.back() + 1);
  spareThread_ = std::thread([this] { prepareNext(); });
  return started;
}

Status SegmentLog::scanSegment(Segment& segment, bool newest, const Visitor& visit) {
  const std::string path = dir_ + "/" + segmentName(segment.number);
  struct stat st {};
  if (::fstat(segment.fd, &st) != 0) return ioError("cannot stat", path);
  const uint64_t size = static_cast<uint64_t>(st.st_size);

  char magic[kMagicBytes];
  const ssize_t got = readAt(segment.fd, magic, kMagicBytes, 0);
  if (got < 0) return ioError("cannot read", path);
  if (static_cast<std::size_t>(got) < kMagicBytes || std::string_view(magic, kMagicBytes) != kMagic) {
    if (newest && size <= kMagicBytes) {
      // Created but not yet stamped when the process stopped: start it again.
      if (::ftruncate(segment.fd, 0) != 0 || ::pwrite(segment.fd, kMagic.data(), kMagicBytes, 0) !=
                                                  static_cast<ssize_t>(kMagicBytes)) {
        return ioError("cannot write", path);
      }
      segment.bytes = kMagicBytes;
      return {};
    }
    spdlog::error("queue: {} is not a queue segment (bad magic); set aside as {}.corrupt, "
                  "its deliveries are lost", path, path);
    ::close(segment.fd);
    segment.fd = -1;
    std::error_code ec;
    fs::rename(path, path + ".corrupt", ec);
    return {};
  }

  std::string buffer;
  uint64_t bufferAt = kMagicBytes;  // file offset of buffer[0]
  uint64_t at = kMagicBytes;        // the frame being read
  const char* cutReason = nullptr;
  while (at < size) {
    // Keep the frame header and then its body in the buffer.
    auto ensure = [&](uint64_t need) -> bool {
      if (at + need > size) return false;
      if (at >= bufferAt && at + need <= bufferAt + buffer.size()) return true;
      // No more than the file holds: a short segment costs no chunk-sized buffer.
      const std::size_t want =
          static_cast<std::size_t>(std::min(std::max<uint64_t>(need, kReadChunk), size - at));
      buffer.resize(want);
      const ssize_t r = readAt(segment.fd, buffer.data(), want, at);
      if (r < 0) return false;
      buffer.resize(static_cast<std::size_t>(r));
      bufferAt = at;
      return buffer.size() >= need;
    };
    if (!ensure(kFrameHeader)) {
      cutReason = "a torn frame header";
      break;
    }
    const char* head = buffer.data() + (at - bufferAt);
    const uint32_t length = load32(head);
    const uint32_t crc = load32(head + 4);
    if (length == 0 && crc == 0) {
      // The zeros of a segment made ahead of need, when nothing but zeros follows. A
      // record after them (its page written before a crash, the one before it not) would
      // come back once new records fill the gap: anything but zeros is cut off.
      if (!zerosFrom(segment.fd, at, size)) cutReason = "bytes after a frame of zeros";
      break;
    }
    if (length == 0 || length > kMaxRecord) {
      cutReason = "an impossible record length";
      break;
    }
    if (!ensure(kFrameHeader + length)) {
      cutReason = "a torn record";
      break;
    }
    const std::string_view body(buffer.data() + (at - bufferAt) + kFrameHeader, length);
    if (crc32c(body) != crc) {
      cutReason = "a checksum mismatch";
      break;
    }
    visit(Position{segment.number, at}, body);
    at += kFrameHeader + length;
  }
  if (cutReason != nullptr) {
    spdlog::warn("queue: {}: {} at offset {}; cut off the {} byte(s) from there{}", path,
                 cutReason, at, size - at,
                 newest ? "" : " (not the newest segment: records there are lost)");
    if (::ftruncate(segment.fd, static_cast<off_t>(at)) != 0) return ioError("cannot truncate", path);
    if (::fdatasync(segment.fd) != 0) return ioError("cannot sync", path);
  }
  segment.bytes = at;
  return {};
}

Status SegmentLog::startSegment(uint64_t number) {
  const std::string path = dir_ + "/" + segmentName(number);
  Segment s;
  s.number = number;
  if (takeNext(number)) {
    // Made ahead, zeros and magic written and synced, its name synced: nothing to wait for.
    s.fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (s.fd >= 0) {
      s.bytes = kMagicBytes;
      segments_.push_back(s);
      return {};
    }
  }
  s.fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (s.fd < 0) return ioError("cannot create", path);
  if (::pwrite(s.fd, kMagic.data(), kMagicBytes, 0) != static_cast<ssize_t>(kMagicBytes) ||
      ::fdatasync(s.fd) != 0) {
    ::close(s.fd);
    return ioError("cannot write", path);
  }
  s.bytes = kMagicBytes;
  segments_.push_back(s);
  return syncDir(dir_);
}

Result<SegmentLog::Position> SegmentLog::append(std::string body) {
  if (body.empty() || body.size() > kMaxRecord) {
    return Error::internal("queue record of " + std::to_string(body.size()) + " bytes");
  }
  const uint64_t frame = kFrameHeader + body.size();
  Segment* current = &segments_.back();
  if (current->bytes + pendingBytes_ > kMagicBytes &&
      current->bytes + pendingBytes_ + frame > segmentBytes_) {
    // Written now; synced with the new one's records by the next sync().
    if (auto st = flush(); !st) return std::move(st).error();
    unsynced_.push_back(current->fd);
    if (auto st = startSegment(current->number + 1); !st) return std::move(st).error();
    current = &segments_.back();
  }
  const Position at{current->number, current->bytes + pendingBytes_};
  if ((at.offset + frame) * 2 > segmentBytes_) wantNext(current->number + 1);
  std::array<char, kFrameHeader> head;
  store32(head.data(), static_cast<uint32_t>(body.size()));
  store32(head.data() + 4, crc32c(body));
  pendingHeads_.push_back(head);
  pendingBodies_.push_back(std::move(body));
  pendingBytes_ += frame;
  return at;
}

Status SegmentLog::flush() {
  if (pendingBodies_.empty()) return {};
  Segment& s = segments_.back();
  std::size_t next = 0;
  while (next < pendingBodies_.size()) {
    iovec iov[2 * kMaxIov];
    int n = 0;
    uint64_t bytes = 0;
    for (; next < pendingBodies_.size() && n < 2 * kMaxIov; ++next) {
      iov[n++] = {pendingHeads_[next].data(), kFrameHeader};
      iov[n++] = {pendingBodies_[next].data(), pendingBodies_[next].size()};
      bytes += kFrameHeader + pendingBodies_[next].size();
    }
    // pwritev may write less than asked: finish what is left of this group.
    uint64_t written = 0;
    int first = 0;
    while (written < bytes) {
      const ssize_t w = ::pwritev(s.fd, iov + first, n - first, static_cast<off_t>(s.bytes));
      if (w < 0) {
        if (errno == EINTR) continue;
        return ioError("cannot write", dir_ + "/" + segmentName(s.number));
      }
      written += static_cast<uint64_t>(w);
      s.bytes += static_cast<uint64_t>(w);
      std::size_t left = static_cast<std::size_t>(w);
      while (first < n && left >= iov[first].iov_len) left -= iov[first++].iov_len;
      if (first < n) {
        iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
        iov[first].iov_len -= left;
      }
    }
  }
  pendingBodies_.clear();
  pendingHeads_.clear();
  pendingBytes_ = 0;
  return {};
}

Status SegmentLog::sync() {
  for (int fd : unsynced_) {
    if (::fdatasync(fd) != 0) return ioError("cannot sync a segment of", dir_);
  }
  unsynced_.clear();
  Segment& s = segments_.back();
  if (::fdatasync(s.fd) != 0) return ioError("cannot sync", dir_ + "/" + segmentName(s.number));
  return {};
}

const SegmentLog::Segment* SegmentLog::find(uint64_t number) const {
  for (const Segment& s : segments_) {
    if (s.number == number) return &s;
  }
  return nullptr;
}

Result<std::string> SegmentLog::read(Position at) const {
  const Segment* s = find(at.segment);
  if (s == nullptr || at.offset + kFrameHeader > s->bytes) {
    return Error::internal("queue record out of range");
  }
  char head[kFrameHeader];
  if (readAt(s->fd, head, kFrameHeader, at.offset) != static_cast<ssize_t>(kFrameHeader)) {
    return Error::unavailable("cannot read a queue record: " + std::string(std::strerror(errno)));
  }
  const uint32_t length = load32(head);
  if (length == 0 || at.offset + kFrameHeader + length > s->bytes) {
    return Error::internal("queue record out of range");
  }
  std::string body(length, '\0');
  if (readAt(s->fd, body.data(), length, at.offset + kFrameHeader) != static_cast<ssize_t>(length)) {
    return Error::unavailable("cannot read a queue record: " + std::string(std::strerror(errno)));
  }
  if (crc32c(body) != load32(head + 4)) return Error::internal("queue record checksum mismatch");
  return body;
}

std::optional<std::pair<SegmentLog::Position, std::string_view>> SegmentLog::Cursor::next(
    const SegmentLog& log) {
  for (;;) {
    const Segment* s = log.find(at_.segment);
    if (s == nullptr) {
      // Removed under the cursor: go on from the oldest segment after it.
      const Segment* after = nullptr;
      for (const Segment& c : log.segments_) {
        if (c.number > at_.segment) {
          after = &c;
          break;
        }
      }
      if (after == nullptr) return std::nullopt;
      seek(Position{after->number, kMagicBytes});
      continue;
    }
    if (at_.offset < kMagicBytes) at_.offset = kMagicBytes;
    if (at_.offset + kFrameHeader > s->bytes) {
      if (s == &log.segments_.back()) return std::nullopt;
      seek(Position{at_.segment + 1, kMagicBytes});
      // Segment numbers are consecutive but a set-aside one may be missing: find() above
      // then moves on.
      continue;
    }
    auto ensure = [&](uint64_t need) -> bool {
      if (bufferAt_.segment == at_.segment && at_.offset >= bufferAt_.offset &&
          at_.offset + need <= bufferAt_.offset + buffer_.size()) {
        return true;
      }
      const uint64_t want = std::min<uint64_t>(std::max<uint64_t>(need, kReadChunk),
                                               s->bytes - at_.offset);
      buffer_.resize(static_cast<std::size_t>(want));
      const ssize_t r = readAt(s->fd, buffer_.data(), buffer_.size(), at_.offset);
      if (r < 0) return false;
      buffer_.resize(static_cast<std::size_t>(r));
      bufferAt_ = at_;
      return buffer_.size() >= need;
    };
    if (!ensure(kFrameHeader)) return std::nullopt;
    const uint32_t length = load32(buffer_.data() + (at_.offset - bufferAt_.offset));
    if (length == 0 || at_.offset + kFrameHeader + length > s->bytes ||
        !ensure(kFrameHeader + length)) {
      return std::nullopt;  // written records are whole: only a failed read lands here
    }
    const Position here = at_;
    const std::string_view body(buffer_.data() + (at_.offset - bufferAt_.offset) + kFrameHeader,
                                length);
    at_.offset += kFrameHeader + length;
    return std::make_pair(here, body);
  }
}

SegmentLog::Position SegmentLog::begin() const {
  return Position{segments_.front().number, kMagicBytes};
}

SegmentLog::Position SegmentLog::end() const {
  return Position{segments_.back().number, segments_.back().bytes};
}

uint64_t SegmentLog::bytes() const {
  uint64_t total = 0;
  for (const Segment& s : segments_) total += s.bytes;
  return total + pendingBytes_;
}

void SegmentLog::wantNext(uint64_t number) {
  {
    std::lock_guard lock(spareMu_);
    if (next_ != Next::kNone) return;
    next_ = Next::kWanted;
    nextNumber_ = number;
  }
  spareWake_.notify_one();
}

bool SegmentLog::takeNext(uint64_t number) {
  std::lock_guard lock(spareMu_);
  const bool ready = next_ == Next::kReady && nextNumber_ == number;
  // Taken, or no longer wanted: one still being made is thrown away when it is done.
  next_ = Next::kNone;
  return ready;
}

// Makes segment `nextNumber_` ahead of need: next.seg.tmp filled with zeros, the magic
// written, synced chunk by chunk (dirty zeros left for later would be flushed by the
// log's next fsync, since a journal commit writes all the data it orders, and stall
// it), then named and the name synced.
void SegmentLog::prepareNext() {
  const std::string tmp = dir_ + "/" + std::string(kNextTmp);
  const std::string zeros(kNextChunk, '\0');
  std::unique_lock lock(spareMu_);
  for (;;) {
    spareWake_.wait(lock, [this] { return spareStop_ || next_ == Next::kWanted; });
    if (spareStop_) return;
    const uint64_t number = nextNumber_;
    lock.unlock();
    bool ok = false;
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
      ok = true;
      for (uint64_t at = 0; ok && at < segmentBytes_; at += zeros.size()) {
        const auto n = static_cast<std::size_t>(std::min<uint64_t>(zeros.size(), segmentBytes_ - at));
        ok = ::pwrite(fd, zeros.data(), n, static_cast<off_t>(at)) == static_cast<ssize_t>(n) &&
             ::sync_file_range(fd, static_cast<off_t>(at), static_cast<off_t>(n),
                               SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                                   SYNC_FILE_RANGE_WAIT_AFTER) == 0;
        std::unique_lock pause(spareMu_);
        if (spareWake_.wait_for(pause, kNextPause, [this] { return spareStop_; })) ok = false;
      }
      ok = ok && ::pwrite(fd, kMagic.data(), kMagicBytes, 0) == static_cast<ssize_t>(kMagicBytes) &&
           ::fdatasync(fd) == 0;
      ::close(fd);
    }
    lock.lock();
    std::error_code ec;
    // Named only while still wanted: once the log made that segment itself, it is its own.
    const bool wanted = ok && !spareStop_ && next_ == Next::kWanted && nextNumber_ == number;
    if (wanted) fs::rename(tmp, dir_ + "/" + segmentName(number), ec);
    if (!wanted || ec) fs::remove(tmp, ec);
    if (spareStop_) return;
    if (wanted && !ec && syncDir(dir_)) {
      next_ = Next::kReady;
    } else if (next_ == Next::kWanted) {
      // Not again at once (a full disk would spin): new segments grow meanwhile.
      spareWake_.wait_for(lock, std::chrono::seconds(1), [this] { return spareStop_; });
      next_ = Next::kNone;
    }
  }
}

Status SegmentLog::removeOldest() {
  if (segments_.size() < 2) return Error::internal("the newest segment is never removed");
  Segment s = segments_.front();
  const std::string path = dir_ + "/" + segmentName(s.number);
  std::erase(unsynced_, s.fd);  // nothing there is needed any more
  ::close(s.fd);
  segments_.pop_front();
  if (::unlink(path.c_str()) != 0) return ioError("cannot remove", path);
  return {};
}

}  // namespace eg::queue
