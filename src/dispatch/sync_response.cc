#include "dispatch/sync_response.h"

#include <cctype>
#include <optional>
#include <string_view>

#include <boost/json.hpp>

#include "common/http_syntax.h"
#include "common/json.h"

namespace eg::dispatch {

namespace json = boost::json;
namespace http = boost::beast::http;

namespace {

Error malformed() { return Error::invalid(std::string(kMalformedResponse)); }

bool startsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  }
  return true;
}

// The usual answer ({"statusCode":200,"body":"ok"} and the like) read without building
// a JSON document. Only the plainest form is taken: members statusCode (digits),
// body (a string) and headers (an object of strings), each at most once, strings
// of printable ASCII without escapes, nothing else. Anything else, valid or not, is
// left to the JSON parser (nullopt), so both read every input alike.
class PlainAnswer {
 public:
  explicit PlainAnswer(std::string_view s) : s_(s) {}

  std::optional<Result<FunctionResponse>> parse() {
    FunctionResponse out;
    bool status = false, headers = false, body = false;
    unsigned code = 200;
    skipWs();
    if (!eat('{')) return std::nullopt;
    skipWs();
    if (!eat('}')) {
      for (;;) {
        std::string_view key;
        if (!string(key)) return std::nullopt;
        skipWs();
        if (!eat(':')) return std::nullopt;
        skipWs();
        if (key == "statusCode" && !status) {
          if (!number(code)) return std::nullopt;
          status = true;
        } else if (key == "body" && !body) {
          std::string_view text;
          if (!string(text)) return std::nullopt;
          out.body.assign(text);
          body = true;
        } else if (key == "headers" && !headers) {
          if (!headerObject(out)) return std::nullopt;
          headers = true;
        } else {
          return std::nullopt;
        }
        skipWs();
        if (eat('}')) break;
        if (!eat(',')) return std::nullopt;
        skipWs();
      }
    }
    skipWs();
    if (at_ != s_.size()) return std::nullopt;
    // The checks of the general path, on the same values.
    if (code < 200 || code > 999) return Result<FunctionResponse>(malformed());
    for (const auto& [name, value] : out.headers) {
      if (!isHttpToken(name) || !isHttpFieldValue(value)) {
        return Result<FunctionResponse>(malformed());
      }
    }
    out.statusCode = code;
    return Result<FunctionResponse>(std::move(out));
  }

 private:
  void skipWs() {
    while (at_ < s_.size() &&
           (s_[at_] == ' ' || s_[at_] == '\t' || s_[at_] == '\n' || s_[at_] == '\r')) {
      ++at_;
    }
  }
  bool eat(char c) {
    if (at_ < s_.size() && s_[at_] == c) {
      ++at_;
      return true;
    }
    return false;
  }
  bool string(std::string_view& out) {
    if (!eat('"')) return false;
    // Up to the closing quote, with nothing a JSON string would have to escape.
    const std::size_t length = plainPrefix(s_.substr(at_));
    if (at_ + length == s_.size() || s_[at_ + length] != '"') return false;
    out = s_.substr(at_, length);
    at_ += length + 1;
    return true;
  }
  // 1 to 4 digits without a leading zero; larger and other numbers go the long way.
  bool number(unsigned& out) {
    const std::size_t start = at_;
    unsigned v = 0;
    while (at_ < s_.size() && s_[at_] >= '0' && s_[at_] <= '9' && at_ - start < 4) {
      v = v * 10 + static_cast<unsigned>(s_[at_] - '0');
      ++at_;
    }
    const std::size_t n = at_ - start;
    if (n == 0 || (n > 1 && s_[start] == '0')) return false;
    if (at_ < s_.size() && (s_[at_] == '.' || s_[at_] == 'e' || s_[at_] == 'E' ||
                            (s_[at_] >= '0' && s_[at_] <= '9'))) {
      return false;
    }
    out = v;
    return true;
  }
  bool headerObject(FunctionResponse& out) {
    if (!eat('{')) return false;
    skipWs();
    if (eat('}')) return true;
    for (;;) {
      std::string_view name, value;
      if (!string(name)) return false;
      skipWs();
      if (!eat(':')) return false;
      skipWs();
      if (!string(value)) return false;
      for (const auto& [seen, v] : out.headers) {
        if (seen == name) return false;  // which one wins is the JSON parser's call
      }
      out.headers.emplace_back(std::string(name), std::string(value));
      skipWs();
      if (eat('}')) return true;
      if (!eat(',')) return false;
      skipWs();
    }
  }

  std::string_view s_;
  std::size_t at_ = 0;
};

}  // namespace

Result<FunctionResponse> parseFunctionResponse(std::string_view result) {
  if (auto plain = PlainAnswer(result).parse()) return std::move(*plain);
  // The document lives only while it is read: parsed into a buffer on the stack by the
  // thread's parser (whose own stack is kept), it costs no allocation unless it is large.
  thread_local json::parser parser;
  unsigned char scratch[4096];
  json::monotonic_resource resource(scratch, sizeof scratch);
  parser.reset(&resource);
  boost::system::error_code ec;
  parser.write(result.data(), result.size(), ec);
  if (ec) {
    parser.reset();
    return malformed();
  }
  const json::value value = parser.release();

  FunctionResponse out;
  if (value.is_null()) return out;
  if (!value.is_object()) return malformed();
  const auto& object = value.get_object();

  if (const auto* status = object.if_contains("statusCode"); status && !status->is_null()) {
    int64_t code = 0;
    if (status->is_int64()) {
      code = status->get_int64();
    } else if (status->is_uint64()) {
      code = status->get_uint64() > 1000 ? 1000 : static_cast<int64_t>(status->get_uint64());
    } else {
      return malformed();
    }
    // An informational status cannot be a final answer.
    if (code < 200 || code > 999) return malformed();
    out.statusCode = static_cast<unsigned>(code);
  }

  if (const auto* headers = object.if_contains("headers"); headers && !headers->is_null()) {
    if (!headers->is_object()) return malformed();
    for (const auto& [name, v] : headers->get_object()) {
      if (v.is_null()) continue;
      if (!v.is_string()) return malformed();
      const auto& s = v.get_string();
      if (!isHttpToken(name) || !isHttpFieldValue(s)) return malformed();
      out.headers.emplace_back(std::string(name), std::string(s));
    }
  }

  if (const auto* body = object.if_contains("body"); body && !body->is_null()) {
    if (!body->is_string()) return malformed();
    out.body = std::string(body->get_string());
  }
  return out;
}

std::string_view sniffContentType(std::string_view body) {
  std::string_view s = body.substr(0, 512);
  std::size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' ||
                          s[i] == '\f')) {
    ++i;
  }
  const auto rest = s.substr(i);
  // Every signature starts with '<': most bodies are told apart by their first byte.
  if (!rest.empty() && rest.front() == '<') {
    for (std::string_view tag : {"<!doctype html", "<html", "<head", "<body", "<script",
                                 "<title", "<div", "<p", "<table", "<br", "<iframe", "<h1",
                                 "<a", "<style", "<b", "<font", "<!--"}) {
      if (startsWithNoCase(rest, tag) && rest.size() > tag.size() &&
          (rest[tag.size()] == ' ' || rest[tag.size()] == '>')) {
        return "text/html; charset=utf-8";
      }
    }
    if (startsWithNoCase(rest, "<?xml")) return "text/xml; charset=utf-8";
  }
  for (unsigned char c : s) {
    // Bytes Go's sniffer reads as binary data.
    if (c <= 0x08 || c == 0x0B || (c >= 0x0E && c <= 0x1A) || (c >= 0x1C && c <= 0x1F)) {
      return "application/octet-stream";
    }
  }
  return "text/plain; charset=utf-8";
}

void writeFunctionResponse(FunctionResponse parsed, net::Response& response) {
  response.result(parsed.statusCode);
  bool hasContentType = false;
  for (auto& [name, value] : parsed.headers) {
    if (isFramingHeader(name)) continue;
    if (http::string_to_field(name) == http::field::content_type) hasContentType = true;
    response.set(name, value);
  }
  if (parsed.statusCode == 204 || parsed.statusCode == 304) {
    // These statuses carry no body.
    parsed.body.clear();
  }
  if (!hasContentType && !parsed.body.empty()) {
    response.set(http::field::content_type, sniffContentType(parsed.body));
  }
  response.body() = std::move(parsed.body);
  // Framing (Content-Length, Connection) is the server's: it writes it with the head.
}

}  // namespace eg::dispatch
