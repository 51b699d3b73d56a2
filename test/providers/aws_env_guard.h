#pragma once

#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace eg::providers::testing {

// Clears the AWS credential and endpoint variables for a test and restores them after,
// so that tests see exactly the environment they set.
class AwsEnvGuard {
 public:
  AwsEnvGuard() {
    for (const char* name : kNames) {
      const char* v = std::getenv(name);
      saved_.emplace_back(name, v == nullptr ? std::nullopt : std::optional<std::string>(v));
      ::unsetenv(name);
    }
    // No shared credentials file unless a test names one.
    ::setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/eg-test/credentials", 1);
  }
  ~AwsEnvGuard() {
    for (const auto& [name, value] : saved_) {
      if (value) {
        ::setenv(name, value->c_str(), 1);
      } else {
        ::unsetenv(name);
      }
    }
  }
  void set(const char* name, const std::string& value) { ::setenv(name, value.c_str(), 1); }

 private:
  static constexpr const char* kNames[] = {
      "AWS_ACCESS_KEY_ID",        "AWS_SECRET_ACCESS_KEY",    "AWS_SESSION_TOKEN",
      "AWS_SHARED_CREDENTIALS_FILE", "AWS_PROFILE",           "AWS_ENDPOINT_URL",
      "AWS_ENDPOINT_URL_LAMBDA",  "AWS_ENDPOINT_URL_KINESIS", "AWS_ENDPOINT_URL_FIREHOSE",
      "AWS_ENDPOINT_URL_SQS"};
  std::vector<std::pair<const char*, std::optional<std::string>>> saved_;
};

}  // namespace eg::providers::testing
