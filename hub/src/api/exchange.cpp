#include "api/exchange.hpp"

#include <cstdio>

#include <Poco/Exception.h>

namespace muster::hub {

std::ostream& BufferedResponse::send() {
  if (sent_) throw Poco::IllegalStateException("response already sent");
  sent_ = true;
  return body_;
}

void BufferedResponse::sendFile(const std::string&, const std::string&) {
  throw Poco::NotImplementedException("the api sends no files");
}

void BufferedResponse::sendBuffer(const void* buffer, std::size_t length) {
  setContentLength(static_cast<std::streamsize>(length));
  send().write(static_cast<const char*>(buffer), static_cast<std::streamsize>(length));
}

void BufferedResponse::redirect(const std::string& uri, HTTPStatus status) {
  setStatusAndReason(status);
  set("Location", uri);
  setContentLength(0);
  send();
}

void BufferedResponse::requireAuthentication(const std::string& realm) {
  setStatusAndReason(HTTP_UNAUTHORIZED);
  set("WWW-Authenticate", "Bearer realm=\"" + realm + "\"");
  setContentLength(0);
  send();
}

void BufferedResponse::start_stream(StreamWish wish) {
  setStatusAndReason(HTTP_OK);
  setContentType("text/event-stream");
  set("Cache-Control", "no-store");
  setChunkedTransferEncoding(true);
  // A stream ends with its job; the connection is not reused after it.
  setKeepAlive(false);
  send();
  stream_wish_ = std::move(wish);
}

std::string BufferedResponse::wire() {
  const std::string body = body_.str();
  if (!stream_wish_) {
    setChunkedTransferEncoding(false);
    setContentLength(static_cast<std::streamsize>(body.size()));
  }
  std::ostringstream out;
  write(out);
  out << body;
  return out.str();
}

BufferedRequest::BufferedRequest(FramedRequest framed, const Poco::Net::SocketAddress& client,
                                 const Poco::Net::SocketAddress& server, bool secure,
                                 const Poco::Net::HTTPServerParams& params, BufferedResponse& response)
    : body_(std::move(framed.body)), client_(client), server_(server), secure_(secure), params_(params),
      response_(response) {
  std::istringstream head(framed.head);
  read(head);  // already read once by the framer: cannot fail here
  // The body is already de-chunked in memory: what the handlers see is its
  // length, unless the client gave none (then there is no body).
  if (getChunkedTransferEncoding() || hasContentLength()) {
    setChunkedTransferEncoding(false);
    setContentLength(static_cast<std::streamsize>(body_.str().size()));
  }
}

std::string http_chunk(const std::string& data) {
  char size[20];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  return size + data + "\r\n";
}

}  // namespace muster::hub
