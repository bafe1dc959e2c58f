#include "output_capture.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>

using muster::agent::OutputCapture;

namespace {

// Deterministic, non-repeating-looking bytes so head/tail mix-ups show.
std::string pattern(std::size_t n) {
  std::string s;
  s.reserve(n);
  for (std::size_t i = 0; i < n; ++i) s.push_back(static_cast<char>('a' + (i * 7 + i / 26) % 26));
  return s;
}

std::string expected_text(const std::string& all, std::size_t quota) {
  if (all.size() <= quota) return all;
  const std::size_t head = quota / 2;
  const std::size_t tail = quota - head;
  return all.substr(0, head) + all.substr(all.size() - tail);
}

}  // namespace

TEST(OutputCapture, EmptyCaptureIsEmpty) {
  OutputCapture c(100);
  EXPECT_EQ(c.text(), "");
  EXPECT_EQ(c.total(), 0u);
  EXPECT_EQ(c.dropped(), 0u);
}

TEST(OutputCapture, UnderQuotaKeepsEverything) {
  OutputCapture c(100);
  const std::string data = pattern(80);
  c.append(data.substr(0, 30));
  c.append(data.substr(30));
  EXPECT_EQ(c.text(), data);
  EXPECT_EQ(c.total(), 80u);
  EXPECT_EQ(c.dropped(), 0u);
}

TEST(OutputCapture, ExactlyQuotaKeepsEverything) {
  OutputCapture c(100);
  const std::string data = pattern(100);
  c.append(data);
  EXPECT_EQ(c.text(), data);
  EXPECT_EQ(c.dropped(), 0u);
}

TEST(OutputCapture, OneByteOverQuotaDropsOneByte) {
  OutputCapture c(100);
  const std::string data = pattern(101);
  c.append(data);
  EXPECT_EQ(c.text(), expected_text(data, 100));
  EXPECT_EQ(c.text().size(), 100u);
  EXPECT_EQ(c.dropped(), 1u);
  EXPECT_EQ(c.total(), 101u);
}

TEST(OutputCapture, OverQuotaKeepsExactHeadAndTail) {
  OutputCapture c(1000);
  const std::string data = pattern(10000);
  c.append(data);
  const std::string text = c.text();
  ASSERT_EQ(text.size(), 1000u);
  EXPECT_EQ(text.substr(0, 500), data.substr(0, 500));
  EXPECT_EQ(text.substr(500), data.substr(10000 - 500));
  EXPECT_EQ(c.dropped(), 9000u);
  EXPECT_EQ(c.total(), 10000u);
}

TEST(OutputCapture, OddQuotaGivesTheExtraByteToTheTail) {
  OutputCapture c(11);  // head 5, tail 6
  const std::string data = pattern(50);
  c.append(data);
  EXPECT_EQ(c.text(), data.substr(0, 5) + data.substr(44));
  EXPECT_EQ(c.dropped(), 39u);
}

TEST(OutputCapture, AppendReturnsThePartThatWentToTheHead) {
  OutputCapture c(10);  // head 5, tail 5
  EXPECT_EQ(c.append("abc"), "abc");
  EXPECT_EQ(c.append("defg"), "de");  // fills the head, "fg" goes to the tail
  EXPECT_EQ(c.append("hij"), "");
  EXPECT_EQ(c.append(""), "");
  EXPECT_EQ(c.text(), "abcde" "fghij");
  EXPECT_EQ(c.dropped(), 0u);
  EXPECT_EQ(c.append("klm"), "");
  EXPECT_EQ(c.text(), "abcde" "ijklm");
  EXPECT_EQ(c.dropped(), 3u);
}

TEST(OutputCapture, ZeroQuotaKeepsNothingButCounts) {
  OutputCapture c(0);
  EXPECT_EQ(c.append("hello"), "");
  EXPECT_EQ(c.text(), "");
  EXPECT_EQ(c.dropped(), 5u);
  EXPECT_EQ(c.total(), 5u);
}

TEST(OutputCapture, ManySmallAppendsEqualOneBigAppend) {
  const std::string data = pattern(5003);
  for (std::size_t quota : {std::size_t{1}, std::size_t{2}, std::size_t{7}, std::size_t{64}, std::size_t{1000},
                            std::size_t{4999}, std::size_t{5003}, std::size_t{8192}}) {
    for (std::size_t step : {std::size_t{1}, std::size_t{3}, std::size_t{17}, std::size_t{500}, std::size_t{4096}}) {
      SCOPED_TRACE("quota " + std::to_string(quota) + " step " + std::to_string(step));
      OutputCapture big(quota);
      OutputCapture small(quota);
      const std::string_view big_head = big.append(data);
      const std::string big_head_copy(big_head);
      std::string small_head;
      for (std::size_t off = 0; off < data.size(); off += step) {
        small_head += std::string(small.append(std::string_view(data).substr(off, step)));
      }
      EXPECT_EQ(small.text(), big.text());
      EXPECT_EQ(big.text(), expected_text(data, quota));
      EXPECT_EQ(small.dropped(), big.dropped());
      EXPECT_EQ(big.dropped(), data.size() > quota ? data.size() - quota : 0u);
      EXPECT_EQ(small.total(), data.size());
      // The streamed head is the same either way: the first quota/2 bytes.
      EXPECT_EQ(small_head, big_head_copy);
      EXPECT_EQ(big_head_copy, data.substr(0, std::min(data.size(), quota / 2)));
    }
  }
}

TEST(OutputCapture, BinaryBytesArePreserved) {
  OutputCapture c(8);
  std::string data("\0\xff\x01\x80", 4);
  c.append(data);
  c.append(data);
  c.append(data);
  EXPECT_EQ(c.text(), data + data);
  EXPECT_EQ(c.dropped(), 4u);
}
