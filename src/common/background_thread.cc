#include "common/background_thread.h"

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <utility>

#include <spdlog/spdlog.h>

namespace eg {

BackgroundThread::BackgroundThread(std::string name, int niceness) : work_(ioc_.get_executor()) {
  thread_ = std::thread([this, name = std::move(name), niceness] {
    pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
    // SCHED_IDLE: a thread of the normal policy that wakes preempts this one at once,
    // whatever this one's slice; the nice value is its share if the policy is refused.
    if (::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), niceness) != 0) {
      spdlog::debug("cannot lower the priority of thread {}", name);
    }
    sched_param param{};
    if (::sched_setscheduler(0, SCHED_IDLE, &param) != 0) {
      spdlog::debug("cannot give thread {} the idle scheduling policy", name);
    }
    ioc_.run();
  });
}

BackgroundThread::~BackgroundThread() {
  work_.reset();
  if (thread_.joinable()) thread_.join();
}

}  // namespace eg
