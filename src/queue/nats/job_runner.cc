#include "queue/nats/job_runner.h"

#include <exception>

#include <spdlog/spdlog.h>

namespace eg::queue::nats {
namespace {

void runGuarded(const JobRunner::Job& job, bool hurry) {
  try {
    job(hurry);
  } catch (const std::exception& e) {
    spdlog::error("delivery queue (NATS): a background job threw: {}", e.what());
  } catch (...) {
    spdlog::error("delivery queue (NATS): a background job threw");
  }
}

}  // namespace

JobRunner::JobRunner(int threads) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
}

JobRunner::~JobRunner() { stop(); }

void JobRunner::post(Job job) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      jobs_.push_back(std::move(job));
      wake_.notify_one();
      return;
    }
  }
  runGuarded(job, true);
}

void JobRunner::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    wake_.notify_all();
  }
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void JobRunner::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
    if (jobs_.empty()) return;  // stopping, and nothing left
    Job job = std::move(jobs_.front());
    jobs_.pop_front();
    const bool hurry = stopping_;
    lock.unlock();
    runGuarded(job, hurry);
    lock.lock();
  }
}

}  // namespace eg::queue::nats
