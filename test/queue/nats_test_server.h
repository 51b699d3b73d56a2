#pragma once

// Real nats-server processes (Debian's /usr/sbin/nats-server, or $NATS_SERVER_BINARY) for
// the NATS queue's tests: one server, or a JetStream cluster of several, on free loopback
// ports with their data in a temporary directory; started, killed and restarted (on the
// same ports and data) by the test process itself. Killed with the test process, however
// it ends (PR_SET_PDEATHSIG).

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nats/nats.h>

#include "common/child_process.h"

namespace eg::queue::natstest {

using namespace std::chrono_literals;

inline std::string natsServerBinary() {
  const char* env = std::getenv("NATS_SERVER_BINARY");
  if (env != nullptr && *env != '\0') return env;
  // Debian installs it in /usr/sbin.
  for (const char* path : {"/usr/sbin/nats-server", "/usr/bin/nats-server"}) {
    if (access(path, X_OK) == 0) return path;
  }
  return "/usr/sbin/nats-server";
}

inline bool natsServerInstalled() { return access(natsServerBinary().c_str(), X_OK) == 0; }

using eg::testing::freePort;

// PEM files for servers that take TLS connections only, from clients with a certificate
// signed by `ca` (which signed the servers' certificate too).
struct NatsTlsFiles {
  std::string ca, serverCert, serverKey, clientCert, clientKey;
};

// Whether the server at `hostPort` answers a JetStream request (in a cluster that needs a
// meta leader) within `timeout`.
inline bool jetStreamAnswers(const std::string& hostPort, std::chrono::milliseconds timeout,
                             const NatsTlsFiles* tls = nullptr) {
  natsOptions* opts = nullptr;
  if (natsOptions_Create(&opts) != NATS_OK) return false;
  const std::string url = "nats://" + hostPort;
  natsOptions_SetURL(opts, url.c_str());
  natsOptions_SetTimeout(opts, timeout.count());
  natsOptions_SetAllowReconnect(opts, false);
  if (tls != nullptr) {
    natsOptions_SetSecure(opts, true);
    natsOptions_LoadCATrustedCertificates(opts, tls->ca.c_str());
    natsOptions_LoadCertificatesChain(opts, tls->clientCert.c_str(), tls->clientKey.c_str());
  }
  natsConnection* nc = nullptr;
  bool ok = false;
  if (natsConnection_Connect(&nc, opts) == NATS_OK) {
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = timeout.count();
    jsCtx* js = nullptr;
    jsAccountInfo* info = nullptr;
    if (natsConnection_JetStream(&js, nc, &jo) == NATS_OK &&
        js_GetAccountInfo(&info, js, &jo, nullptr) == NATS_OK) {
      ok = true;
    }
    jsAccountInfo_Destroy(info);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
  }
  natsOptions_Destroy(opts);
  return ok;
}

class NatsServers {
 public:
  // `size` 1: one server; more: a JetStream cluster, every server a route to the others.
  explicit NatsServers(int size, std::optional<NatsTlsFiles> tls = std::nullopt)
      : tls_(std::move(tls)) {
    std::string pattern = (std::filesystem::temp_directory_path() / "eg-nats-test-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    // A port may be taken between choosing it and the server's bind: choose again.
    for (int attempt = 1;; ++attempt) {
      choosePorts(size);
      for (int i = 0; i < size; ++i) start(i);
      if (waitAllReady()) return;
      const bool portTaken = anyLogSays("address already in use");
      for (int i = 0; i < size; ++i) kill(i);
      if (!portTaken || attempt == 3) {
        std::string logs;
        for (int i = 0; i < size; ++i) logs += "--- " + name(i) + " ---\n" + this->logs(i);
        cleanUp();
        throw std::runtime_error("nats-server did not get ready:\n" + logs);
      }
      std::filesystem::remove_all(dir_ + "/data");
    }
  }

  ~NatsServers() { cleanUp(); }
  NatsServers(const NatsServers&) = delete;
  NatsServers& operator=(const NatsServers&) = delete;

  int size() const { return static_cast<int>(members_.size()); }
  std::string name(int i) const { return "n" + std::to_string(i); }
  int indexOf(const std::string& serverName) const {
    for (int i = 0; i < size(); ++i) {
      if (name(i) == serverName) return i;
    }
    return -1;
  }
  std::string server(int i) const { return "127.0.0.1:" + std::to_string(members_[i].port); }
  std::vector<std::string> servers() const {
    std::vector<std::string> out;
    for (int i = 0; i < size(); ++i) out.push_back(server(i));
    return out;
  }
  // Started and not exited (a server that could not start exits at once).
  bool running(int i) const {
    Member& m = members_[i];
    if (m.pid > 0 && waitpid(m.pid, nullptr, WNOHANG) == m.pid) m.pid = -1;
    return m.pid > 0;
  }

  // Starts server i on its ports and data directory (again, after kill).
  void start(int i) {
    Member& m = members_[i];
    if (running(i)) return;
    const std::string config = dir_ + "/" + name(i) + ".conf";
    const std::string log = dir_ + "/" + name(i) + ".log";
    writeConfig(i, config);
    m.pid = eg::testing::spawnLogged({natsServerBinary(), "-c", config}, log);
  }

  // Stops server i with `sig` (SIGKILL: a crash) and waits until it is gone.
  void kill(int i, int sig = SIGKILL) {
    Member& m = members_[i];
    if (!running(i)) return;
    eg::testing::stopChild(m.pid, sig);
    m.pid = -1;
  }

  // Freezes server i (SIGSTOP): connections stay open, nothing answers. thaw() resumes it.
  void freeze(int i) {
    if (!running(i)) return;
    ::kill(members_[i].pid, SIGSTOP);
    // The signal takes a moment to stop every thread: wait until the kernel says stopped.
    const std::string stat = "/proc/" + std::to_string(members_[i].pid) + "/stat";
    const auto deadline = std::chrono::steady_clock::now() + 2s;
    while (std::chrono::steady_clock::now() < deadline) {
      std::ifstream in(stat);
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      const auto close = text.rfind(')');  // "pid (comm) S ..."
      if (close != std::string::npos && close + 2 < text.size() && text[close + 2] == 'T') return;
      std::this_thread::sleep_for(1ms);
    }
  }
  void thaw(int i) {
    if (running(i)) ::kill(members_[i].pid, SIGCONT);
  }

  // Server i answers JetStream requests (a cluster: with a meta leader) within `limit`.
  bool waitReady(int i, std::chrono::milliseconds limit = 20s) const {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (!running(i)) return false;
      if (jetStreamAnswers(server(i), 500ms, tls_ ? &*tls_ : nullptr)) return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }

  bool waitAllReady(std::chrono::milliseconds limit = 30s) const {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (int i = 0; i < size(); ++i) {
      if (!running(i)) continue;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left <= 0ms || !waitReady(i, left)) return false;
    }
    return true;
  }

  std::string logs(int i) const {
    std::ifstream in(dir_ + "/" + name(i) + ".log");
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    return text.size() > 20000 ? text.substr(text.size() - 20000) : text;
  }

 private:
  struct Member {
    uint16_t port = 0;
    uint16_t clusterPort = 0;
    pid_t pid = -1;
  };

  void choosePorts(int size) {
    members_.assign(size, Member{});
    std::set<uint16_t> used;
    auto port = [&] {
      for (;;) {
        uint16_t p = freePort();
        if (used.insert(p).second) return p;
      }
    };
    for (auto& m : members_) {
      m.port = port();
      m.clusterPort = port();
    }
  }

  void writeConfig(int i, const std::string& path) const {
    std::ofstream out(path, std::ios::trunc);
    out << "server_name: \"" << name(i) << "\"\n"
        << "listen: \"127.0.0.1:" << members_[i].port << "\"\n"
        << "jetstream {\n  store_dir: \"" << dir_ << "/data/" << name(i) << "\"\n"
        << "  max_memory_store: 64MB\n  max_file_store: 1GB\n}\n";
    if (tls_) {
      out << "tls {\n  cert_file: \"" << tls_->serverCert << "\"\n  key_file: \""
          << tls_->serverKey << "\"\n  ca_file: \"" << tls_->ca << "\"\n  verify: true\n}\n";
    }
    if (size() > 1) {
      out << "cluster {\n  name: \"eg-test\"\n  listen: \"127.0.0.1:" << members_[i].clusterPort
          << "\"\n  routes: [";
      for (int j = 0; j < size(); ++j) {
        if (j == i) continue;
        out << (j == 0 || (i == 0 && j == 1) ? " " : ", ") << "\"nats://127.0.0.1:"
            << members_[j].clusterPort << "\"";
      }
      out << " ]\n}\n";
    }
  }

  bool anyLogSays(const std::string& text) const {
    for (int i = 0; i < size(); ++i) {
      if (logs(i).find(text) != std::string::npos) return true;
    }
    return false;
  }

  void cleanUp() {
    for (int i = 0; i < size(); ++i) kill(i);
    std::error_code ec;
    if (std::getenv("EG_KEEP_NATS_LOGS") == nullptr) std::filesystem::remove_all(dir_, ec);
  }

  std::optional<NatsTlsFiles> tls_;
  std::string dir_;
  mutable std::vector<Member> members_;  // running() reaps what exited
};

}  // namespace eg::queue::natstest
