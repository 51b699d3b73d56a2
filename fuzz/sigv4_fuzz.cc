// SigV4 canonicalisation (providers/aws/sigv4). Input, line by line: method, target
// ("/path?query"), header lines "name: value" up to an empty line, then the payload.
// Header names and values are kept only when the HTTP client would send them (tokens,
// no CR/LF/NUL), as the signer only ever sees those. Checks:
// - canonical URI: absolute, every byte unreserved, '/' or an upper-case %XX escape,
//   no empty, "." or ".." segments but a trailing slash;
// - canonical query: the same alphabet, parameters sorted, and canonicalising it again
//   changes nothing;
// - canonical request: those two, then "name:value" lines with lower-case names in
//   strictly increasing order and trimmed, single-spaced values, then the signed names,
//   then the payload's hash, or the x-amz-content-sha256 value as signed above;
//   sign() names the same headers in Authorization.

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "common/http_syntax.h"
#include "byte_reader.h"
#include "providers/aws/sigv4.h"

namespace {

namespace sigv4 = eg::providers::sigv4;

void check(bool ok) {
  if (!ok) std::abort();
}

bool isHexUpper(char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); }

bool isUnreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         c == '-' || c == '.' || c == '_' || c == '~';
}

// Every byte unreserved, one of `also`, or part of an upper-case %XX escape.
bool isEncoded(std::string_view s, std::string_view also) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (isUnreserved(s[i]) || also.find(s[i]) != std::string_view::npos) continue;
    if (s[i] != '%' || i + 2 >= s.size() || !isHexUpper(s[i + 1]) || !isHexUpper(s[i + 2])) {
      return false;
    }
    i += 2;
  }
  return true;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  for (;;) {
    const std::size_t at = s.find(sep);
    parts.push_back(s.substr(0, at));
    if (at == std::string_view::npos) return parts;
    s.remove_prefix(at + 1);
  }
}

void checkUri(std::string_view uri) {
  check(!uri.empty() && uri.front() == '/' && isEncoded(uri, "/"));
  const auto segments = split(uri.substr(1), '/');
  for (std::size_t i = 0; i < segments.size(); ++i) {
    check(segments[i] != "." && segments[i] != "..");
    check(!segments[i].empty() || i + 1 == segments.size());
  }
}

void checkQuery(std::string_view query) {
  if (query.empty()) return;
  std::string_view previous;
  for (const std::string_view param : split(query, '&')) {
    const std::size_t eq = param.find('=');
    check(eq != std::string_view::npos && eq > 0);
    check(isEncoded(param.substr(0, eq), "") && isEncoded(param.substr(eq + 1), ""));
    // Sorted by name, then by value: '=' sorts below every byte of the alphabet.
    const std::string_view name = param.substr(0, eq);
    const std::string_view prevName = previous.substr(0, previous.find('='));
    check(previous.empty() || prevName < name ||
          (prevName == name && previous.substr(prevName.size()) <= param.substr(eq)));
    previous = param;
  }
  check(sigv4::canonicalQuery(query) == query);
}

bool isTrimmedValue(std::string_view v) {
  if (!v.empty() && (v.front() == ' ' || v.back() == ' ')) return false;
  if (v.find("  ") != std::string_view::npos) return false;
  return v.find_first_of("\t\r\n\v\f") == std::string_view::npos;
}

bool isContentShaName(std::string_view name) {
  constexpr std::string_view kName = "x-amz-content-sha256";
  return name.size() == kName.size() &&
         std::equal(name.begin(), name.end(), kName.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == b;
         });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  eg::fuzz::ByteReader in(data, size);
  sigv4::SigningRequest request;
  request.method = in.line();
  request.target = in.line();
  for (std::string_view line = in.line(); !line.empty(); line = in.line()) {
    const std::size_t colon = line.find(':');
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = colon == std::string_view::npos ? "" : line.substr(colon + 1);
    if (eg::isHttpToken(name) && eg::isHttpFieldValue(value)) {
      request.headers.emplace_back(name, value);
    }
  }
  request.payload = in.rest();
  request.region = "us-east-1";
  request.service = "lambda";

  const std::size_t q = request.target.find('?');
  const std::string_view path = request.target.substr(0, q);
  const std::string_view query =
      q == std::string_view::npos ? std::string_view() : request.target.substr(q + 1);
  const std::string uri = sigv4::canonicalUri(path);
  checkUri(uri);
  const std::string canonicalQuery = sigv4::canonicalQuery(query);
  checkQuery(canonicalQuery);

  const std::string canonical = sigv4::canonicalRequest(request);
  const auto lines = split(canonical, '\n');
  check(lines.size() >= 6);
  check(lines[0] == request.method);
  check(lines[1] == uri && lines[2] == canonicalQuery);
  std::size_t i = 3;
  std::string names;
  std::string_view previous;
  std::string_view contentSha;  // the value of x-amz-content-sha256 as signed
  for (; i < lines.size() && !lines[i].empty(); ++i) {
    const std::size_t colon = lines[i].find(':');
    check(colon != std::string_view::npos);
    const std::string_view name = lines[i].substr(0, colon);
    check(eg::isHttpToken(name) && (previous.empty() || previous < name));
    for (char c : name) check(!(c >= 'A' && c <= 'Z'));
    check(isTrimmedValue(lines[i].substr(colon + 1)));
    if (name == "x-amz-content-sha256") contentSha = lines[i].substr(colon + 1);
    if (!names.empty()) names += ';';
    names += name;
    previous = name;
  }
  check(i + 3 == lines.size() && lines[i + 1] == names);
  // The payload's hash, or the x-amz-content-sha256 the request sends (once) instead.
  const auto shaHeaders = std::count_if(request.headers.begin(), request.headers.end(),
                                        [](const auto& h) { return isContentShaName(h.first); });
  if (shaHeaders == 0) check(lines[i + 2] == sigv4::sha256Hex(request.payload));
  if (shaHeaders == 1) check(lines[i + 2] == contentSha);

  const eg::providers::AwsCredentials credentials{"AKIDEXAMPLE", "secret", ""};
  const auto signedHeaders =
      sigv4::sign(request, credentials, std::chrono::system_clock::time_point());
  const std::string_view auth = signedHeaders.authorization;
  const std::size_t at = auth.find("SignedHeaders=");
  check(at != std::string_view::npos);
  const std::string_view listed = auth.substr(at + 14, auth.find(',', at) - at - 14);
  check(listed == signedHeaders.signedHeaderNames);
  check(auth.size() - auth.rfind("Signature=") == 10 + 64);
  return 0;
}
