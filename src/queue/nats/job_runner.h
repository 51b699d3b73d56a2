#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace eg::queue::nats {

// A few threads of the queue's own for the NATS calls that wait for the server (an ack
// that waits for its confirmation, deleting a message), so that no caller's thread and
// no NATS library thread ever waits on the network.
//
// A job gets `hurry`: true once stop() began, when it must not wait on the network
// (fire and forget instead). Jobs posted after stop() run at once on the poster's thread,
// in a hurry. Thread-safe.
class JobRunner {
 public:
  using Job = std::function<void(bool hurry)>;

  explicit JobRunner(int threads);
  ~JobRunner();
  JobRunner(const JobRunner&) = delete;
  JobRunner& operator=(const JobRunner&) = delete;

  void post(Job job);
  // Runs what is queued (in a hurry) and joins the threads. Must not run on one of them.
  void stop();

 private:
  void run();

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Job> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace eg::queue::nats
