// The receives that found nothing, counted on a real keep-alive exchange between the
// gateway's server and client: what src/net/read_now.h saves (docs/benchmarks.md,
// "Syscalls per request"). Without it every read of both sides tries a receive that
// fails before it waits: about two per request. A Boost upgrade that loses the trick
// makes this test fail instead of quietly costing those syscalls again.
//
// The count comes from this executable's own recv/recvmsg/read, which take precedence
// over libc's for the calls of the code linked into it.

#include <dlfcn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include <gtest/gtest.h>

#include "net/http_client.h"
#include "net/http_server.h"
#include "net/io_pool.h"
#include "net/net_test_util.h"
#include "net/read_now.h"

namespace {

std::atomic<bool> gCounting{false};
std::atomic<uint64_t> gFailed{0};

bool isSocket(int fd) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

void note(ssize_t result, int fd) {
  if (result < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && gCounting.load()) {
    const int saved = errno;
    if (isSocket(fd)) gFailed.fetch_add(1);
    errno = saved;
  }
}

template <class F>
F real(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_NEXT, name));
}

}  // namespace

extern "C" ssize_t recv(int fd, void* buf, size_t n, int flags) {
  static const auto next = real<ssize_t (*)(int, void*, size_t, int)>("recv");
  const ssize_t r = next(fd, buf, n, flags);
  note(r, fd);
  return r;
}

extern "C" ssize_t recvmsg(int fd, msghdr* msg, int flags) {
  static const auto next = real<ssize_t (*)(int, msghdr*, int)>("recvmsg");
  const ssize_t r = next(fd, msg, flags);
  note(r, fd);
  return r;
}

extern "C" ssize_t read(int fd, void* buf, size_t n) {
  static const auto next = real<ssize_t (*)(int, void*, size_t)>("read");
  const ssize_t r = next(fd, buf, n);
  note(r, fd);
  return r;
}

namespace eg::net {
namespace {

using namespace testing;
namespace asio = boost::asio;
using namespace std::chrono_literals;

asio::awaitable<Response> answer(Request& req) {
  Response res{http::status::ok, req.version()};
  res.body() = "ok";
  res.prepare_payload();
  co_return res;
}

TEST(FailedReceivesTest, AKeepAliveExchangeTriesNoReceiveThatFails) {
  EXPECT_TRUE(kReadNowActive) << "this build reads as Asio does: see src/net/read_now.h";
  ServerSettings settings;
  settings.address = "127.0.0.1";
  IoPool pool(1);
  HttpServer server(pool, settings, answer);
  server.start();
  pool.start();
  const Url url = Url::parse("http://127.0.0.1:" + std::to_string(server.port()) + "/").value();

  // The client on a context like the gateway's I/O threads (one thread, no locking).
  asio::io_context ioc{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
  HttpClient client;
  constexpr int kRequests = 500;
  // `n` calls in a row on one kept-alive connection; how many were answered.
  auto calls = [&](int n) -> asio::awaitable<int> {
    int ok = 0;
    for (int i = 0; i < n; ++i) {
      ClientRequest req;
      req.url = &url;
      req.body = "x";
      auto res = co_await client.send(std::move(req));
      ok += res.ok() ? 1 : 0;
      if (i == 0) {  // connected, both sides past their first reads: count from here
        gFailed = 0;
        gCounting = true;
      }
    }
    gCounting = false;
    co_return ok;
  };
  ASSERT_EQ(runSync(ioc, calls(kRequests + 1)), kRequests + 1);

  server.stop();
  pool.stop();
  // Two reads a request (the server's of the request, the client's of the answer): with
  // the trick nearly none fails, without it nearly every one does.
  EXPECT_LT(gFailed.load(), kRequests / 10u)
      << gFailed.load() << " failed receives for " << kRequests << " requests";
}

}  // namespace
}  // namespace eg::net
