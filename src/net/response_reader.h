#pragma once

#include <cstdint>

#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/optional/optional.hpp>

#include "net/http_client.h"

namespace eg::net {

// The client's general response parser (for what parseSimpleResponse leaves to it):
// Beast's parser reading straight into a ClientResponse, the status, the headers into
// one buffer and the body, with none of the per-field allocations of a beast::http
// message. The caller sets its limits, eager and skip as for any Beast parser.
class ResponseReader final : public boost::beast::http::basic_parser<false> {
 public:
  explicit ResponseReader(ClientResponse& out) : out_(out) {}

 private:
  using string_view = boost::beast::string_view;
  using error_code = boost::system::error_code;

  void on_request_impl(http::verb, string_view, string_view, int, error_code&) override {}
  void on_response_impl(int code, string_view, int, error_code&) override {
    out_.status = static_cast<unsigned>(code);
  }
  void on_field_impl(http::field, string_view name, string_view value, error_code&) override {
    out_.addHeader(name, value);
  }
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& length, error_code&) override {
    // The parser has checked the length against body_limit.
    if (length) out_.body.reserve(static_cast<std::size_t>(*length));
  }
  std::size_t on_body_impl(string_view body, error_code&) override {
    out_.body.append(body.data(), body.size());
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, string_view body, error_code&) override {
    out_.body.append(body.data(), body.size());
    return body.size();
  }
  void on_finish_impl(error_code&) override {}

  ClientResponse& out_;
};

}  // namespace eg::net
