#include "muster/proto/text.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>

using namespace muster::proto;

namespace {

constexpr std::string_view kFffd = "\xEF\xBF\xBD";

std::size_t CountReplacements(std::string_view s) {
  std::size_t n = 0;
  for (std::size_t pos = s.find(kFffd); pos != std::string_view::npos; pos = s.find(kFffd, pos + 3)) ++n;
  return n;
}

std::string Bytes(std::initializer_list<int> bytes) {
  std::string out;
  for (int b : bytes) out += static_cast<char>(b);
  return out;
}

// True if `s` is UTF-8 and holds only characters XML 1.0 allows.
bool IsXmlSafe(std::string_view s) {
  if (!is_utf8(s)) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') return false;
    if (c == 0xEF && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0xBF &&
        (static_cast<unsigned char>(s[i + 2]) == 0xBE || static_cast<unsigned char>(s[i + 2]) == 0xBF)) {
      return false;
    }
  }
  return true;
}

}  // namespace

// ------------------------------------------------------------------ is_utf8

TEST(IsUtf8, AcceptsWellFormedText) {
  const std::string valid[] = {
      "",
      "plain ASCII ~",
      std::string(1, '\0'),
      "\x7F",
      "\xC2\x80",          // U+0080, smallest 2-byte
      "\xDF\xBF",          // U+07FF, largest 2-byte
      "\xE0\xA0\x80",      // U+0800, smallest 3-byte
      "\xED\x9F\xBF",      // U+D7FF, just below the surrogates
      "\xEE\x80\x80",      // U+E000, just above the surrogates
      "\xEF\xBF\xBD",      // U+FFFD
      "\xEF\xBF\xBE",      // U+FFFE is well-formed UTF-8 (not XML-safe)
      "\xEF\xBF\xBF",      // U+FFFF
      "\xF0\x90\x80\x80",  // U+10000, smallest 4-byte
      "\xF0\x9F\x98\x80",  // emoji
      "\xF4\x8F\xBF\xBF",  // U+10FFFF, the last code point
      "caf\xC3\xA9 \xE2\x82\xAC 100",
  };
  for (const auto& s : valid) {
    SCOPED_TRACE(::testing::PrintToString(s));
    EXPECT_TRUE(is_utf8(s));
  }
}

TEST(IsUtf8, RefusesOverlongForms) {
  for (const auto& s : {Bytes({0xC0, 0x80}), Bytes({0xC0, 0xAF}), Bytes({0xC1, 0xBF}), Bytes({0xE0, 0x80, 0x80}),
                        Bytes({0xE0, 0x80, 0xAF}), Bytes({0xE0, 0x9F, 0xBF}), Bytes({0xF0, 0x80, 0x80, 0x80}),
                        Bytes({0xF0, 0x80, 0x80, 0xAF}), Bytes({0xF0, 0x8F, 0xBF, 0xBF})}) {
    SCOPED_TRACE(::testing::PrintToString(s));
    EXPECT_FALSE(is_utf8(s));
    EXPECT_FALSE(is_utf8("ok" + s + "ok"));
  }
}

TEST(IsUtf8, RefusesSurrogates) {
  for (const auto& s : {Bytes({0xED, 0xA0, 0x80}), Bytes({0xED, 0xAD, 0xBF}), Bytes({0xED, 0xAE, 0x80}),
                        Bytes({0xED, 0xBF, 0xBF}),
                        Bytes({0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80})}) {  // CESU-8 pair for U+1F600
    SCOPED_TRACE(::testing::PrintToString(s));
    EXPECT_FALSE(is_utf8(s));
  }
}

TEST(IsUtf8, RefusesTruncatedSequences) {
  for (const auto& s : {Bytes({0xC3}), Bytes({0xE2}), Bytes({0xE2, 0x82}), Bytes({0xF0}), Bytes({0xF0, 0x9F}),
                        Bytes({0xF0, 0x9F, 0x98})}) {
    SCOPED_TRACE(::testing::PrintToString(s));
    EXPECT_FALSE(is_utf8(s));              // at the end
    EXPECT_FALSE(is_utf8(s + "a"));        // followed by ASCII
    EXPECT_FALSE(is_utf8(s + "\xC3\xA9"));  // followed by a lead byte
  }
}

TEST(IsUtf8, RefusesAboveU10FFFF) {
  for (const auto& s : {Bytes({0xF4, 0x90, 0x80, 0x80}), Bytes({0xF4, 0xBF, 0xBF, 0xBF}),
                        Bytes({0xF5, 0x80, 0x80, 0x80}), Bytes({0xF7, 0xBF, 0xBF, 0xBF}),
                        Bytes({0xF8, 0x88, 0x80, 0x80, 0x80}), Bytes({0xFC, 0x84, 0x80, 0x80, 0x80, 0x80})}) {
    SCOPED_TRACE(::testing::PrintToString(s));
    EXPECT_FALSE(is_utf8(s));
  }
}

TEST(IsUtf8, RefusesStrayBytes) {
  for (int b : {0x80, 0x8F, 0xBF, 0xFE, 0xFF}) {
    SCOPED_TRACE(b);
    EXPECT_FALSE(is_utf8(Bytes({b})));
    EXPECT_FALSE(is_utf8("a" + Bytes({b}) + "b"));
  }
  EXPECT_FALSE(is_utf8(Bytes({0xC3, 0xA9, 0xA9})));  // extra continuation byte
  EXPECT_FALSE(is_utf8(Bytes({0xC3, 0x28})));        // lead byte then ASCII
  EXPECT_FALSE(is_utf8(Bytes({0xE2, 0x28, 0xA1})));
}

TEST(IsUtf8, EveryLeadByte) {
  for (int b = 0; b < 256; ++b) {
    SCOPED_TRACE(b);
    const bool ascii = b < 0x80;
    EXPECT_EQ(is_utf8(Bytes({b})), ascii);
    const bool two_byte_lead = b >= 0xC2 && b <= 0xDF;
    EXPECT_EQ(is_utf8(Bytes({b, 0x80})), two_byte_lead);
  }
}

// --------------------------------------------------------- to_xml_safe_utf8

TEST(XmlSafeUtf8, ReplacesInvalidBytes) {
  EXPECT_EQ(to_xml_safe_utf8("a\xff" "b"), "a\xEF\xBF\xBD" "b");
}

TEST(XmlSafeUtf8, KeepsValidText) {
  const std::string keep[] = {
      "",
      "plain text",
      "tab\there\nnewline\r\ncrlf",
      "\x7F",                           // DEL is allowed in XML 1.0
      "\xC2\x85",                       // U+0085 (C1 control) is allowed in XML 1.0
      "\xEF\xBF\xBD",                   // U+FFFD
      "\xEF\xB7\x90",                   // U+FDD0 noncharacter, allowed in XML 1.0
      "\xEE\x80\x80\xED\x9F\xBF",       // U+E000, U+D7FF
      "\xF4\x8F\xBF\xBF",               // U+10FFFF
      "caf\xC3\xA9 \xF0\x9F\x98\x80 <tag attr='&amp;'/>",
  };
  for (const auto& s : keep) {
    SCOPED_TRACE(::testing::PrintToString(s));
    EXPECT_EQ(to_xml_safe_utf8(s), s);
  }
}

TEST(XmlSafeUtf8, ReplacesControlCharactersExceptTabLfCr) {
  for (int c = 0; c < 0x20; ++c) {
    SCOPED_TRACE(c);
    const std::string in = "a" + Bytes({c}) + "b";
    if (c == '\t' || c == '\n' || c == '\r') {
      EXPECT_EQ(to_xml_safe_utf8(in), in);
    } else {
      EXPECT_EQ(to_xml_safe_utf8(in), "a" + std::string(kFffd) + "b");
    }
  }
  EXPECT_EQ(to_xml_safe_utf8(std::string("\0\0", 2)), std::string(kFffd) + std::string(kFffd));
  EXPECT_EQ(to_xml_safe_utf8("\x1B[31mred\x1B[0m"), std::string(kFffd) + "[31mred" + std::string(kFffd) + "[0m");
}

TEST(XmlSafeUtf8, ReplacesNonCharactersFffeAndFfff) {
  EXPECT_EQ(to_xml_safe_utf8("a\xEF\xBF\xBE" "b"), "a" + std::string(kFffd) + "b");
  EXPECT_EQ(to_xml_safe_utf8("a\xEF\xBF\xBF" "b"), "a" + std::string(kFffd) + "b");
  // One replacement for the whole character, not one per byte.
  EXPECT_EQ(CountReplacements(to_xml_safe_utf8("\xEF\xBF\xBE\xEF\xBF\xBF")), 2u);
}

TEST(XmlSafeUtf8, ReplacesOverlongSurrogateAndOutOfRange) {
  const std::string bad[] = {
      Bytes({0xC0, 0x80}),        Bytes({0xC1, 0xBF}),        Bytes({0xE0, 0x80, 0xAF}),
      Bytes({0xF0, 0x80, 0x80, 0xAF}), Bytes({0xED, 0xA0, 0x80}), Bytes({0xED, 0xBF, 0xBF}),
      Bytes({0xF4, 0x90, 0x80, 0x80}), Bytes({0xF5, 0x80, 0x80, 0x80}), Bytes({0xFF}),
      Bytes({0xFE}),              Bytes({0x80}),              Bytes({0xC3}),
      Bytes({0xE2, 0x82}),        Bytes({0xF0, 0x9F, 0x98}),
  };
  for (const auto& s : bad) {
    SCOPED_TRACE(::testing::PrintToString(s));
    const std::string out = to_xml_safe_utf8("<" + s + ">");
    EXPECT_TRUE(IsXmlSafe(out)) << ::testing::PrintToString(out);
    ASSERT_GE(out.size(), 2u);
    EXPECT_EQ(out.front(), '<');
    EXPECT_EQ(out.back(), '>');
    const std::size_t n = CountReplacements(out);
    EXPECT_GE(n, 1u);
    EXPECT_LE(n, s.size());
    EXPECT_EQ(out.size(), 2 + 3 * n) << "only replacement characters between the brackets";
  }
}

TEST(XmlSafeUtf8, TruncatedSequenceDoesNotSwallowFollowingText) {
  // A truncated lead byte must not eat the ASCII or valid character after it.
  const std::string out = to_xml_safe_utf8("\xE2\x82" "A\xC3\xA9");
  EXPECT_TRUE(IsXmlSafe(out));
  EXPECT_EQ(out.substr(out.size() - 3), "A\xC3\xA9");
  // Truncated at the very end of the input.
  const std::string end = to_xml_safe_utf8("ok\xF0\x9F\x98");
  EXPECT_TRUE(IsXmlSafe(end));
  EXPECT_EQ(end.substr(0, 2), "ok");
}

TEST(XmlSafeUtf8, RandomBytesAlwaysComeOutSafeAndStable) {
  std::mt19937 rng(12345);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> length(0, 64);
  for (int round = 0; round < 20000; ++round) {
    std::string in;
    const int n = length(rng);
    for (int i = 0; i < n; ++i) in += static_cast<char>(byte(rng));
    const std::string out = to_xml_safe_utf8(in);
    ASSERT_TRUE(IsXmlSafe(out)) << ::testing::PrintToString(in);
    ASSERT_EQ(to_xml_safe_utf8(out), out) << "not idempotent for " << ::testing::PrintToString(in);
    if (IsXmlSafe(in)) {
      ASSERT_EQ(out, in);
    }
  }
}
