#pragma once
// GET /api/v1/jobs/{id}/events: server-sent events of a job's task state
// changes and output chunks, in store order, resumable exactly with
// Last-Event-ID; the stream ends after the job's final event. The handler
// only checks the request and sends the head; api/event_streams.hpp serves
// the stream itself, without a worker.
#include <string>

#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>

#include "api/event_streams.hpp"

#include "core/auth.hpp"

namespace muster::hub {

void open_job_events(EventStreams& streams, const Principal& principal, const std::string& job_id,
                     Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response);

}  // namespace muster::hub
