#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>

#include "common/result.h"
#include "net/http_client.h"
#include "providers/aws/aws_config.h"
#include "providers/aws/sigv4.h"

namespace eg::providers {

// An AWS service error as the services report it: the error code (from the
// x-amzn-ErrorType header, a JSON `__type`/`code`, or an XML <Code>) and its message.
struct AwsErrorInfo {
  std::string code;     // "AccessDeniedException"; empty when the answer names none
  std::string message;  // may be empty
};
AwsErrorInfo parseAwsError(const net::ClientResponse& response);

// Whether `code` is one of the services' throttling error codes
// ("ThrottlingException", "ProvisionedThroughputExceededException", ...).
bool isAwsThrottlingCode(std::string_view code);

// What the user should change for a well-known error code, or "" (e.g. for
// AccessDeniedException: which IAM permission `service` needs).
std::string awsErrorHint(AwsService service, std::string_view code);

// One signed call to an AWS service, shared by the AWS invokers. Resolves credentials
// at call time (AwsCredentialChain), signs with SigV4 for the config's service and
// region, sends over the pooled client, and turns every failure into an Error whose
// message starts "function call failed: <type> <Action>: " and never holds a key, a
// secret or a token: kTimeout for a deadline; for a non-2xx answer (quoting the
// service's code, message and a hint) kRejected if it is a 4xx other than 408, 429 or
// a throttling code, else kUnavailable, with the answer's Retry-After; kUnavailable for
// missing credentials and transport errors. Immutable; `client` must outlive it.
class AwsCaller {
 public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;

  AwsCaller(net::HttpClient& client, AwsProviderConfig config, net::Url url, Clock clock = {});

  // POSTs `body` to url() with `headers` (signed, with Host). A 2xx answer is returned
  // for the caller to read.
  boost::asio::awaitable<Result<net::ClientResponse>> post(std::string_view action,
                                                           sigv4::Headers headers,
                                                           std::string body) const;

  const AwsProviderConfig& config() const { return config_; }
  const net::Url& url() const { return url_; }
  // "function call failed: awslambda Invoke: " + detail, with secrets scrubbed.
  Error failure(std::string_view action, std::string detail, const AwsCredentials* credentials,
                ErrorKind kind = ErrorKind::kUnavailable) const;

 private:
  net::HttpClient& client_;
  AwsProviderConfig config_;
  net::Url url_;
  std::string host_;
  Clock clock_;
};

}  // namespace eg::providers
