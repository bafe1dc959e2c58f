#include "muster/proto/uuid.hpp"

#include <gtest/gtest.h>

#include <array>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace muster::proto;

namespace {

bool IsLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

}  // namespace

TEST(Uuid, NewIsCanonical) {
  EXPECT_TRUE(is_uuid(new_uuid()));
  EXPECT_NE(new_uuid(), new_uuid());
}

TEST(Uuid, FormatVersionAndVariant) {
  for (int i = 0; i < 1000; ++i) {
    const std::string u = new_uuid();
    ASSERT_EQ(u.size(), 36u) << u;
    for (std::size_t k = 0; k < u.size(); ++k) {
      if (k == 8 || k == 13 || k == 18 || k == 23) {
        ASSERT_EQ(u[k], '-') << u;
      } else {
        ASSERT_TRUE(IsLowerHex(u[k])) << u;
      }
    }
    ASSERT_EQ(u[14], '4') << "version nibble: " << u;
    ASSERT_NE(std::string("89ab").find(u[19]), std::string::npos) << "variant nibble: " << u;
    ASSERT_TRUE(is_uuid(u)) << u;
  }
}

TEST(Uuid, UniqueAndRandomOver10k) {
  std::set<std::string> seen;
  // For every random nibble position, which hex digits occurred.
  std::array<std::set<char>, 36> digits;
  for (int i = 0; i < 10000; ++i) {
    const std::string u = new_uuid();
    ASSERT_TRUE(seen.insert(u).second) << "duplicate " << u;
    for (std::size_t k = 0; k < u.size(); ++k) digits[k].insert(u[k]);
  }
  EXPECT_EQ(seen.size(), 10000u);
  for (std::size_t k = 0; k < 36; ++k) {
    SCOPED_TRACE(k);
    if (k == 8 || k == 13 || k == 18 || k == 23) {
      EXPECT_EQ(digits[k], std::set<char>{'-'});
    } else if (k == 14) {
      EXPECT_EQ(digits[k], std::set<char>{'4'});
    } else if (k == 19) {
      EXPECT_EQ(digits[k], (std::set<char>{'8', '9', 'a', 'b'}));
    } else {
      EXPECT_EQ(digits[k].size(), 16u);  // 10k draws miss a digit with negligible probability
    }
  }
}

TEST(Uuid, UniqueAcrossThreads) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 2000;
  std::vector<std::vector<std::string>> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&results, t] {
      for (int i = 0; i < kPerThread; ++i) results[static_cast<std::size_t>(t)].push_back(new_uuid());
    });
  }
  for (auto& th : threads) th.join();
  std::set<std::string> all;
  for (const auto& r : results) {
    for (const auto& u : r) {
      EXPECT_TRUE(is_uuid(u)) << u;
      all.insert(u);
    }
  }
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kThreads * kPerThread));
}

TEST(IsUuid, AcceptsCanonicalLowerCase) {
  EXPECT_TRUE(is_uuid("0b8c3c1e-4f5a-4d2b-9a8e-1c2d3e4f5a6b"));
  EXPECT_TRUE(is_uuid("00000000-0000-0000-0000-000000000000"));
  EXPECT_TRUE(is_uuid("ffffffff-ffff-ffff-ffff-ffffffffffff"));
  // Only the form is checked, not the version: v1/v7 ids from elsewhere pass.
  EXPECT_TRUE(is_uuid("c232ab00-9414-11ec-b3c8-9f6bdeced846"));
  EXPECT_TRUE(is_uuid("017f22e2-79b0-7cc3-98c4-dc0c0c07398f"));
}

TEST(IsUuid, RefusesEverythingElse) {
  const std::string bad[] = {
      "",
      "0B8C3C1E-4F5A-4D2B-9A8E-1C2D3E4F5A6B",     // upper case
      "0b8c3c1e-4f5a-4d2b-9a8e-1c2d3e4f5a6B",     // one upper-case digit
      "0b8c3c1e4f5a4d2b9a8e1c2d3e4f5a6b",         // no dashes
      "0b8c3c1e-4f5a4d2b-9a8e-1c2d3e4f5a6b-",     // dash moved
      "0b8c3c1e4-f5a-4d2b-9a8e-1c2d3e4f5a6b",     // dash moved
      "0b8c3c1e-4f5a-4d2b-9a8e1-c2d3e4f5a6b",     // dash moved
      "0b8c3c1e-4f5a-4d2b-9a8e-1c2d3e4f5a6",      // 35 characters
      "0b8c3c1e-4f5a-4d2b-9a8e-1c2d3e4f5a6b0",    // 37 characters
      " 0b8c3c1e-4f5a-4d2b-9a8e-1c2d3e4f5a6b",    // leading space
      "0b8c3c1e-4f5a-4d2b-9a8e-1c2d3e4f5a6b\n",   // trailing newline
      "{0b8c3c1e-4f5a-4d2b-9a8e-1c2d3e4f5a6b}",   // braces
      "urn:uuid:0b8c3c1e-4f5a-4d2b-9a8e-1c2d3e4f5a6b",
      "0b8c3c1e-4f5a-4d2b-9a8e-1c2d3e4f5a6g",     // not hex
      "0b8c3c1e_4f5a_4d2b_9a8e_1c2d3e4f5a6b",     // underscores
      "0b8c3c1e-4f5a-4d2b-9a8e+1c2d3e4f5a6b",
      "------------------------------------",
      "0b8c3c1e--4f5a-4d2b-9a8e-1c2d3e4f5a6",
      "../../../../../../../../etc/passwd12",
      std::string("0b8c3c1e-4f5a-4d2b-9a8e-1c2d3e4f5a6\0", 36),
      "0b8c3c1e-4f5a-4d2b-9a8e-1c2d3e4f5\xC3\xA9",
  };
  for (const auto& s : bad) {
    SCOPED_TRACE(::testing::PrintToString(s));
    EXPECT_FALSE(is_uuid(s));
  }
}

TEST(RandomHex, LengthAndAlphabet) {
  for (std::size_t n : {0u, 1u, 2u, 16u, 32u, 33u, 1000u, 100000u}) {
    SCOPED_TRACE(n);
    const std::string h = random_hex(n);
    ASSERT_EQ(h.size(), 2 * n);
    for (char c : h) ASSERT_TRUE(IsLowerHex(c)) << h;
  }
  EXPECT_EQ(random_hex(0), "");
}

TEST(RandomHex, IsRandom) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(seen.insert(random_hex(16)).second);
  // Over 64 KiB every hex digit shows up, in both nibble positions.
  const std::string big = random_hex(1 << 15);
  std::set<char> high;
  std::set<char> low;
  for (std::size_t i = 0; i < big.size(); i += 2) {
    high.insert(big[i]);
    low.insert(big[i + 1]);
  }
  EXPECT_EQ(high.size(), 16u);
  EXPECT_EQ(low.size(), 16u);
}
