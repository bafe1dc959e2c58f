#pragma once
// Cuts HTTP/1.1 requests out of the bytes a connection receives, with the
// bounds a public server needs: request line, header block, field count,
// body size, Content-Length or chunked framing. No I/O, so it can be fuzzed;
// the head itself is parsed by Poco's HTTPRequest.
#include <cstddef>
#include <string>

namespace muster::hub {

struct FramingLimits {
  std::size_t max_request_line = 8192;
  std::size_t max_head = 16384;
  std::size_t max_fields = 100;
  std::size_t max_body = 1 << 20;
};

// A complete request: its head as received and its body, de-chunked.
struct FramedRequest {
  std::string head;
  std::string body;
};

// Why the bytes are not a request we serve, as the answer to give.
struct FramingError {
  int status = 0;
  std::string code;
  std::string message;
};

class RequestFramer {
 public:
  enum class State { head, body, complete, failed };

  explicit RequestFramer(FramingLimits limits = {});
  // Takes received bytes; bytes past a complete request are kept for the next.
  State feed(const char* data, std::size_t size);
  State state() const { return state_; }
  // A complete request; the framer then waits for the next one's head.
  FramedRequest take();
  const FramingError& error() const { return error_; }
  // Whether the head asked for "100 Continue" before its body (once).
  bool take_continue_wish();
  // Whether any byte of the request being framed has arrived.
  bool started() const { return !buffer_.empty() || state_ != State::head; }

 private:
  enum class ChunkStep { size_line, data, data_end, trailer };

  State advance();
  State parse_head();
  State plan_body(const std::string& head);
  State read_body();
  State read_chunks();
  State read_chunk_size();
  State fail(int status, const char* code, const std::string& message);

  FramingLimits limits_;
  State state_ = State::head;
  std::string buffer_;  // received, not yet framed
  FramedRequest request_;
  FramingError error_;
  bool chunked_ = false;
  bool continue_wish_ = false;
  std::size_t body_left_ = 0;  // bytes of the body (or of the chunk) still to come
  ChunkStep chunk_step_ = ChunkStep::size_line;
  std::size_t trailer_bytes_ = 0;
};

}  // namespace muster::hub
