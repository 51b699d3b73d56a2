// The HTTP server's request reading (net/read_request.h, what HttpServer runs on every
// connection). Input: byte 0 sets the head limit, byte 1 the body limit (small, so that
// inputs reach them), byte 2 how the rest is cut into the pieces that reads return
// (0: one piece); the rest is what a client sends, possibly several requests. Requests
// are read as the server reads them, one after another while they keep the connection.
// Checks on every request read:
// - its body is within the body limit, its head (up to the empty line) within the head
//   limit;
// - its fields are those of its head: nothing after the head (trailer fields) is taken
//   for a header, as RFC 9110 section 6.5.1 forbids;
// - a Transfer-Encoding it has is chunked (RFC 9112 section 6.1: anything else cannot
//   be framed and must be refused);
// and how the bytes are cut into reads changes nothing: the requests read are those of
// reading the input in one piece.

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "net/read_request.h"

namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using boost::system::error_code;
using eg::net::RequestParser;

void check(bool ok) {
  if (!ok) std::abort();
}

// A connection's reading side: each read returns at most the next piece, then EOF.
// Writes (100 Continue) are taken whole and dropped.
class PieceStream {
 public:
  using executor_type = asio::any_io_executor;

  PieceStream(executor_type ex, std::vector<std::string_view> pieces)
      : ex_(std::move(ex)), pieces_(std::move(pieces)) {}
  executor_type get_executor() const { return ex_; }
  std::size_t delivered() const { return delivered_; }

  template <class Buffers, class Token>
  auto async_read_some(const Buffers& buffers, Token&& token) {
    return asio::async_initiate<Token, void(error_code, std::size_t)>(
        [this](auto handler, const Buffers& buffers) {
          error_code ec;
          std::size_t n = 0;
          if (next_ == pieces_.size()) {
            ec = asio::error::eof;
          } else {
            n = asio::buffer_copy(buffers, asio::buffer(pieces_[next_]));
            pieces_[next_].remove_prefix(n);
            if (pieces_[next_].empty()) ++next_;
            delivered_ += n;
          }
          complete(std::move(handler), ec, n);
        },
        token, buffers);
  }

  template <class Buffers, class Token>
  auto async_write_some(const Buffers& buffers, Token&& token) {
    return asio::async_initiate<Token, void(error_code, std::size_t)>(
        [this](auto handler, const Buffers& buffers) {
          this->complete(std::move(handler), error_code(), asio::buffer_size(buffers));
        },
        token, buffers);
  }

 private:
  template <class Handler>
  void complete(Handler handler, error_code ec, std::size_t n) {
    auto ex = asio::get_associated_executor(handler, ex_);
    asio::post(ex, [h = std::move(handler), ec, n]() mutable { std::move(h)(ec, n); });
  }

  executor_type ex_;
  std::vector<std::string_view> pieces_;
  std::size_t next_ = 0;
  std::size_t delivered_ = 0;
};

std::vector<std::string_view> cut(std::string_view bytes, unsigned seed) {
  if (seed == 0) return {bytes};
  std::vector<std::string_view> pieces;
  std::uint32_t state = seed * 2654435761u;
  while (!bytes.empty()) {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    const std::size_t size = 1 + state % (seed < 64 ? 8 : 200);
    pieces.push_back(bytes.substr(0, size));
    bytes.remove_prefix(std::min(size, bytes.size()));
  }
  return pieces;
}

std::string describe(const eg::net::Request& req) {
  std::string out;
  out.append(req.method_string()).append(" ").append(req.target()).append(" ");
  out.append(std::to_string(req.version())).append("\n");
  for (const auto& field : req) {
    out.append(field.name_string()).append(": ").append(field.value()).append("\n");
  }
  return out.append("\n").append(req.body());
}

// The fields of a head read on its own, by Beast's own parser.
std::string fieldsOf(std::string_view head) {
  http::request_parser<http::string_body> alone;
  alone.eager(false);
  alone.header_limit(static_cast<std::uint32_t>(head.size()));
  error_code ec;
  alone.put(asio::buffer(head.data(), head.size()), ec);
  check(!ec && alone.is_header_done());
  std::string out;
  for (const auto& field : alone.get()) {
    out.append(field.name_string()).append(": ").append(field.value()).append("\n");
  }
  return out;
}

// The checks on a request that was read, whose bytes were `bytes`.
void checkRequest(const RequestParser& parser, std::string_view bytes,
                  const eg::net::ServerSettings& settings) {
  const eg::net::Request& req = parser.get();
  check(req.body().size() <= settings.bodyLimit);
  const std::size_t end = bytes.find("\r\n\r\n");
  check(end != std::string_view::npos);
  const std::string_view head = bytes.substr(0, end + 4);
  check(head.size() <= settings.headerLimit);
  std::string fields;
  for (const auto& field : req) {
    fields.append(field.name_string()).append(": ").append(field.value()).append("\n");
  }
  check(fields == fieldsOf(head));
  if (req.find(http::field::transfer_encoding) != req.end()) check(parser.chunked());
}

struct Outcome {
  std::vector<std::string> requests;
  error_code ec;  // what ended the connection, if not a request that closes it
};

constexpr std::size_t kFirstReadSize = 4096;  // as the server's

// The server's loop over a connection, as far as reading goes.
asio::awaitable<void> readAll(PieceStream& stream, std::string_view input,
                              const eg::net::ServerSettings& settings, Outcome& out) {
  boost::beast::flat_buffer buffer;
  std::optional<RequestParser> parser;
  std::size_t start = 0;
  for (;;) {
    if (buffer.size() == 0) {
      auto [ec, n] = co_await stream.async_read_some(buffer.prepare(kFirstReadSize),
                                                     asio::as_tuple(asio::use_awaitable));
      if (ec) {
        out.ec = ec;
        co_return;
      }
      buffer.commit(n);
    }
    out.ec = co_await eg::net::readRequest(stream, buffer, parser, settings);
    if (out.ec) co_return;
    const std::size_t end = stream.delivered() - buffer.size();
    checkRequest(*parser, input.substr(start, end - start), settings);
    out.requests.push_back(describe(parser->get()));
    start = end;
    if (!parser->get().keep_alive()) co_return;
  }
}

Outcome run(std::string_view input, unsigned seed, const eg::net::ServerSettings& settings) {
  asio::io_context ctx;
  PieceStream stream(ctx.get_executor(), cut(input, seed));
  Outcome out;
  asio::co_spawn(ctx, readAll(stream, input, settings, out), [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  });
  ctx.run();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  eg::net::ServerSettings settings;
  settings.headerLimit = 32 + std::size_t{data[0]} * 8;
  settings.bodyLimit = std::size_t{data[1]} * 4;
  const std::string_view input(reinterpret_cast<const char*>(data) + 3, size - 3);
  const Outcome pieces = run(input, data[2], settings);
  if (data[2] == 0) return 0;
  const Outcome whole = run(input, 0, settings);
  // The same requests; the errors may differ: Beast parses the fields of a head that
  // came in pieces only once all of it is there, so a malformed field in a head that is
  // too large, or cut short by the end of the input, may go unseen.
  check(pieces.requests == whole.requests && !pieces.ec == !whole.ec);
  return 0;
}
