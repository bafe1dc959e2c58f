#pragma once
// GET /api/v1/jobs/{id}/events: server-sent events of a job's task state
// changes and output chunks, in store order, resumable with Last-Event-ID;
// the stream ends after the job's final event.
#include <string>

#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>

#include "store/store.hpp"

namespace muster::hub {

void stream_job_events(Store& store, const std::string& job_id, Poco::Net::HTTPServerRequest& request,
                       Poco::Net::HTTPServerResponse& response);

}  // namespace muster::hub
