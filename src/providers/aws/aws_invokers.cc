#include "providers/aws/aws_invokers.h"

#include <boost/json.hpp>

#include "common/json.h"

namespace eg::providers {

namespace json = boost::json;

namespace {

constexpr std::size_t kMaxPartitionKey = 256;
constexpr std::size_t kMaxFunctionError = 600;
constexpr const char* kJsonContentType = "application/json";

std::string quoted(std::string_view text) { return json::serialize(json::string(text)); }

std::string textBetween(std::string_view xml, std::string_view tag) {
  const std::string open = "<" + std::string(tag) + ">";
  const std::string close = "</" + std::string(tag) + ">";
  const std::size_t start = xml.find(open);
  if (start == std::string_view::npos) return {};
  const std::size_t from = start + open.size();
  const std::size_t end = xml.find(close, from);
  return end == std::string_view::npos ? std::string() : std::string(xml.substr(from, end - from));
}

// The endpoint's path prefix (maybe "/") followed by `path`.
std::string underBase(std::string_view base, std::string_view path) {
  while (!base.empty() && base.back() == '/') base.remove_suffix(1);
  return std::string(base) + std::string(path);
}

}  // namespace

std::string partitionKeyOf(std::string_view payload) {
  boost::system::error_code ec;
  const json::value event = parseValue(payload, ec);
  std::string key;
  if (!ec && event.is_object()) {
    for (const char* name : {"eventID", "id"}) {
      const json::value* v = event.get_object().if_contains(name);
      if (v != nullptr && v->is_string() && !v->get_string().empty()) {
        key = std::string(v->get_string());
        break;
      }
    }
  }
  if (key.empty()) return sigv4::sha256Hex(payload);
  if (key.size() > kMaxPartitionKey) {
    std::size_t cut = kMaxPartitionKey;
    // Do not split a UTF-8 sequence: back up over continuation bytes.
    while (cut > 0 && (static_cast<unsigned char>(key[cut]) & 0xC0) == 0x80) --cut;
    key.resize(cut);
  }
  return key;
}

LambdaInvoker::LambdaInvoker(AwsCaller caller) : caller_(std::move(caller)) {}

boost::asio::awaitable<Result<CallResult>> LambdaInvoker::call(std::string_view payload,
                                                         CallContext) const {
  // Built outside co_await: GCC 12 mishandles braced lists inside coroutine calls.
  sigv4::Headers headers;
  headers.emplace_back("Content-Type", kJsonContentType);
  headers.emplace_back("X-Amz-Invocation-Type", "RequestResponse");
  auto response = co_await caller_.post("Invoke", std::move(headers), std::string(payload));
  if (!response) co_return std::move(response).error();
  if (const std::string_view kind = response->header("X-Amz-Function-Error"); !kind.empty()) {
    std::string detail = response->body;
    if (detail.size() > kMaxFunctionError) {
      detail.resize(kMaxFunctionError);
      detail += "...";
    }
    co_return caller_.failure("Invoke", "function error (" + std::string(kind) + "): " + detail,
                              nullptr);
  }
  CallResult result;
  result.contentType = std::string(response->header("Content-Type"));
  if (result.contentType.empty()) result.contentType = kJsonContentType;
  result.body = std::move(response->body);
  co_return result;
}

StreamInvoker::StreamInvoker(AwsCaller caller)
    : caller_(std::move(caller)), streamJson_(quoted(caller_.config().target)) {}

boost::asio::awaitable<Result<CallResult>> StreamInvoker::call(std::string_view payload,
                                                         CallContext) const {
  const bool kinesis = caller_.config().service == AwsService::kKinesis;
  std::string body;
  const std::string data = base64Encode(payload);
  if (kinesis) {
    body = "{\"StreamName\":" + streamJson_ + ",\"Data\":\"" + data +
           "\",\"PartitionKey\":" + quoted(partitionKeyOf(payload)) + "}";
  } else {
    body = "{\"DeliveryStreamName\":" + streamJson_ + ",\"Record\":{\"Data\":\"" + data + "\"}}";
  }
  sigv4::Headers headers;
  headers.emplace_back("Content-Type", "application/x-amz-json-1.1");
  headers.emplace_back("X-Amz-Target",
                       kinesis ? "Kinesis_20131202.PutRecord" : "Firehose_20150804.PutRecord");
  auto response = co_await caller_.post("PutRecord", std::move(headers), std::move(body));
  if (!response) co_return std::move(response).error();
  CallResult result;
  result.contentType = kJsonContentType;
  result.body = std::move(response->body);
  co_return result;
}

SqsInvoker::SqsInvoker(AwsCaller caller) : caller_(std::move(caller)) {}

boost::asio::awaitable<Result<CallResult>> SqsInvoker::call(std::string_view payload,
                                                         CallContext) const {
  std::string body = "Action=SendMessage&MessageBody=" + sigv4::uriEncode(payload) +
                     "&Version=2012-11-05";
  sigv4::Headers headers;
  headers.emplace_back("Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
  auto response = co_await caller_.post("SendMessage", std::move(headers), std::move(body));
  if (!response) co_return std::move(response).error();

  CallResult result;
  result.contentType = kJsonContentType;
  // Some endpoints answer SQS's JSON protocol even to a query request: pass it on.
  boost::system::error_code ec;
  const json::value answer = parseValue(response->body, ec);
  if (!ec && answer.is_object() && answer.get_object().contains("MessageId")) {
    result.body = std::move(response->body);
    co_return result;
  }
  const std::string id = textBetween(response->body, "MessageId");
  if (id.empty()) {
    co_return caller_.failure("SendMessage", "the answer holds no MessageId", nullptr);
  }
  json::object out;
  out["MessageId"] = id;
  if (auto md5 = textBetween(response->body, "MD5OfMessageBody"); !md5.empty()) {
    out["MD5OfMessageBody"] = md5;
  }
  if (auto seq = textBetween(response->body, "SequenceNumber"); !seq.empty()) {
    out["SequenceNumber"] = seq;
  }
  result.body = json::serialize(out);
  co_return result;
}

std::unique_ptr<Invoker> makeAwsInvoker(net::HttpClient& client, AwsProviderConfig config,
                                        net::Url url) {
  switch (config.service) {
    case AwsService::kLambda: {
      url.target = underBase(url.target, "/2015-03-31/functions/" +
                                             sigv4::uriEncode(config.target) + "/invocations");
      return std::make_unique<LambdaInvoker>(AwsCaller(client, std::move(config), std::move(url)));
    }
    case AwsService::kKinesis:
    case AwsService::kFirehose:
      return std::make_unique<StreamInvoker>(AwsCaller(client, std::move(config), std::move(url)));
    case AwsService::kSqs:
      return std::make_unique<SqsInvoker>(AwsCaller(client, std::move(config), std::move(url)));
  }
  return nullptr;
}

}  // namespace eg::providers
