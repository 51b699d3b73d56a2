#include "common/json.h"

namespace eg {

Result<json::value> parseJson(std::string_view text) {
  boost::system::error_code ec;
  json::parse_options options;
  options.max_depth = 64;
  json::value v = json::parse(text, ec, {}, options);
  if (ec) {
    return Error::invalid("request body is not valid JSON: " + ec.message());
  }
  return v;
}

std::string errorBody(std::string_view message) {
  json::object error;
  error["message"] = message;
  json::array errors;
  errors.emplace_back(std::move(error));
  json::object body;
  body["errors"] = std::move(errors);
  return json::serialize(body);
}

}  // namespace eg
