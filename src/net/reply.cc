#include "net/reply.h"

#include <string>

namespace eg::net {
namespace {

class StringWriter final : public BodyWriter {
 public:
  explicit StringWriter(std::string& out) : out_(out) {}
  boost::asio::awaitable<bool> write(std::string_view data) override {
    out_.append(data);
    co_return true;
  }

 private:
  std::string& out_;
};

}  // namespace

boost::asio::awaitable<Response> collect(Reply reply) {
  if (!reply.streamed()) co_return std::move(reply.response);
  Response res = std::move(reply.response);
  res.body().clear();
  StringWriter writer(res.body());
  co_await reply.body(writer);
  res.chunked(false);
  res.prepare_payload();
  co_return res;
}

}  // namespace eg::net
