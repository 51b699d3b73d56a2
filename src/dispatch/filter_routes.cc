// Filters on async subscriptions (spec §3.9): evaluated before anything is queued, so
// that a subscriber whose filters do not match takes no queue room and is never called.

#include <algorithm>

#include <spdlog/spdlog.h>

#include "common/json.h"
#include "dispatch/dispatcher.h"
#include "events/cloud_event_v1.h"

namespace eg::dispatch {

namespace json = boost::json;

std::span<const routing::Route> Dispatcher::matchFilters(
    std::span<const routing::Route> routes, const events::CloudEvent& event,
    std::string_view eventText, std::vector<routing::Route>& kept) {
  const auto filtered = [](const routing::Route& r) { return r.filter != nullptr; };
  // Most routes have no filters: one scan, and the event is left alone.
  if (std::none_of(routes.begin(), routes.end(), filtered)) return routes;

  // An http.request event exists only as its JSON text; filters need it whole.
  const events::CloudEvent* subject = &event;
  std::optional<events::CloudEvent> parsed;
  if (!eventText.empty()) {
    boost::system::error_code ec;
    json::value value = parseValue(eventText, ec);
    auto read = ec ? Result<events::CloudEvent>(Error::internal(ec.message()))
                   : events::fromStructuredJson(std::move(value));
    if (!read) {
      // The gateway wrote that text itself: a failure here is a bug, and delivering to
      // filtered subscribers unchecked would break their promise. Leave them out.
      spdlog::error("event of type {} cannot be read back for filters: {}", event.eventType,
                    read.error().message);
    } else {
      parsed = std::move(read).value();
      subject = &*parsed;
    }
  }
  const bool readable = eventText.empty() || parsed.has_value();
  // Routes are copied into `kept` only from the first one left out: when every filter
  // matches, the snapshot's span is the answer and nothing is allocated.
  bool copying = false;
  for (std::size_t i = 0; i < routes.size(); ++i) {
    const routing::Route& route = routes[i];
    const bool match =
        route.filter == nullptr || (readable && route.filter->matches(*subject));
    if (!match) {
      counter(filtered_, route.subscription->space, route.subscription->eventType).inc();
      if (!copying) {
        kept.assign(routes.begin(), routes.begin() + static_cast<std::ptrdiff_t>(i));
        copying = true;
      }
    } else if (copying) {
      kept.push_back(route);
    }
  }
  if (!copying) return routes;
  return kept;
}

}  // namespace eg::dispatch
