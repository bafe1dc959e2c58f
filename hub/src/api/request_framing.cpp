#include "api/request_framing.hpp"

#include <algorithm>
#include <sstream>

#include <Poco/Exception.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/String.h>

namespace muster::hub {
namespace {

constexpr std::size_t kMaxChunkLine = 1024;

// Where the blank line that ends a head starts, and its length.
std::pair<std::size_t, std::size_t> find_head_end(const std::string& text) {
  const std::size_t crlf = text.find("\r\n\r\n");
  const std::size_t lf = text.find("\n\n");
  if (crlf == std::string::npos && lf == std::string::npos) return {std::string::npos, 0};
  if (lf == std::string::npos || (crlf != std::string::npos && crlf < lf)) return {crlf, 4};
  return {lf, 2};
}

bool is_digits(const std::string& text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::size_t count_fields(const Poco::Net::HTTPRequest& request, const char* name) {
  std::size_t n = 0;
  for (const auto& field : request) n += Poco::icompare(field.first, name) == 0 ? 1 : 0;
  return n;
}

}  // namespace

RequestFramer::RequestFramer(FramingLimits limits) : limits_(limits) {}

RequestFramer::State RequestFramer::feed(const char* data, std::size_t size) {
  if (state_ == State::failed) return state_;
  buffer_.append(data, size);
  return advance();
}

RequestFramer::State RequestFramer::advance() {
  if (state_ == State::head) state_ = parse_head();
  if (state_ == State::body) state_ = chunked_ ? read_chunks() : read_body();
  return state_;
}

FramedRequest RequestFramer::take() {
  FramedRequest done = std::move(request_);
  request_ = FramedRequest{};
  state_ = State::head;
  advance();
  return done;
}

bool RequestFramer::take_continue_wish() {
  const bool wish = continue_wish_ && state_ == State::body;
  continue_wish_ = false;
  return wish;
}

RequestFramer::State RequestFramer::fail(int status, const char* code, const std::string& message) {
  error_ = FramingError{status, code, message};
  buffer_.clear();
  return State::failed;
}

RequestFramer::State RequestFramer::parse_head() {
  // Empty lines before a request line are allowed (RFC 9112 2.2).
  const std::size_t start = buffer_.find_first_not_of("\r\n");
  buffer_.erase(0, start == std::string::npos ? buffer_.size() : start);
  const std::size_t line_end = buffer_.find('\n');
  if ((line_end == std::string::npos ? buffer_.size() : line_end) > limits_.max_request_line) {
    return fail(414, "uri_too_long", "request line over " + std::to_string(limits_.max_request_line) + " bytes");
  }
  const auto [end, blank] = find_head_end(buffer_);
  if (end == std::string::npos) {
    if (buffer_.size() > limits_.max_head) {
      return fail(431, "headers_too_large", "request head over " + std::to_string(limits_.max_head) + " bytes");
    }
    return State::head;
  }
  std::string head = buffer_.substr(0, end + blank);
  buffer_.erase(0, end + blank);
  if (head.size() > limits_.max_head) {
    return fail(431, "headers_too_large", "request head over " + std::to_string(limits_.max_head) + " bytes");
  }
  if (static_cast<std::size_t>(std::count(head.begin(), head.end(), '\n')) > limits_.max_fields + 2) {
    return fail(431, "headers_too_large", "more than " + std::to_string(limits_.max_fields) + " header fields");
  }
  request_.head = std::move(head);
  return plan_body(request_.head);
}

RequestFramer::State RequestFramer::plan_body(const std::string& head) {
  Poco::Net::HTTPRequest request;
  try {
    std::istringstream in(head);
    request.read(in);
  } catch (const Poco::Exception& e) {
    // Poco's own bounds (field name and value length, field count) are size errors too.
    if (e.message().rfind("Field", 0) == 0 || e.message().rfind("Too many", 0) == 0) {
      return fail(431, "headers_too_large", "request head: " + e.message());
    }
    return fail(400, "bad_request", "malformed request head: " + e.message());
  }
  if (request.getVersion() != "HTTP/1.1" && request.getVersion() != "HTTP/1.0") {
    return fail(400, "bad_request", "only HTTP/1.0 and HTTP/1.1 are served");
  }
  if (request.getURI().empty() || request.getURI()[0] != '/') return fail(400, "bad_request", "malformed request target");
  const bool has_length = request.has("Content-Length");
  chunked_ = request.has("Transfer-Encoding");
  if (chunked_) {
    if (has_length) return fail(400, "bad_request", "both Content-Length and Transfer-Encoding");
    if (Poco::icompare(request.get("Transfer-Encoding"), "chunked") != 0) {
      return fail(400, "bad_request", "only the chunked transfer coding is accepted");
    }
    chunk_step_ = ChunkStep::size_line;
    trailer_bytes_ = 0;
  } else if (has_length) {
    const std::string length = request.get("Content-Length");
    if (!is_digits(length) || length.size() > 18) return fail(400, "bad_request", "malformed Content-Length");
    if (count_fields(request, "Content-Length") > 1) return fail(400, "bad_request", "more than one Content-Length");
    body_left_ = std::stoull(length);
    if (body_left_ > limits_.max_body) {
      return fail(413, "too_large", "request body over " + std::to_string(limits_.max_body) + " bytes");
    }
  } else {
    // No length given: no body (RFC 9112 6.3). A handler that needs one says 411.
    body_left_ = 0;
  }
  continue_wish_ = (chunked_ || body_left_ > 0) && Poco::icompare(request.get("Expect", ""), "100-continue") == 0;
  return State::body;
}

RequestFramer::State RequestFramer::read_body() {
  const std::size_t n = std::min(body_left_, buffer_.size());
  request_.body.append(buffer_, 0, n);
  buffer_.erase(0, n);
  body_left_ -= n;
  return body_left_ == 0 ? State::complete : State::body;
}

RequestFramer::State RequestFramer::read_chunk_size() {
  const std::size_t eol = buffer_.find('\n');
  if ((eol == std::string::npos ? buffer_.size() : eol) > kMaxChunkLine) {
    return fail(400, "bad_request", "chunk size line too long");
  }
  if (eol == std::string::npos) return State::body;
  std::string line = buffer_.substr(0, eol);
  buffer_.erase(0, eol + 1);
  line = line.substr(0, line.find(';'));  // chunk extensions are ignored
  Poco::trimInPlace(line);
  if (line.empty() || line.size() > 8 || line.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
    return fail(400, "bad_request", "malformed chunk size");
  }
  body_left_ = std::stoull(line, nullptr, 16);
  if (request_.body.size() + body_left_ > limits_.max_body) {
    return fail(413, "too_large", "request body over " + std::to_string(limits_.max_body) + " bytes");
  }
  chunk_step_ = body_left_ == 0 ? ChunkStep::trailer : ChunkStep::data;
  trailer_bytes_ = 0;
  return State::body;
}

RequestFramer::State RequestFramer::read_chunks() {
  for (;;) {
    if (chunk_step_ == ChunkStep::size_line) {
      const std::size_t before = buffer_.size();
      if (read_chunk_size() == State::failed) return State::failed;
      if (buffer_.size() == before) return State::body;
    } else if (chunk_step_ == ChunkStep::data) {
      if (buffer_.empty()) return State::body;
      const std::size_t n = std::min(body_left_, buffer_.size());
      request_.body.append(buffer_, 0, n);
      buffer_.erase(0, n);
      body_left_ -= n;
      if (body_left_ == 0) chunk_step_ = ChunkStep::data_end;
    } else {
      const std::size_t eol = buffer_.find('\n');
      if (eol == std::string::npos) {
        // After chunk data only its CRLF may follow; a trailer line may come in pieces.
        if (chunk_step_ == ChunkStep::data_end && buffer_.size() > 1) {
          return fail(400, "bad_request", "chunk data longer than its size");
        }
        const bool may_end = buffer_ == "\r";  // the blank line that ends the trailer, half here
        if (chunk_step_ == ChunkStep::trailer && !may_end && trailer_bytes_ + buffer_.size() + 1 > limits_.max_head) {
          return fail(431, "headers_too_large", "trailer over " + std::to_string(limits_.max_head) + " bytes");
        }
        return State::body;
      }
      const bool blank = eol == 0 || (eol == 1 && buffer_[0] == '\r');
      trailer_bytes_ += eol + 1;
      buffer_.erase(0, eol + 1);
      if (chunk_step_ == ChunkStep::data_end) {
        if (!blank) return fail(400, "bad_request", "chunk data longer than its size");
        chunk_step_ = ChunkStep::size_line;
      } else if (blank) {
        return State::complete;
      } else if (trailer_bytes_ > limits_.max_head) {
        return fail(431, "headers_too_large", "trailer over " + std::to_string(limits_.max_head) + " bytes");
      }
    }
  }
}

}  // namespace muster::hub
