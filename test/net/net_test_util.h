#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <future>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

namespace eg::net::testing {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

inline std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

inline int connectTo(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

struct RawResponse {
  int status = 0;
  std::string head;  // status line and headers, lower-cased
  std::string body;
  std::string header(std::string_view name) const {
    const std::string key = "\r\n" + lower(name) + ":";
    auto pos = head.find(key);
    if (pos == std::string::npos) return {};
    pos += key.size();
    auto end = head.find("\r\n", pos);
    std::string v = head.substr(pos, end - pos);
    while (!v.empty() && v.front() == ' ') v.erase(0, 1);
    return v;
  }
};

// A blocking client socket on 127.0.0.1 whose every wait is bounded (poll), so that a
// misbehaving server fails a test instead of hanging it.
class RawConn {
 public:
  struct Adopt {
    int fd;
  };
  explicit RawConn(uint16_t port) : fd_(connectTo(port)) {
    if (fd_ < 0) throw std::runtime_error("connect failed");
  }
  explicit RawConn(Adopt a) : fd_(a.fd) {}
  ~RawConn() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawConn(const RawConn&) = delete;
  RawConn& operator=(const RawConn&) = delete;

  bool send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // One response: head, then Content-Length bytes of body (none when `head` is true).
  std::optional<RawResponse> readResponse(std::chrono::milliseconds timeout = 5s,
                                          bool headOnly = false) {
    const auto deadline = Clock::now() + timeout;
    std::size_t end;
    while ((end = pending_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill(deadline)) return std::nullopt;
    }
    RawResponse r;
    r.head = lower(pending_.substr(0, end + 2));
    pending_.erase(0, end + 4);
    if (r.head.size() < 12) return std::nullopt;
    r.status = std::atoi(r.head.c_str() + 9);
    std::size_t length = 0;
    if (!headOnly && r.status >= 200 && r.status != 204 && r.status != 304) {
      length = static_cast<std::size_t>(std::atoll(r.header("content-length").c_str()));
    }
    while (pending_.size() < length) {
      if (!fill(deadline)) return std::nullopt;
    }
    r.body = pending_.substr(0, length);
    pending_.erase(0, length);
    return r;
  }

  // The chunks of a chunked body whose head readResponse read, up to and without the
  // last (empty) chunk; nullopt on close, timeout or a framing error. Chunk extensions
  // and trailers are not expected.
  std::optional<std::vector<std::string>> readChunks(std::chrono::milliseconds timeout = 5s) {
    const auto deadline = Clock::now() + timeout;
    std::vector<std::string> chunks;
    for (;;) {
      std::size_t eol;
      while ((eol = pending_.find("\r\n")) == std::string::npos) {
        if (!fill(deadline)) return std::nullopt;
      }
      char* end = nullptr;
      const unsigned long size = std::strtoul(pending_.c_str(), &end, 16);
      if (end != pending_.c_str() + eol) return std::nullopt;
      while (pending_.size() < eol + 2 + size + 2) {
        if (!fill(deadline)) return std::nullopt;
      }
      if (pending_.compare(eol + 2 + size, 2, "\r\n") != 0) return std::nullopt;
      std::string data = pending_.substr(eol + 2, size);
      pending_.erase(0, eol + 2 + size + 2);
      if (size == 0) return chunks;
      chunks.push_back(std::move(data));
    }
  }

  // Waits until some bytes beyond those already received arrive.
  bool readMore(std::chrono::milliseconds timeout = 5s) { return fill(Clock::now() + timeout); }

  // One request as raw text (head and Content-Length body); nullopt on close or timeout.
  std::optional<std::string> readRequest(std::chrono::milliseconds timeout = 5s) {
    const auto deadline = Clock::now() + timeout;
    std::size_t end;
    while ((end = pending_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill(deadline)) return std::nullopt;
    }
    RawResponse parsed;
    parsed.head = lower(pending_.substr(0, end + 2));
    const auto length =
        static_cast<std::size_t>(std::atoll(parsed.header("content-length").c_str()));
    while (pending_.size() < end + 4 + length) {
      if (!fill(deadline)) return std::nullopt;
    }
    std::string request = pending_.substr(0, end + 4 + length);
    pending_.erase(0, end + 4 + length);
    return request;
  }

  // True when the peer closes (EOF or reset) within `timeout`; received bytes are kept.
  bool waitClosed(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      int rc = ::poll(&p, 1, static_cast<int>(left.count()));
      if (rc <= 0) continue;
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return true;
      pending_.append(buf, static_cast<std::size_t>(n));
    }
  }

  const std::string& pending() const { return pending_; }
  int fd() const { return fd_; }

 private:
  bool fill(Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char buf[16384];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return false;
    pending_.append(buf, static_cast<std::size_t>(n));
    return true;
  }

  int fd_;
  std::string pending_;
};

// Polls `cond` until it holds or `timeout` passes.
inline bool eventually(const std::function<bool()>& cond, std::chrono::milliseconds timeout = 3s) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return cond();
}

// co_spawn needs a default-constructible result, which Result<T> is not.
template <class T>
boost::asio::awaitable<std::optional<T>> optionally(boost::asio::awaitable<T> task) {
  co_return co_await std::move(task);
}

// Runs a coroutine to completion on `ioc` in this thread, bounded.
template <class T>
T runSync(boost::asio::io_context& ioc, boost::asio::awaitable<T> task,
          std::chrono::seconds limit = 20s) {
  auto future = boost::asio::co_spawn(ioc, optionally(std::move(task)), boost::asio::use_future);
  ioc.restart();
  ioc.run_for(limit);
  if (future.wait_for(0s) != std::future_status::ready) throw std::runtime_error("task timed out");
  return std::move(*future.get());
}

// A temporary directory removed with the object.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "eg-net-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Writes a fresh self-signed P-256 certificate for "localhost" and its key as PEM.
inline void writeSelfSigned(const std::string& certFile, const std::string& keyFile) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  if (key == nullptr || cert == nullptr) throw std::runtime_error("openssl allocation failed");
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  if (X509_sign(cert, key, EVP_sha256()) == 0) throw std::runtime_error("X509_sign failed");
  FILE* f = std::fopen(certFile.c_str(), "w");
  PEM_write_X509(f, cert);
  std::fclose(f);
  f = std::fopen(keyFile.c_str(), "w");
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  X509_free(cert);
  EVP_PKEY_free(key);
}

// A listening socket on 127.0.0.1 whose connections are served one at a time by a
// script on a background thread; counts accepted connections. With accept=false
// nobody accepts: connections complete in the kernel backlog and are never answered.
class ScriptedServer {
 public:
  using Script = std::function<void(RawConn&, const std::atomic<bool>& stopping)>;

  explicit ScriptedServer(Script script, bool accept = true) : script_(std::move(script)) {
    listen_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(listen_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_, 16) != 0 ||
        ::getsockname(listen_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      throw std::runtime_error("scripted server: cannot listen");
    }
    port_ = ntohs(addr.sin_port);
    if (accept) thread_ = std::thread([this] { run(); });
  }
  ~ScriptedServer() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
    ::close(listen_);
  }
  ScriptedServer(const ScriptedServer&) = delete;
  ScriptedServer& operator=(const ScriptedServer&) = delete;

  uint16_t port() const { return port_; }
  int accepted() const { return accepted_.load(); }

 private:
  void run() {
    while (!stopping_) {
      pollfd p{listen_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      int fd = ::accept(listen_, nullptr, nullptr);
      if (fd < 0) continue;
      ++accepted_;
      RawConn conn(RawConn::Adopt{fd});
      script_(conn, stopping_);
    }
  }

  Script script_;
  int listen_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

}  // namespace eg::net::testing
