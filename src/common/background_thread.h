#pragma once

#include <string>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

namespace eg {

// A thread of its own running an io_context at a lower CPU priority than the I/O threads
// (a higher nice value), for bulk work that must give way to serving requests: where it
// shares a core with them, they preempt it. Raising a thread's nice value needs no
// privilege. The destructor completes the work queued, then joins.
class BackgroundThread {
 public:
  explicit BackgroundThread(std::string name, int niceness = 10);
  ~BackgroundThread();
  BackgroundThread(const BackgroundThread&) = delete;
  BackgroundThread& operator=(const BackgroundThread&) = delete;

  boost::asio::io_context& context() { return ioc_; }

 private:
  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
};

}  // namespace eg
