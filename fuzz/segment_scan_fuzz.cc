// The embedded queue's segment log (queue/embedded/segment_log.h) opening a segment of
// any bytes, as after a crash or a disk fault. The input is the segment file, after a
// segment's magic when its first byte is odd (so that most inputs reach the frames).
// Opening must not crash, and must:
//   - visit the records in file order, back to back from the magic, each one whole and
//     matching its checksum;
//   - stop only where the next frame is not a record (torn, impossible length, checksum
//     mismatch, a frame of zeros), and leave nothing after the last record but zeros (the
//     rest cut off, or the zeros of a segment made ahead);
//   - set aside (rename) only a file without the magic;
//   - leave a log that opens again to the same records, and that, after one more record
//     is appended, opens to those records and the new one, nothing else.
// The files live in a directory of this process, on /dev/shm when there is one (opening
// syncs), removed at exit.

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "queue/embedded/crc32c.h"
#include "queue/embedded/segment_log.h"

namespace {

namespace fs = std::filesystem;
using eg::queue::SegmentLog;
using Records = std::vector<std::pair<SegmentLog::Position, std::string>>;

constexpr uint64_t kSegmentBytes = 1 << 20;

void check(bool ok) {
  if (!ok) std::abort();
}

std::string readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

uint32_t load32(std::string_view bytes, uint64_t at) {
  uint32_t v = 0;
  std::memcpy(&v, bytes.data() + at, 4);
  return v;
}

// This process's directory, and what an empty log writes there: the name and the first
// bytes (the magic) of its first segment.
struct Scratch {
  fs::path dir;
  std::string segment;
  std::string magic;

  Scratch() {
    spdlog::set_level(spdlog::level::off);  // every cut is logged
    const fs::path base =
        fs::is_directory("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
    std::string name = (base / "fuzz_segment_scan.XXXXXX").string();
    check(::mkdtemp(name.data()) != nullptr);
    dir = name;
    {
      SegmentLog log;
      check(log.open(dir, kSegmentBytes, [](SegmentLog::Position, std::string_view) {}).ok());
    }
    for (const auto& entry : fs::directory_iterator(dir)) {
      if (entry.path().extension() == ".seg") segment = entry.path().filename();
    }
    magic = readFile(dir / segment);
    check(!segment.empty() && magic.size() == SegmentLog::kMagicBytes);
  }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

Records open(SegmentLog& log, const Scratch& s) {
  Records out;
  check(log.open(s.dir, kSegmentBytes, [&](SegmentLog::Position at, std::string_view body) {
    out.emplace_back(at, body);
  }).ok());
  return out;
}

// Whether a record starts at `at` of `file`: what the scan must not have cut.
bool recordAt(std::string_view file, uint64_t at) {
  if (at + SegmentLog::kFrameHeader > file.size()) return false;
  const uint32_t length = load32(file, at);
  if (length == 0 || length > SegmentLog::kMaxRecord) return false;
  if (at + SegmentLog::kFrameHeader + length > file.size()) return false;
  const std::string_view body = file.substr(at + SegmentLog::kFrameHeader, length);
  return eg::queue::crc32c(body) == load32(file, at + 4);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Scratch s;
  if (size == 0) return 0;
  std::vector<fs::path> left;  // by the input before
  for (const auto& entry : fs::directory_iterator(s.dir)) left.push_back(entry.path());
  for (const auto& path : left) fs::remove_all(path);
  const std::string file = (data[0] & 1 ? s.magic : std::string()) +
                           std::string(reinterpret_cast<const char*>(data) + 1, size - 1);
  {
    std::ofstream out(s.dir / s.segment, std::ios::binary);
    out << file;
  }
  const bool hasMagic = std::string_view(file).starts_with(s.magic);

  Records first;
  {
    SegmentLog log;
    first = open(log, s);
    if (!fs::exists(s.dir / s.segment)) {  // set aside
      check(!hasMagic && file.size() > SegmentLog::kMagicBytes && first.empty());
    } else {
      const uint64_t number = log.segments().front().number;
      uint64_t at = SegmentLog::kMagicBytes;
      for (const auto& [pos, body] : first) {
        check(pos.segment == number && pos.offset == at && recordAt(file, at));
        check(load32(file, at) == body.size() &&
              body == std::string_view(file).substr(at + SegmentLog::kFrameHeader, body.size()));
        at += SegmentLog::kFrameHeader + body.size();
      }
      check(log.end() == (SegmentLog::Position{number, at}));
      check(!recordAt(file, at));
      const std::string now = readFile(s.dir / s.segment);
      // What was kept is as it was (a file too short for the magic gets it afresh).
      check(now.size() >= at && now.substr(0, at) == (hasMagic ? file.substr(0, at) : s.magic));
      check(now.find_first_not_of('\0', at) == std::string::npos);
    }
  }
  SegmentLog::Position appended;
  {
    SegmentLog log;
    check(open(log, s) == first);
    auto at = log.append("appended after recovery");
    check(at.ok() && log.flush().ok());
    appended = *at;
  }
  {
    SegmentLog log;
    Records expected = first;
    expected.emplace_back(appended, "appended after recovery");
    check(open(log, s) == expected);
  }
  return 0;
}
