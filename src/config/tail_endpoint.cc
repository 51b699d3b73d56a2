#include "config/tail_endpoint.h"

#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/json.h"

namespace eg::config {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;

void appendBatch(std::string& out, const observe::TailBatch& batch) {
  if (batch.skippedRate != 0 || batch.skippedSlow != 0) {
    out.append("event: skipped\ndata: {\"skipped\":")
        .append(std::to_string(batch.skippedRate + batch.skippedSlow))
        .append(",\"rate\":")
        .append(std::to_string(batch.skippedRate))
        .append(",\"slow\":")
        .append(std::to_string(batch.skippedSlow))
        .append("}\n\n");
  }
  for (const auto& sample : batch.samples) {
    out.append("id: ").append(std::to_string(sample.id));
    out.append("\nevent: ").append(observe::outcomeName(sample.outcome));
    out.append("\ndata: ").append(*sample.data).append("\n\n");
  }
}

}  // namespace

asio::awaitable<void> writeTail(std::shared_ptr<observe::TailSubscription> tail,
                                net::BodyWriter& out, TailStreamSettings settings) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  observe::TailBatch batch;
  std::string text;
  // The head and a first line at once: the client knows the tail is open.
  if (!co_await out.write(": tail open\n\n")) co_return;
  auto quietSince = std::chrono::steady_clock::now();
  for (;;) {
    tail->drain(batch);
    text.clear();
    appendBatch(text, batch);
    const auto now = std::chrono::steady_clock::now();
    if (!text.empty()) {
      if (!co_await out.write(text)) co_return;
      quietSince = now;
    } else if (now - quietSince >= settings.keepAlive) {
      if (!co_await out.write(": keep-alive\n\n")) co_return;
      quietSince = now;
    }
    if (batch.closed || out.peerClosed()) co_return;
    timer.expires_after(settings.poll);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

net::Reply tailReply(const net::Request& request, observe::TailHub& hub, std::string space,
                     const boost::urls::url_view& url, TailStreamSettings settings) {
  observe::TailFilter filter;
  for (const auto& param : url.params()) {
    if (!param.has_value) continue;
    if (param.key == "type" && filter.eventType.empty()) filter.eventType = param.value;
    if (param.key == "function" && filter.functionId.empty()) filter.functionId = param.value;
  }
  auto subscribed = hub.subscribe(std::move(space), std::move(filter));
  if (!subscribed) {
    net::Response res{http::status::service_unavailable, request.version()};
    res.keep_alive(request.keep_alive());
    res.set(http::field::content_type, "application/json");
    res.set(http::field::retry_after, "1");
    res.body() = errorBody(subscribed.error().message);
    res.prepare_payload();
    return res;
  }
  net::Response head{http::status::ok, request.version()};
  head.keep_alive(request.keep_alive());
  head.set(http::field::content_type, "text/event-stream");
  head.set(http::field::cache_control, "no-cache");
  // Proxies that buffer answers (nginx) pass this one on as it comes.
  head.set("X-Accel-Buffering", "no");
  std::shared_ptr<observe::TailSubscription> tail = std::move(subscribed).value();
  return net::Reply(std::move(head), [tail, settings](net::BodyWriter& out) {
    return writeTail(tail, out, settings);
  });
}

}  // namespace eg::config
