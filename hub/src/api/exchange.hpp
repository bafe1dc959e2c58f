#pragma once
// The api's handlers take Poco's HTTPServerRequest and HTTPServerResponse.
// These serve them a request already framed in memory and collect the answer
// in memory, so a handler never waits on a client's socket: the connection
// loop (api/connection_loop.hpp) does all socket I/O.
#include <optional>
#include <sstream>
#include <string>

#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/SocketAddress.h>

#include "api/request_framing.hpp"

namespace muster::hub {

// A handler's wish to keep the connection open as a job's event stream.
// Who holds an event stream: counted against both the token's and the tenant's caps.
struct StreamHolder {
  std::string token_id;
  std::string tenant;
};

struct StreamWish {
  std::string job_id;
  StreamHolder holder;
  std::string after_id;  // the last event the client has (a stream id)
};

class BufferedResponse final : public Poco::Net::HTTPServerResponse {
 public:
  void sendContinue() override {}
  std::ostream& send() override;
  void sendFile(const std::string& path, const std::string& media_type) override;
  void sendBuffer(const void* buffer, std::size_t length) override;
  void redirect(const std::string& uri, HTTPStatus status = HTTP_FOUND) override;
  void requireAuthentication(const std::string& realm) override;
  bool sent() const override { return sent_; }

  // Sends the head of an event stream; the connection then stays open.
  void start_stream(StreamWish wish);
  const std::optional<StreamWish>& stream_wish() const { return stream_wish_; }
  // The answer as it goes on the wire.
  std::string wire();

 private:
  bool sent_ = false;
  std::ostringstream body_;
  std::optional<StreamWish> stream_wish_;
};

class BufferedRequest final : public Poco::Net::HTTPServerRequest {
 public:
  BufferedRequest(FramedRequest framed, const Poco::Net::SocketAddress& client, const Poco::Net::SocketAddress& server,
                  bool secure, const Poco::Net::HTTPServerParams& params, BufferedResponse& response);
  std::istream& stream() override { return body_; }
  const Poco::Net::SocketAddress& clientAddress() const override { return client_; }
  const Poco::Net::SocketAddress& serverAddress() const override { return server_; }
  const Poco::Net::HTTPServerParams& serverParams() const override { return params_; }
  Poco::Net::HTTPServerResponse& response() const override { return response_; }
  bool secure() const override { return secure_; }

 private:
  std::istringstream body_;
  Poco::Net::SocketAddress client_, server_;
  bool secure_;
  const Poco::Net::HTTPServerParams& params_;
  BufferedResponse& response_;
};

// One chunk of a chunked body, framed for the wire ("" ends the body).
std::string http_chunk(const std::string& data);

}  // namespace muster::hub
