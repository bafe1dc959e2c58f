#include "api/events.hpp"

#include "core/errors.hpp"

namespace muster::hub {

void open_job_events(EventStreams& streams, const std::string& token_id, const std::string& job_id,
                     Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) {
  const std::string last_id = request.get("Last-Event-ID", "0");
  const auto after = parse_stream_id(last_id);
  if (!after || !streams.accepts_position(job_id, *after)) {
    throw ApiError(400, "invalid_field", "Last-Event-ID must be the id of an event of this stream");
  }
  auto* buffered = dynamic_cast<BufferedResponse*>(&response);
  if (buffered == nullptr) throw ApiError(500, "internal", "event streams need the api's connection loop");
  if (!streams.reserve(token_id)) {
    throw ApiError(429, "too_many_streams", "this token has as many event streams open as it may");
  }
  buffered->start_stream(StreamWish{job_id, token_id, after->text()});
}

}  // namespace muster::hub
