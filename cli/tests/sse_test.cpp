#include "sse.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace muster::cli {
namespace {

std::vector<SseEvent> parse_in_pieces(const std::string& text, std::size_t piece) {
  std::vector<SseEvent> events;
  SseParser parser([&](const SseEvent& e) {
    events.push_back(e);
    return true;
  });
  for (std::size_t i = 0; i < text.size(); i += piece) parser.feed(std::string_view(text).substr(i, piece));
  return events;
}

TEST(SseParser, ReadsTheHubsEventsWhateverTheChunking) {
  const std::string stream =
      ": keepalive\n\n"
      "id: 1700000000000-0\nevent: state\ndata: {\"agent_id\":\"a\",\"state\":\"running\"}\n\n"
      "id: 1700000000000-1\nevent: job\ndata: {\"job_id\":\"j\",\"state\":\"succeeded\"}\n\n";
  for (std::size_t piece : {1u, 2u, 7u, 1000u}) {
    const auto events = parse_in_pieces(stream, piece);
    ASSERT_EQ(events.size(), 2u) << "piece " << piece;
    EXPECT_EQ(events[0].id, "1700000000000-0");
    EXPECT_EQ(events[0].type, "state");
    EXPECT_EQ(events[0].data, "{\"agent_id\":\"a\",\"state\":\"running\"}");
    EXPECT_EQ(events[1].type, "job");
  }
}

TEST(SseParser, JoinsDataLinesAndAcceptsEveryLineEnd) {
  const auto events = parse_in_pieces("data: one\r\ndata:two\rdata: three\n\r\n", 3);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "one\ntwo\nthree");
  EXPECT_EQ(events[0].type, "message");
  EXPECT_EQ(events[0].id, "");
}

TEST(SseParser, CommentsAndEventsWithoutDataDispatchNothing) {
  EXPECT_TRUE(parse_in_pieces(": keepalive\n\nevent: state\n\nretry: 10\n\n", 5).empty());
}

TEST(SseParser, AnUnfinishedEventWaitsForItsBlankLine) {
  EXPECT_TRUE(parse_in_pieces("event: state\ndata: {}\n", 4).empty());
}

TEST(SseParser, StopsWhenTheHandlerSaysSo) {
  int seen = 0;
  SseParser parser([&](const SseEvent&) { return ++seen < 1; });
  EXPECT_FALSE(parser.feed("data: a\n\ndata: b\n\n"));
  EXPECT_EQ(seen, 1);
}

TEST(SseParser, RefusesAnEventPastTheLimit) {
  SseParser parser([](const SseEvent&) { return true; }, 16);
  EXPECT_FALSE(parser.feed("data: " + std::string(64, 'x')));
  EXPECT_TRUE(parser.too_large());
}

}  // namespace
}  // namespace muster::cli
