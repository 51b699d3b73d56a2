#pragma once

// Real etcd members (Debian's /usr/bin/etcd) on free loopback ports, data in a temporary
// directory, started and killed by the test process itself.

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/child_process.h"
#include "common/json.h"
#include "net/http_client.h"

namespace eg::store::testing {

inline constexpr const char* kEtcdBinary = "/usr/bin/etcd";

inline bool etcdInstalled() { return access(kEtcdBinary, X_OK) == 0; }

using eg::testing::freePort;

// POSTs JSON to a plain-http etcd member; nullopt when it does not answer 200 in time.
inline std::optional<json::object> etcdPost(
    const std::string& endpoint, const std::string& path, const std::string& body,
    std::chrono::milliseconds timeout = std::chrono::milliseconds(1000)) {
  auto url = net::Url::parse("http://" + endpoint + path);
  if (!url) return std::nullopt;
  net::HttpClient client;
  boost::asio::io_context ioc;
  std::optional<Result<net::ClientResponse>> out;
  net::ClientRequest req;
  req.url = &*url;
  req.body = body;
  req.connectTimeout = timeout;
  req.responseTimeout = timeout;
  boost::asio::co_spawn(
      ioc, [&]() -> boost::asio::awaitable<void> { out.emplace(co_await client.send(req)); },
      [](std::exception_ptr) {});
  ioc.run_for(timeout + std::chrono::milliseconds(500));
  if (!out || !*out || (*out)->status != 200) return std::nullopt;
  auto parsed = parseJson((*out)->body);
  if (!parsed || !parsed->is_object()) return std::nullopt;
  return parsed->as_object();
}

struct EtcdTlsFiles {
  std::string serverCert, serverKey, ca;  // members require client certificates signed by ca
};

class EtcdCluster {
 public:
  explicit EtcdCluster(int members, std::optional<EtcdTlsFiles> tls = std::nullopt)
      : tls_(std::move(tls)) {
    std::string pattern = "/tmp/eg-etcd-test-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    std::set<uint16_t> used;
    auto port = [&] {
      for (;;) {
        uint16_t p = freePort();
        if (used.insert(p).second) return p;
      }
    };
    for (int i = 0; i < members; ++i) {
      Member m;
      m.name = "m" + std::to_string(i);
      m.clientPort = port();
      m.peerPort = port();
      members_.push_back(m);
    }
    for (const auto& m : members_) {
      if (!initialCluster_.empty()) initialCluster_ += ",";
      initialCluster_ += m.name + "=http://127.0.0.1:" + std::to_string(m.peerPort);
    }
    for (int i = 0; i < members; ++i) start(i);
    if (!tls_ && !waitHealthy()) {
      throw std::runtime_error("etcd cluster did not become healthy; logs in " + dir_);
    }
  }

  ~EtcdCluster() {
    for (size_t i = 0; i < members_.size(); ++i) stop(static_cast<int>(i));
    std::error_code ec;
    if (std::getenv("EG_KEEP_ETCD_LOGS") == nullptr) std::filesystem::remove_all(dir_, ec);
  }

  EtcdCluster(const EtcdCluster&) = delete;
  EtcdCluster& operator=(const EtcdCluster&) = delete;

  int size() const { return static_cast<int>(members_.size()); }
  std::string endpoint(int i) const {
    return "127.0.0.1:" + std::to_string(members_[i].clientPort);
  }
  std::vector<std::string> endpoints() const {
    std::vector<std::string> out;
    for (int i = 0; i < size(); ++i) out.push_back(endpoint(i));
    return out;
  }
  bool running(int i) const { return members_[i].pid > 0; }

  void start(int i) {
    Member& m = members_[i];
    if (m.pid > 0) return;
    const std::string scheme = tls_ ? "https://" : "http://";
    const std::string client = scheme + "127.0.0.1:" + std::to_string(m.clientPort);
    const std::string peer = "http://127.0.0.1:" + std::to_string(m.peerPort);
    std::vector<std::string> args = {kEtcdBinary,
                                     "--name",
                                     m.name,
                                     "--data-dir",
                                     dir_ + "/" + m.name,
                                     "--listen-client-urls",
                                     client,
                                     "--advertise-client-urls",
                                     client,
                                     "--listen-peer-urls",
                                     peer,
                                     "--initial-advertise-peer-urls",
                                     peer,
                                     "--initial-cluster",
                                     initialCluster_,
                                     "--initial-cluster-state",
                                     "new",
                                     "--initial-cluster-token",
                                     "eg-test-" + std::to_string(getpid()),
                                     "--heartbeat-interval",
                                     "50",
                                     "--election-timeout",
                                     "500",
                                     "--logger",
                                     "zap",
                                     "--log-level",
                                     "warn"};
    if (tls_) {
      for (std::string a :
           {"--cert-file", tls_->serverCert.c_str(), "--key-file", tls_->serverKey.c_str(),
            "--trusted-ca-file", tls_->ca.c_str(), "--client-cert-auth"}) {
        args.push_back(a);
      }
    }
    m.pid = eg::testing::spawnLogged(std::move(args), dir_ + "/" + m.name + ".log");
  }

  // Kills the member at once (as a crash or a lost machine would).
  void stop(int i) {
    Member& m = members_[i];
    eg::testing::stopChild(m.pid, SIGKILL);
    m.pid = -1;
  }

  // The member id a member reports for itself and the leader it knows (0: none).
  struct MemberStatus {
    std::string id;
    std::string leader;
  };
  std::optional<MemberStatus> status(int i) const {
    if (!running(i)) return std::nullopt;
    auto r = etcdPost(endpoint(i), "/v3/maintenance/status", "{}");
    if (!r) return std::nullopt;
    MemberStatus s;
    if (const auto* h = r->if_contains("header"); h && h->is_object()) {
      if (const auto* id = h->as_object().if_contains("member_id"); id && id->is_string()) {
        s.id = id->as_string();
      }
    }
    if (const auto* l = r->if_contains("leader"); l && l->is_string()) s.leader = l->as_string();
    return s;
  }

  // The index of the leader as every running member sees it, or -1.
  int leader() const {
    std::optional<std::string> agreed;
    std::vector<std::string> ids(members_.size());
    for (int i = 0; i < size(); ++i) {
      if (!running(i)) continue;
      auto s = status(i);
      if (!s || s->leader.empty() || s->leader == "0") return -1;
      if (agreed && *agreed != s->leader) return -1;
      agreed = s->leader;
      ids[i] = s->id;
    }
    if (!agreed) return -1;
    for (int i = 0; i < size(); ++i) {
      if (ids[i] == *agreed) return i;
    }
    return -1;
  }

  // Every running member answers and they agree on a running leader.
  bool waitHealthy(std::chrono::milliseconds limit = std::chrono::milliseconds(30'000)) const {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (leader() >= 0) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  const std::string& dir() const { return dir_; }

 private:
  struct Member {
    std::string name;
    uint16_t clientPort = 0;
    uint16_t peerPort = 0;
    pid_t pid = -1;
  };

  std::optional<EtcdTlsFiles> tls_;
  std::string dir_;
  std::string initialCluster_;
  std::vector<Member> members_;
};

}  // namespace eg::store::testing
