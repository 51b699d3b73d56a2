#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/base64.h"
#include "providers/aws/aws_call.h"
#include "providers/provider.h"

// The AWS invokers: each sends the CloudEvent with one service API call over the
// pooled client, signed by AwsCaller. Immutable and thread-safe.
namespace eg::providers {

// awslambda: Invoke (POST /2015-03-31/functions/<arn>/invocations, RequestResponse)
// with the event as the payload. The result is the function's answer. An answer with
// X-Amz-Function-Error is a failed call quoting the function's error (kUnavailable:
// async deliveries retry it).
class LambdaInvoker final : public Invoker {
 public:
  explicit LambdaInvoker(AwsCaller caller);
  using Invoker::call;
  boost::asio::awaitable<Result<CallResult>> call(std::string_view payload,
                                                  CallContext context) const override;

 private:
  AwsCaller caller_;
};

// awskinesis PutRecord (partition key: the event's ID) and awsfirehose PutRecord,
// both JSON 1.1 with X-Amz-Target and the event base64-encoded as Data. The result is
// the service's JSON answer ({"SequenceNumber","ShardId"} / {"RecordId",...}).
class StreamInvoker final : public Invoker {
 public:
  explicit StreamInvoker(AwsCaller caller);
  using Invoker::call;
  boost::asio::awaitable<Result<CallResult>> call(std::string_view payload,
                                                  CallContext context) const override;

 private:
  AwsCaller caller_;
  std::string streamJson_;  // the serialized stream name
};

// awssqs SendMessage (the query protocol, POSTed to the queue URL) with the event as
// MessageBody. The result is the answer as JSON: {"MessageId","MD5OfMessageBody"} (and
// "SequenceNumber" for FIFO queues).
class SqsInvoker final : public Invoker {
 public:
  explicit SqsInvoker(AwsCaller caller);
  using Invoker::call;
  boost::asio::awaitable<Result<CallResult>> call(std::string_view payload,
                                                  CallContext context) const override;

 private:
  AwsCaller caller_;
};

// The invoker for config.service, sending to `url` (from resolveAwsEndpoint).
std::unique_ptr<Invoker> makeAwsInvoker(net::HttpClient& client, AwsProviderConfig config,
                                        net::Url url);

// Helpers, exposed for tests.
using eg::base64Encode;
// The CloudEvent's ID ("eventID" in 0.1, "id" in 1.0), at most 256 bytes (Kinesis'
// limit, cut on a UTF-8 boundary); the payload's SHA-256 when it has none.
std::string partitionKeyOf(std::string_view payload);

}  // namespace eg::providers
