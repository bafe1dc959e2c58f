#include "display.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

#include "muster/proto/json.hpp"

namespace muster::cli {
namespace {

TEST(FieldText, ReadsEveryShapeAndNeverFails) {
  auto o = std::move(*proto::parse_object(
      R"({"s":"text","i":42,"f":1.5,"t":true,"n":null,"labels":{"env":"prod","role":"web"},"arr":[1]})"));
  EXPECT_EQ(field_text(o.get(), "s"), "text");
  EXPECT_EQ(field_text(o.get(), "i"), "42");
  EXPECT_EQ(field_text(o.get(), "t"), "yes");
  EXPECT_EQ(field_text(o.get(), "n"), "");
  EXPECT_EQ(field_text(o.get(), "missing"), "");
  EXPECT_EQ(field_text(o.get(), "arr"), "");
  EXPECT_EQ(field_number(o.get(), "f"), 1.5);
  EXPECT_EQ(field_number(o.get(), "s", -1), -1);
  EXPECT_EQ(labels_text(o.get(), "labels"), "env=prod,role=web");
  EXPECT_EQ(labels_text(o.get(), "s"), "");
  EXPECT_EQ(field_text(nullptr, "s"), "");
}

TEST(TimeText, UtcOrNothing) {
  EXPECT_EQ(time_text(1764200000.9), "2025-11-26 23:33:20");
  EXPECT_EQ(time_text(0), "");
}

TEST(Table, AlignsColumnsAndCutsLinesToTheWidth) {
  char* data = nullptr;
  std::size_t size = 0;
  std::FILE* out = open_memstream(&data, &size);
  Table table({"ID", "STATE", "COMMAND"});
  table.add({"a1", "succeeded", "uname -a"});
  table.add({"b22", "failed", "a very long command line"});
  table.add({"c", "", ""});
  table.print(out, 30);
  std::fclose(out);
  EXPECT_EQ(std::string(data, size),
            "ID   STATE      COMMAND\n"
            "a1   succeeded  uname -a\n"
            "b22  failed     a very long co\n"
            "c\n");
  std::free(data);
  EXPECT_EQ(table.rows(), 3u);
}

TEST(PrintPrefixed, EveryLineGetsThePrefix) {
  char* data = nullptr;
  std::size_t size = 0;
  std::FILE* out = open_memstream(&data, &size);
  print_prefixed(out, "web-1: ", "one\n\nthree");
  std::fclose(out);
  EXPECT_EQ(std::string(data, size), "web-1: one\nweb-1: \nweb-1: three\n");
  std::free(data);
}

}  // namespace
}  // namespace muster::cli
