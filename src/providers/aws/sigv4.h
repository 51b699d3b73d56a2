#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "providers/aws/credentials.h"

// AWS Signature Version 4 for header-signed requests to every service but S3 (whose
// path encoding differs): the canonical request, the string to sign, the derived
// signing key, and the Authorization header.
// Reference: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
namespace eg::providers::sigv4 {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct SigningRequest {
  std::string_view method = "POST";
  // Path and query exactly as they go on the wire ("/a%20b?x=1"). Each path segment
  // is URI-encoded once more for the canonical URI (as every service but S3 expects),
  // and dot segments and repeated slashes are normalised.
  std::string_view target = "/";
  // The headers to sign, including Host exactly as sent. Names are case-insensitive;
  // repeated names are joined with ','. Authorization, Connection, User-Agent, Expect
  // and X-Amzn-Trace-Id are never signed (proxies change them).
  Headers headers;
  std::string_view payload;
  std::string_view region;
  std::string_view service;
  // Adds (and signs) x-amz-content-sha256; S3 needs it, other services accept it.
  bool contentSha256Header = false;
};

// The headers to add to the request: X-Amz-Date, X-Amz-Security-Token when the
// credentials carry a token, X-Amz-Content-Sha256 when asked for, and Authorization.
struct SignedHeaders {
  Headers headers;
  std::string authorization;  // also in `headers`, for convenience
  std::string signedHeaderNames;  // "host;x-amz-date"
};

// Thread-safe; signing keys are cached per (secret, date, region, service).
SignedHeaders sign(const SigningRequest& request, const AwsCredentials& credentials,
                   std::chrono::system_clock::time_point now);

// The steps, exposed so that each can be checked against published vectors. `amzDate`
// is "YYYYMMDDTHHMMSSZ"; the x-amz-* headers the signer adds must already be in
// `request.headers` for canonicalRequest.
std::string amzDate(std::chrono::system_clock::time_point now);
std::string canonicalUri(std::string_view path);
std::string canonicalQuery(std::string_view query);
std::string canonicalRequest(const SigningRequest& request);
std::string stringToSign(std::string_view amzDate, std::string_view region,
                         std::string_view service, std::string_view canonicalRequest);
// The 32-byte key for (secret, date "YYYYMMDD", region, service), cached.
std::string signingKey(std::string_view secret, std::string_view date, std::string_view region,
                       std::string_view service);

std::string sha256Hex(std::string_view data);
std::string hmacSha256(std::string_view key, std::string_view data);  // raw 32 bytes
std::string hex(std::string_view bytes);
// Every byte but A-Z a-z 0-9 - . _ ~ as %XX (upper-case hex).
std::string uriEncode(std::string_view text);

}  // namespace eg::providers::sigv4
