#pragma once
// The API's routes, one table: method, path pattern (":name" matches one
// segment), who may call it, and a thin handler (parse, call core, answer
// JSON). The server authenticates and checks access from the table before a
// handler reads anything of the request.
#include <optional>
#include <string>
#include <vector>

#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>

#include "api/event_streams.hpp"
#include "config.hpp"
#include "core/agents.hpp"
#include "core/audit.hpp"
#include "core/auth.hpp"
#include "core/jobs.hpp"
#include "core/tenants.hpp"
#include "store/store.hpp"

namespace muster::hub {

struct ApiServices {
  const HubConfig& config;
  Store& store;
  Auth& auth;
  Agents& agents;
  Jobs& jobs;
  Audit& audit;
  Tenants& tenants;
};

// Who may call a route: nobody needs a token, any valid token (the handler
// decides: enrollment), or an api token with at least the role (platform:
// the tenants themselves).
enum class Access { open, any_token, viewer, operator_, admin, platform };

struct Call {
  ApiServices& services;
  Poco::Net::HTTPServerRequest& request;
  Poco::Net::HTTPServerResponse& response;
  std::vector<std::string> params;  // the ":name" segments, in order
  std::optional<Principal> principal;
  EventStreams* streams;
};

struct Route {
  const char* method;
  const char* pattern;
  Access access;
  void (*handle)(Call&);
};

const std::vector<Route>& api_routes();

// The route for a request; throws ApiError 404 when no pattern matches the
// path, 405 (naming the methods it accepts) when none matches the method.
const Route& match_route(const std::string& method, const std::string& uri, std::vector<std::string>& params);

}  // namespace muster::hub
