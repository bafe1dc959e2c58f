#include "api/events.hpp"

#include "core/errors.hpp"

namespace muster::hub {
namespace {
// Streams end with their jobs; a client told to wait finds a place soon after.
constexpr int kRetryStreamS = 5;
}  // namespace

void open_job_events(EventStreams& streams, const Principal& principal, const std::string& job_id,
                     Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) {
  const std::string last_id = request.get("Last-Event-ID", "0");
  const auto after = parse_stream_id(last_id);
  if (!after || !streams.accepts_position(job_id, *after)) {
    throw ApiError(400, "invalid_field", "Last-Event-ID must be the id of an event of this stream");
  }
  auto* buffered = dynamic_cast<BufferedResponse*>(&response);
  if (buffered == nullptr) throw ApiError(500, "internal", "event streams need the api's connection loop");
  const StreamHolder holder{principal.token_id, principal.tenant};
  switch (streams.reserve(holder, principal.quotas.streams)) {
    case StreamReservation::granted: break;
    case StreamReservation::token_full:
      throw ApiError(429, "too_many_streams", "this token has as many event streams open as it may", kRetryStreamS);
    case StreamReservation::tenant_full:
      throw ApiError(429, "too_many_streams", "the tenant has as many event streams open as its quota allows",
                     kRetryStreamS);
  }
  buffered->start_stream(StreamWish{job_id, holder, after->text()});
}

}  // namespace muster::hub
