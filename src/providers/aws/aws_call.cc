#include "providers/aws/aws_call.h"

#include <boost/json.hpp>

#include "common/json.h"
#include "providers/retry_after.h"

namespace eg::providers {

namespace json = boost::json;

namespace {

constexpr std::size_t kMaxDetail = 1000;
constexpr std::size_t kMaxServiceMessage = 400;

void replaceAll(std::string& text, std::string_view what, std::string_view with) {
  if (what.empty()) return;
  for (std::size_t at = text.find(what); at != std::string::npos;
       at = text.find(what, at + with.size())) {
    text.replace(at, what.size(), with);
  }
}

std::string xmlUnescape(std::string_view text) {
  std::string out(text);
  replaceAll(out, "&lt;", "<");
  replaceAll(out, "&gt;", ">");
  replaceAll(out, "&quot;", "\"");
  replaceAll(out, "&apos;", "'");
  replaceAll(out, "&amp;", "&");
  return out;
}

// The text of the first <tag>…</tag> in `xml`, or "".
std::string xmlElement(std::string_view xml, std::string_view tag) {
  const std::string open = "<" + std::string(tag) + ">";
  const std::string close = "</" + std::string(tag) + ">";
  const std::size_t start = xml.find(open);
  if (start == std::string_view::npos) return {};
  const std::size_t from = start + open.size();
  const std::size_t end = xml.find(close, from);
  if (end == std::string_view::npos) return {};
  return xmlUnescape(xml.substr(from, end - from));
}

std::string jsonString(const json::object& object, std::initializer_list<std::string_view> keys) {
  for (const std::string_view key : keys) {
    if (const json::value* v = object.if_contains(key); v != nullptr && v->is_string()) {
      return std::string(v->get_string());
    }
  }
  return {};
}

bool isOneOf(std::string_view code, std::initializer_list<std::string_view> codes) {
  for (const std::string_view c : codes) {
    if (code == c) return true;
  }
  return false;
}

const char* permission(AwsService service) {
  switch (service) {
    case AwsService::kLambda: return "lambda:InvokeFunction";
    case AwsService::kKinesis: return "kinesis:PutRecord";
    case AwsService::kFirehose: return "firehose:PutRecord";
    case AwsService::kSqs: return "sqs:SendMessage";
  }
  return "";
}

// A throttled call or a failure of the service (5xx, or 408: it timed out waiting for
// the request) may pass later; any other 4xx will not: the request, the credentials or
// the target are wrong. A stray 1xx/3xx is no refusal, so it stays retryable.
ErrorKind answerErrorKind(unsigned status, std::string_view code) {
  const bool clientError = status >= 400 && status < 500;
  if (!clientError || status == 408 || status == 429 || isAwsThrottlingCode(code)) {
    return ErrorKind::kUnavailable;
  }
  return ErrorKind::kRejected;
}

}  // namespace

AwsErrorInfo parseAwsError(const net::ClientResponse& response) {
  AwsErrorInfo info;
  // "AccessDeniedException:http://internal.amazon.com/coral/..." names the code first.
  const std::string_view typeHeader = response.header("x-amzn-ErrorType");
  if (!typeHeader.empty()) info.code = std::string(typeHeader.substr(0, typeHeader.find(':')));

  boost::system::error_code ec;
  const json::value body = parseValue(response.body, ec);
  if (!ec && body.is_object()) {
    const json::object& object = body.get_object();
    if (info.code.empty()) {
      std::string type = jsonString(object, {"__type", "code", "Code"});
      // "com.amazonaws.kinesis.v20131202#ResourceNotFoundException"
      if (const std::size_t hash = type.rfind('#'); hash != std::string::npos) {
        type.erase(0, hash + 1);
      }
      info.code = std::move(type);
    }
    info.message = jsonString(object, {"message", "Message", "errorMessage"});
  } else if (response.body.find("<Error>") != std::string::npos ||
             response.body.find("<Code>") != std::string::npos) {
    if (info.code.empty()) info.code = xmlElement(response.body, "Code");
    info.message = xmlElement(response.body, "Message");
  }
  return info;
}

bool isAwsThrottlingCode(std::string_view code) {
  return isOneOf(code, {"TooManyRequestsException", "ThrottlingException", "Throttling",
                        "ThrottledException", "ProvisionedThroughputExceededException",
                        "RequestLimitExceeded", "LimitExceededException", "RequestThrottled",
                        "SlowDown"});
}

std::string awsErrorHint(AwsService service, std::string_view code) {
  if (isOneOf(code, {"AccessDenied", "AccessDeniedException"})) {
    return std::string("the credentials are valid but not allowed to do this: grant ") +
           permission(service) + " on the target to the IAM user or role of the key";
  }
  if (isOneOf(code, {"UnrecognizedClientException", "InvalidClientTokenId",
                     "InvalidAccessKeyId", "MissingAuthenticationToken"})) {
    return "AWS does not know this access key or session token: check the function's "
           "awsAccessKeyId/awsSessionToken, or AWS_ACCESS_KEY_ID/AWS_SESSION_TOKEN and the "
           "shared credentials file of the gateway, and that the key is active";
  }
  if (isOneOf(code, {"InvalidSignatureException", "SignatureDoesNotMatch",
                     "IncompleteSignature"})) {
    return "the signature does not match: check the secret access key (awsSecretAccessKey "
           "or AWS_SECRET_ACCESS_KEY) and the function's region";
  }
  if (isOneOf(code, {"ExpiredToken", "ExpiredTokenException", "TokenRefreshRequired"})) {
    return "the session token has expired: renew the temporary credentials "
           "(awsSessionToken or AWS_SESSION_TOKEN) and update the function or the environment";
  }
  if (code == "RequestExpired") {
    return "AWS thinks the request is stale: check the gateway host's clock";
  }
  if (isAwsThrottlingCode(code)) {
    return "AWS throttled the call: lower the event rate, or raise the limit (Lambda "
           "concurrency, Kinesis shards, Firehose or SQS quotas)";
  }
  if (isOneOf(code, {"ResourceNotFoundException", "AWS.SimpleQueueService.NonExistentQueue",
                     "QueueDoesNotExist"})) {
    return std::string("the target does not exist in this region: check provider.") +
           awsTargetField(service) + " and provider.region";
  }
  return {};
}

AwsCaller::AwsCaller(net::HttpClient& client, AwsProviderConfig config, net::Url url, Clock clock)
    : client_(client),
      config_(std::move(config)),
      url_(std::move(url)),
      host_(url_.hostHeader()),
      clock_(clock ? std::move(clock) : Clock([] { return std::chrono::system_clock::now(); })) {}

Error AwsCaller::failure(std::string_view action, std::string detail,
                         const AwsCredentials* credentials, ErrorKind kind) const {
  // A service may echo what it received (a signature mismatch quotes the canonical
  // request, which holds the session token); nothing secret leaves this function.
  for (const AwsCredentials* c : {credentials, config_.credentials ? &*config_.credentials
                                                                   : nullptr}) {
    if (c == nullptr) continue;
    for (const std::string* secret : {&c->secretAccessKey, &c->sessionToken, &c->accessKeyId}) {
      if (secret->size() >= 4) replaceAll(detail, *secret, "***");
    }
  }
  if (detail.size() > kMaxDetail) {
    detail.resize(kMaxDetail);
    detail += "...";
  }
  std::string message = "function call failed: ";
  message += awsTypeName(config_.service);
  message += ' ';
  message += action;
  message += ": ";
  message += detail;
  return Error{kind, std::move(message)};
}

boost::asio::awaitable<Result<net::ClientResponse>> AwsCaller::post(std::string_view action,
                                                                    sigv4::Headers headers,
                                                                    std::string body) const {
  auto credentials = AwsCredentialChain::resolve(config_.credentials);
  if (!credentials) co_return failure(action, credentials.error().message, nullptr);

  sigv4::SigningRequest signing;
  signing.method = "POST";
  signing.target = url_.target;
  signing.headers = headers;
  signing.headers.emplace_back("Host", host_);
  signing.payload = body;
  signing.region = config_.region;
  signing.service = awsSigningName(config_.service);
  sigv4::SignedHeaders signedHeaders = sigv4::sign(signing, *credentials, clock_());

  net::ClientRequest request;
  request.method = net::http::verb::post;
  request.url = &url_;
  request.headers = std::move(headers);
  for (auto& header : signedHeaders.headers) request.headers.push_back(std::move(header));
  request.body = std::move(body);
  request.connectTimeout = config_.connectTimeout;
  request.responseTimeout = config_.timeout;

  auto response = co_await client_.send(std::move(request));
  if (!response) {
    const std::string where = url_.origin();
    if (response.error().kind == ErrorKind::kTimeout) {
      co_return failure(action, "timed out calling " + where + ": " + response.error().message,
                        &*credentials, ErrorKind::kTimeout);
    }
    co_return failure(action, "cannot call " + where + ": " + response.error().message,
                      &*credentials);
  }
  if (response->status < 200 || response->status >= 300) {
    AwsErrorInfo info = parseAwsError(*response);
    if (info.message.size() > kMaxServiceMessage) {
      info.message.resize(kMaxServiceMessage);
      info.message += "...";
    }
    std::string detail = "http " + std::to_string(response->status);
    if (!info.code.empty()) detail += " " + info.code;
    if (!info.message.empty()) detail += ": " + info.message;
    const std::string hint = awsErrorHint(config_.service, info.code);
    if (!hint.empty()) detail += " (" + hint + ")";
    Error error = failure(action, std::move(detail), &*credentials,
                          answerErrorKind(response->status, info.code));
    error.retryAfter = parseRetryAfter(response->header("Retry-After"), clock_());
    co_return error;
  }
  co_return std::move(response).value();
}

}  // namespace eg::providers
