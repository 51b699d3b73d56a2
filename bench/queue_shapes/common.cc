// The shared helpers of common.h: errors, the CRC self-test, /proc counters, files, the
// sync probe and the workload's events.
#include "common.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace queue_shapes {

void die(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::fputs("queue_shapes: ", stderr);
  std::vfprintf(stderr, fmt, ap);
  std::fputc('\n', stderr);
  va_end(ap);
  std::_Exit(1);
}

void crcSelfTest() {
  // The standard check value of "123456789", and chaining.
  if (crc32c(0, "123456789", 9) != 0xE3069283u || crc32c(crc32c(0, "1234", 4), "56789", 5) != 0xE3069283u) {
    die("CRC32C self-test failed");
  }
}

// ---- process counters -----------------------------------------------------------------

ProcStatus procStatus() {
  ProcStatus s;
  FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return s;
  char line[256];
  while (std::fgets(line, sizeof line, f)) {
    long kb = 0;
    if (std::sscanf(line, "VmRSS: %ld kB", &kb) == 1) s.rssMiB = kb / 1024.0;
    if (std::sscanf(line, "VmHWM: %ld kB", &kb) == 1) s.hwmMiB = kb / 1024.0;
  }
  std::fclose(f);
  return s;
}

ProcIo procIo() {
  ProcIo io;
  FILE* f = std::fopen("/proc/self/io", "r");
  if (!f) return io;
  char key[64];
  unsigned long long v;
  while (std::fscanf(f, "%63[^:]: %llu\n", key, &v) == 2) {
    std::string_view k(key);
    if (k == "wchar") io.wchar = v;
    if (k == "syscw") io.syscw = v;
    if (k == "read_bytes") io.readBytes = v;
    if (k == "write_bytes") io.writeBytes = v;
    if (k == "cancelled_write_bytes") io.cancelledWriteBytes = v;
  }
  std::fclose(f);
  return io;
}

double processCpuSeconds() {
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec / 1e6;
}

double threadCpuSeconds(pthread_t thread) {
  clockid_t id;
  timespec ts{};
  if (pthread_getcpuclockid(thread, &id) != 0 || clock_gettime(id, &ts) != 0) return 0;
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

std::vector<std::string> filesIn(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') out.push_back(dir + "/" + e->d_name);
    }
    closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

uint64_t diskBytesOf(const std::string& dir) {
  uint64_t n = 0;
  for (const auto& f : filesIn(dir)) {
    struct stat st;
    if (stat(f.c_str(), &st) == 0) n += uint64_t(st.st_blocks) * 512;
  }
  return n;
}

// Makes the page cache forget the files of `dir`, so that a recovery reads them from the
// disk. Only our own files, no root needed (unlike drop_caches).
void evictFromPageCache(const std::string& dir) {
  for (const auto& f : filesIn(dir)) {
    int fd = open(f.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    fdatasync(fd);  // DONTNEED leaves dirty pages alone
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    close(fd);
  }
}

void writeAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      die("write: %s", std::strerror(errno));
    }
    p += w;
    n -= size_t(w);
  }
}

// ---- measuring the disk ---------------------------------------------------------------------

SyncProbe::SyncProbe(const std::string& dir) : path_(dir + "/probe"), block_(kBytes, 'p') {
  fd_ = open(path_.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  if (fd_ < 0) die("open %s: %s", path_.c_str(), std::strerror(errno));
  if (pwrite(fd_, block_.data(), kBytes, 0) != ssize_t(kBytes) || fsync(fd_) != 0) {
    die("probe: %s", std::strerror(errno));
  }
}

SyncProbe::~SyncProbe() {
  close(fd_);
  unlink(path_.c_str());
}

double SyncProbe::syncMs() {
  auto start = Clock::now();
  if (pwrite(fd_, block_.data(), kBytes, 0) != ssize_t(kBytes) || fdatasync(fd_) != 0) {
    die("probe: %s", std::strerror(errno));
  }
  return seconds(Clock::now() - start) * 1000;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// ---- the workload ------------------------------------------------------------------------

const std::vector<TargetSpec>& allTargets() {
  static const std::vector<TargetSpec> targets = [] {
    std::vector<TargetSpec> v;
    for (int i = 0; i < kMaxTargets; ++i) {
      char fn[40];
      std::snprintf(fn, sizeof fn, "user-created-handler-%02d", i);
      v.push_back({"default", std::string("user.created,") + fn + ",%2Fmyteam%2Fusers,POST,async",
                   fn, "user.created"});
    }
    return v;
  }();
  return targets;
}

std::string makePayload(uint64_t seq, int64_t ms) {
  time_t secs = ms / 1000;
  tm t;
  gmtime_r(&secs, &t);
  char buf[640];
  int n = std::snprintf(
      buf, sizeof buf,
      "{\"eventType\":\"user.created\",\"eventTypeVersion\":\"1.0\","
      "\"cloudEventsVersion\":\"0.1\",\"source\":\"/myteam/users\","
      "\"eventID\":\"%08llx-%04llx-4%03llx-a%03llx-%012llx\","
      "\"eventTime\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\","
      "\"extensions\":{\"eventgateway\":{\"transformed\":\"true\","
      "\"transformationVersion\":\"0.1\"}},\"contentType\":\"application/json\","
      "\"data\":{\"id\":%llu,\"name\":\"Max Mustermann\",\"email\":\"max@example.com\","
      "\"plan\":\"team\",\"signupSource\":\"web\"}}",
      (unsigned long long)(seq * 2654435761u) & 0xffffffffu, (unsigned long long)(seq >> 7) & 0xffff,
      (unsigned long long)seq & 0xfff, (unsigned long long)(seq >> 12) & 0xfff,
      (unsigned long long)seq * 11400714819323198485ull & 0xffffffffffffull, t.tm_year + 1900,
      t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, int(ms % 1000),
      (unsigned long long)seq);
  return std::string(buf, size_t(n));
}

}  // namespace queue_shapes
