#include "common/thread_policy.h"

#include <pthread.h>
#include <sched.h>

#include <string>

#include <spdlog/spdlog.h>

namespace eg {

void becomeBatchThread(const char* name) {
  pthread_setname_np(pthread_self(), std::string(name).substr(0, 15).c_str());
  sched_param param{};
  if (::sched_setscheduler(0, SCHED_BATCH, &param) != 0) {
    spdlog::debug("cannot give thread {} the batch scheduling policy", name);
  }
}

}  // namespace eg
