#include "muster/proto/json.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "muster/proto/text.hpp"

using namespace muster::proto;

namespace {

template <class T>
::testing::AssertionResult FailsWith(const Result<T>& r, ErrorCode code, std::string_view needle = {}) {
  if (r.ok()) return ::testing::AssertionFailure() << "succeeded, expected " << to_string(code);
  if (r.error().code != code) {
    return ::testing::AssertionFailure() << "code " << to_string(r.error().code) << ", expected "
                                         << to_string(code) << " (message: " << r.error().message << ")";
  }
  if (r.error().message.find(needle) == std::string::npos) {
    return ::testing::AssertionFailure() << "message \"" << r.error().message << "\" does not mention \"" << needle
                                         << "\"";
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult ReaderFails(const FieldReader& r, ErrorCode code, std::string_view needle) {
  if (r.ok()) return ::testing::AssertionFailure() << "reader has no error, expected " << to_string(code);
  if (r.error()->code != code) {
    return ::testing::AssertionFailure() << "code " << to_string(r.error()->code) << ", expected "
                                         << to_string(code) << " (message: " << r.error()->message << ")";
  }
  if (r.error()->message.find(needle) == std::string::npos) {
    return ::testing::AssertionFailure() << "message \"" << r.error()->message << "\" does not mention \""
                                         << needle << "\"";
  }
  return ::testing::AssertionSuccess();
}

JsonPtr Parse(std::string_view text) {
  auto r = parse_object(text);
  EXPECT_TRUE(r.ok()) << text << ": " << (r.ok() ? "" : r.error().message);
  return r.ok() ? std::move(r.value()) : JsonPtr(cJSON_CreateObject());
}

std::string Nested(int arrays, bool scalar_leaf) {
  return "{\"a\":" + std::string(static_cast<std::size_t>(arrays), '[') + (scalar_leaf ? "1" : "") +
         std::string(static_cast<std::size_t>(arrays), ']') + "}";
}

}  // namespace

// ---------------------------------------------------------------- ErrorCode

TEST(ErrorCodeNames, AllCodesHaveDistinctNames) {
  EXPECT_STREQ(to_string(ErrorCode::bad_json), "bad_json");
  EXPECT_STREQ(to_string(ErrorCode::missing_field), "missing_field");
  EXPECT_STREQ(to_string(ErrorCode::invalid_field), "invalid_field");
  EXPECT_STREQ(to_string(ErrorCode::unknown_field), "unknown_field");
  EXPECT_STREQ(to_string(ErrorCode::too_large), "too_large");
  EXPECT_STREQ(to_string(ErrorCode::io), "io");
  EXPECT_STREQ(to_string(ErrorCode::crypto), "crypto");
}

TEST(ResultType, HoldsValueOrError) {
  Result<int> good(42);
  EXPECT_TRUE(good.ok());
  EXPECT_TRUE(static_cast<bool>(good));
  EXPECT_EQ(*good, 42);
  Result<int> bad(Error{ErrorCode::io, "disk on fire"});
  EXPECT_FALSE(bad.ok());
  EXPECT_FALSE(static_cast<bool>(bad));
  EXPECT_EQ(bad.error().code, ErrorCode::io);
  EXPECT_EQ(bad.error().message, "disk on fire");
  Status st(Ok{});
  EXPECT_TRUE(st.ok());
}

// ------------------------------------------------------------- parse_object

TEST(ParseObject, RefusesNonObject) {
  auto r = parse_object("[1,2]");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::bad_json);
}

TEST(ParseObject, AcceptsObjects) {
  for (const char* text : {"{}", " {} ", "\n\t{\"a\":1}\r\n", "{\"a\":{\"b\":[1,2,{\"c\":null}]},\"d\":true}",
                           "{\"e\":\"\\u00e9\\ud83d\\ude00\"}", "{\"a\":-0,\"b\":1e10,\"c\":-1.5e-3}"}) {
    SCOPED_TRACE(text);
    auto r = parse_object(text);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_TRUE(cJSON_IsObject(r->get()));
  }
}

TEST(ParseObject, DecodesEscapesToUtf8) {
  auto root = Parse(R"({"e":"\u00e9\ud83d\ude00\n\"\\\/"})");
  const cJSON* e = cJSON_GetObjectItemCaseSensitive(root.get(), "e");
  ASSERT_TRUE(cJSON_IsString(e));
  EXPECT_STREQ(e->valuestring, "\xC3\xA9\xF0\x9F\x98\x80\n\"\\/");
}

TEST(ParseObject, RefusesTextThatIsNotJson) {
  for (const char* text : {"", " ", "hello", "{", "}", "{\"a\":}", "{'a':1}", "{a:1}", "{\"a\":1,}",
                           "{\"a\" 1}", "{\"a\":tru}", "{\"a\":\"unterminated}", "{\"a\":NaN}",
                           "{\"a\":Infinity}", "{\"a\":1 \"b\":2}", "<task/>", "{\"a\":\"\\ud800\"}",
                           "{\"a\":\"\\udc00\"}", "{\"a\":\"\\x41\"}"}) {
    SCOPED_TRACE(text);
    EXPECT_TRUE(FailsWith(parse_object(text), ErrorCode::bad_json));
  }
}

TEST(ParseObject, MalformedJsonNamesOffset) {
  EXPECT_TRUE(FailsWith(parse_object("{\"a\":}"), ErrorCode::bad_json, "near byte"));
}

TEST(ParseObject, RefusesEveryNonObjectTopLevelValue) {
  for (const char* text : {"[]", "[1,2]", "[{}]", "\"string\"", "\"{}\"", "42", "-1.5", "null", "true", "false"}) {
    SCOPED_TRACE(text);
    EXPECT_TRUE(FailsWith(parse_object(text), ErrorCode::bad_json, "not an object"));
  }
}

TEST(ParseObject, RefusesTrailingGarbage) {
  for (std::string_view text : {std::string_view("{} x"), std::string_view("{}{}"), std::string_view("{},"),
                                std::string_view("{\"a\":1}]"), std::string_view("{} // comment"),
                                std::string_view("{}\x01"),
                                std::string_view("{} \xEF\xBB\xBF")}) {
    SCOPED_TRACE(std::string(text));
    EXPECT_TRUE(FailsWith(parse_object(text), ErrorCode::bad_json, "trailing"));
  }
}

TEST(ParseObject, OnlyLooksInsideTheView) {
  // A view into a larger buffer: the bytes after it are not part of the text.
  const std::string buffer = "{\"a\":1}garbage";
  auto r = parse_object(std::string_view(buffer).substr(0, 7));
  ASSERT_TRUE(r.ok()) << r.error().message;
  // A view that cuts the object short is malformed, not read past its end.
  EXPECT_TRUE(FailsWith(parse_object(std::string_view(buffer).substr(0, 6)), ErrorCode::bad_json));
}

TEST(ParseObject, RefusesOversizeText) {
  std::string text = "{\"a\":\"" + std::string(100, 'x') + "\"}";
  EXPECT_TRUE(parse_object(text, text.size()).ok());
  EXPECT_TRUE(FailsWith(parse_object(text, text.size() - 1), ErrorCode::too_large,
                        std::to_string(text.size()) + " bytes"));
  // Size is checked before parsing: even garbage reports too_large.
  EXPECT_TRUE(FailsWith(parse_object(std::string(50, '!'), 10), ErrorCode::too_large));

  std::string big = "{\"a\":\"" + std::string(kMaxJsonBytes, 'x') + "\"}";
  EXPECT_TRUE(FailsWith(parse_object(big), ErrorCode::too_large, std::to_string(kMaxJsonBytes)));
  std::string fits = "{\"a\":\"" + std::string(kMaxJsonBytes - 8, 'x') + "\"}";
  ASSERT_EQ(fits.size(), kMaxJsonBytes);
  EXPECT_TRUE(parse_object(fits).ok());
}

TEST(ParseObject, LimitsNesting) {
  EXPECT_TRUE(parse_object(Nested(kMaxJsonDepth - 1, true)).ok());
  EXPECT_TRUE(parse_object(Nested(kMaxJsonDepth - 1, false)).ok());
  EXPECT_TRUE(FailsWith(parse_object(Nested(kMaxJsonDepth + 1, true)), ErrorCode::bad_json, "nesting"));
  EXPECT_TRUE(FailsWith(parse_object(Nested(kMaxJsonDepth + 1, false)), ErrorCode::bad_json, "nesting"));
  // Nested objects count the same as arrays.
  std::string objects;
  for (int i = 0; i <= kMaxJsonDepth + 1; ++i) objects += "{\"o\":";
  objects += "1" + std::string(static_cast<std::size_t>(kMaxJsonDepth + 2), '}');
  EXPECT_TRUE(FailsWith(parse_object(objects), ErrorCode::bad_json));
  // Far beyond the limit (cJSON's own limit is 1000) must fail cleanly, not overflow the stack.
  EXPECT_TRUE(FailsWith(parse_object(Nested(5000, true)), ErrorCode::bad_json));
  EXPECT_TRUE(FailsWith(parse_object("{\"a\":" + std::string(200000, '[')), ErrorCode::bad_json));
}

TEST(ParseObject, RefusesDuplicateKeys) {
  EXPECT_TRUE(FailsWith(parse_object(R"({"a":1,"a":2})"), ErrorCode::bad_json, "duplicate key \"a\""));
  EXPECT_TRUE(FailsWith(parse_object(R"({"a":1,"b":2,"a":1})"), ErrorCode::bad_json, "\"a\""));
  EXPECT_TRUE(FailsWith(parse_object(R"({"x":{"k":"1","k":"2"}})"), ErrorCode::bad_json, "duplicate key \"k\""));
  EXPECT_TRUE(FailsWith(parse_object(R"({"x":[{"k":1,"k":1}]})"), ErrorCode::bad_json, "duplicate key \"k\""));
  // Same key after escape decoding.
  EXPECT_TRUE(FailsWith(parse_object(R"({"a":1,"\u0061":2})"), ErrorCode::bad_json, "duplicate key"));
  // Keys differing only in case are distinct.
  EXPECT_TRUE(parse_object(R"({"a":1,"A":2})").ok());
  // The same key in sibling objects is fine.
  EXPECT_TRUE(parse_object(R"({"x":{"k":1},"y":{"k":1}})").ok());
}

TEST(ParseObject, RefusesInvalidUtf8) {
  const char* bad_strings[] = {"{\"a\":\"\xFF\"}",         "{\"a\":\"\xC0\xAF\"}",        // overlong '/'
                               "{\"a\":\"\xED\xA0\x80\"}",   // encoded surrogate
                               "{\"a\":\"\xE2\x82\"}",       // truncated
                               "{\"a\":\"\xF4\x90\x80\x80\"}",  // > U+10FFFF
                               "{\"a\":[\"ok\",\"\x80\"]}", "{\"a\":{\"b\":\"\xFE\"}}"};
  for (const char* text : bad_strings) {
    SCOPED_TRACE(text);
    EXPECT_TRUE(FailsWith(parse_object(text), ErrorCode::bad_json, "UTF-8"));
  }
  for (const char* text : {"{\"\xFF\":1}", "{\"x\":{\"\xC3\":1}}", "{\"x\":[{\"\xED\xBF\xBF\":1}]}"}) {
    SCOPED_TRACE(text);
    EXPECT_TRUE(FailsWith(parse_object(text), ErrorCode::bad_json, "key is not valid UTF-8"));
  }
  EXPECT_TRUE(parse_object("{\"\xC3\xA9\":\"\xF0\x9F\x98\x80\"}").ok());
}

TEST(ParseObject, InvalidUtf8NamesTheField) {
  EXPECT_TRUE(FailsWith(parse_object("{\"command\":\"\xFF\"}"), ErrorCode::bad_json, "command"));
  EXPECT_TRUE(FailsWith(parse_object("{\"labels\":{\"k\":\"\xFF\"}}"), ErrorCode::bad_json, "labels.k"));
  EXPECT_TRUE(FailsWith(parse_object("{\"argv\":[\"a\",\"\xFF\"]}"), ErrorCode::bad_json, "argv[1]"));
  EXPECT_TRUE(FailsWith(parse_object("{\"labels\":{\"\xFF\":\"v\"}}"), ErrorCode::bad_json, "labels"));
}

TEST(ParseObject, RefusesNumbersOutOfDoubleRange) {
  EXPECT_TRUE(FailsWith(parse_object(R"({"timeout_s":1e400})"), ErrorCode::bad_json, "timeout_s"));
  EXPECT_TRUE(FailsWith(parse_object(R"({"seq":-1e400})"), ErrorCode::bad_json, "seq"));
  EXPECT_TRUE(FailsWith(parse_object(R"({"a":[1e999]})"), ErrorCode::bad_json, "out of range"));
  EXPECT_TRUE(parse_object(R"({"a":1e308,"b":1e-400})").ok());
}

TEST(ParseObject, RefusesNulCharacters) {
  // cJSON strings are NUL terminated: a NUL would silently truncate the value
  // ("rm x\u0000; other" read as "rm x"), a parser differential.
  EXPECT_TRUE(FailsWith(parse_object(R"({"a":"x\u0000y"})"), ErrorCode::bad_json));
  EXPECT_TRUE(FailsWith(parse_object(R"({"a\u0000b":1})"), ErrorCode::bad_json));
  EXPECT_TRUE(FailsWith(parse_object(std::string_view("{\"a\":\"x\0y\"}", 11)), ErrorCode::bad_json));
  EXPECT_TRUE(FailsWith(parse_object(std::string_view("{\"a\0\":1}", 8)), ErrorCode::bad_json));
  EXPECT_TRUE(FailsWith(parse_object(std::string_view("{}\0", 3)), ErrorCode::bad_json, "NUL"));
  EXPECT_TRUE(FailsWith(parse_object(R"({"a":"x\u0000"})"), ErrorCode::bad_json, "NUL"));
  // An escaped backslash followed by the text u0000 is not a NUL.
  auto ok = parse_object(R"({"a":"\\u0000","b":"\\\\u0000"})");
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_STREQ(cJSON_GetObjectItemCaseSensitive(ok->get(), "a")->valuestring, "\\u0000");
  EXPECT_STREQ(cJSON_GetObjectItemCaseSensitive(ok->get(), "b")->valuestring, "\\\\u0000");
  EXPECT_TRUE(FailsWith(parse_object(R"({"a":"\\\u0000"})"), ErrorCode::bad_json));
}

// --------------------------------------------------------------------- dump

TEST(Dump, IsCompactAndReparses) {
  auto root = Parse(" { \"a\" : [ 1 , 2 ] , \"b\" : { \"c\" : \"d\" } } ");
  EXPECT_EQ(dump(root.get()), R"({"a":[1,2],"b":{"c":"d"}})");
  EXPECT_TRUE(parse_object(dump(root.get())).ok());
}

// -------------------------------------------------------------- FieldReader

TEST(FieldReader, NonObjectIsBadJson) {
  FieldReader null_reader(nullptr, "task");
  EXPECT_TRUE(ReaderFails(null_reader, ErrorCode::bad_json, "task is not a JSON object"));
  JsonPtr array(cJSON_CreateArray());
  FieldReader array_reader(array.get(), "facts");
  EXPECT_TRUE(ReaderFails(array_reader, ErrorCode::bad_json, "facts"));
  // Every later call is a no-op, including only() which must not walk a non-object.
  std::string s = "untouched";
  array_reader.required("x", s).only({"y"}).version(1);
  EXPECT_EQ(s, "untouched");
  EXPECT_EQ(array_reader.error()->code, ErrorCode::bad_json);
  EXPECT_FALSE(array_reader.has("x"));
}

TEST(FieldReader, RequiredString) {
  auto root = Parse(R"({"s":"hello","n":5,"b":true,"a":["x"],"o":{},"z":null,"e":""})");
  {
    std::string out;
    FieldReader r(root.get(), "ctx");
    r.required("s", out);
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(out, "hello");
  }
  {
    std::string out;
    FieldReader r(root.get(), "ctx");
    r.required("e", out);
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(out, "");
  }
  for (const char* key : {"missing", "z"}) {
    SCOPED_TRACE(key);
    std::string out = "keep";
    FieldReader r(root.get(), "ctx");
    r.required(key, out);
    EXPECT_TRUE(ReaderFails(r, ErrorCode::missing_field, std::string("ctx.") + key + " is required"));
    EXPECT_EQ(out, "keep");
  }
  for (const char* key : {"n", "b", "a", "o"}) {
    SCOPED_TRACE(key);
    std::string out = "keep";
    FieldReader r(root.get(), "ctx");
    r.required(key, out);
    EXPECT_TRUE(ReaderFails(r, ErrorCode::invalid_field, std::string("ctx.") + key + " must be a string"));
    EXPECT_EQ(out, "keep");
  }
}

TEST(FieldReader, StringLengthLimitIsInclusive) {
  auto root = Parse(R"({"s":"12345"})");
  std::string out;
  FieldReader ok(root.get(), "c");
  ok.required("s", out, 5);
  EXPECT_TRUE(ok.ok());
  FieldReader bad(root.get(), "c");
  bad.required("s", out, 4);
  EXPECT_TRUE(ReaderFails(bad, ErrorCode::invalid_field, "c.s is longer than 4 bytes"));
  // The limit is in bytes, not characters.
  auto utf = Parse("{\"s\":\"\xC3\xA9\xC3\xA9\"}");
  FieldReader bytes(utf.get(), "c");
  bytes.required("s", out, 3);
  EXPECT_TRUE(ReaderFails(bytes, ErrorCode::invalid_field, "c.s"));
}

TEST(FieldReader, OptionalString) {
  auto root = Parse(R"({"s":"v","z":null,"n":1,"long":"abcdef"})");
  std::optional<std::string> absent;
  std::optional<std::string> null_value;
  std::optional<std::string> present;
  FieldReader r(root.get(), "c");
  r.optional("absent", absent).optional("z", null_value).optional("s", present);
  EXPECT_TRUE(r.ok());
  EXPECT_FALSE(absent.has_value());
  EXPECT_FALSE(null_value.has_value());
  EXPECT_EQ(present, "v");

  std::optional<std::string> wrong;
  FieldReader w(root.get(), "c");
  w.optional("n", wrong);
  EXPECT_TRUE(ReaderFails(w, ErrorCode::invalid_field, "c.n must be a string"));
  EXPECT_FALSE(wrong.has_value());

  std::optional<std::string> too_long;
  FieldReader l(root.get(), "c");
  l.optional("long", too_long, 5);
  EXPECT_TRUE(ReaderFails(l, ErrorCode::invalid_field, "c.long is longer than 5"));
  EXPECT_FALSE(too_long.has_value());
}

TEST(FieldReader, RequiredIntegerRange) {
  struct Case {
    const char* json;
    bool ok;
    std::int64_t value;
  };
  const Case cases[] = {
      {"{\"i\":1}", true, 1},         {"{\"i\":10}", true, 10},      {"{\"i\":5.0}", true, 5},
      {"{\"i\":5e0}", true, 5},       {"{\"i\":0}", false, 0},       {"{\"i\":11}", false, 0},
      {"{\"i\":-1}", false, 0},       {"{\"i\":1.5}", false, 0},     {"{\"i\":9.999}", false, 0},
      {"{\"i\":1e300}", false, 0},    {"{\"i\":-1e300}", false, 0},  {"{\"i\":1.0000001}", false, 0},
      {"{\"i\":\"5\"}", false, 0},    {"{\"i\":true}", false, 0},    {"{\"i\":[5]}", false, 0},
      {"{\"i\":{\"x\":5}}", false, 0}, {"{\"i\":18446744073709551617}", false, 0},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.json);
    auto root = Parse(c.json);
    std::int64_t out = -99;
    FieldReader r(root.get(), "ctx");
    r.required("i", out, 1, 10);
    if (c.ok) {
      EXPECT_TRUE(r.ok()) << r.error()->message;
      EXPECT_EQ(out, c.value);
    } else {
      EXPECT_TRUE(ReaderFails(r, ErrorCode::invalid_field, "ctx.i must be an integer between 1 and 10"));
      EXPECT_EQ(out, -99);
    }
  }
  for (const char* json : {"{}", "{\"i\":null}"}) {
    SCOPED_TRACE(json);
    auto root = Parse(json);
    std::int64_t out = -99;
    FieldReader r(root.get(), "ctx");
    r.required("i", out, 1, 10);
    EXPECT_TRUE(ReaderFails(r, ErrorCode::missing_field, "ctx.i is required"));
    EXPECT_EQ(out, -99);
  }
}

TEST(FieldReader, NegativeZeroIsZero) {
  auto root = Parse(R"({"i":-0})");
  std::int64_t out = 7;
  FieldReader r(root.get(), "c");
  r.required("i", out, 0, 1);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(out, 0);
}

TEST(FieldReader, IntegerAtTheEdgesOfInt64) {
  constexpr auto kMin = std::numeric_limits<std::int64_t>::min();
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  {
    auto root = Parse(R"({"i":-9223372036854775808})");
    std::int64_t out = 0;
    FieldReader r(root.get(), "c");
    r.required("i", out, kMin, kMax);
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(out, kMin);
  }
  // 2^63 does not fit an int64 even though it compares equal to double(INT64_MAX).
  for (const char* json : {R"({"i":9223372036854775808})", R"({"i":9223372036854775807})", R"({"i":1e19})",
                           R"({"i":-9223372036854777856})", R"({"i":-1e19})"}) {
    SCOPED_TRACE(json);
    auto root = Parse(json);
    std::int64_t out = 5;
    FieldReader r(root.get(), "c");
    r.required("i", out, kMin, kMax);
    EXPECT_TRUE(ReaderFails(r, ErrorCode::invalid_field, "c.i"));
    EXPECT_EQ(out, 5);
  }
}

TEST(FieldReader, OptionalIntegerKeepsDefault) {
  auto root = Parse(R"({"set":7,"z":null,"bad":0})");
  std::int64_t absent = 3;
  std::int64_t null_value = 4;
  std::int64_t set = 0;
  FieldReader r(root.get(), "c");
  r.optional("absent", absent, 1, 10).optional("z", null_value, 1, 10).optional("set", set, 1, 10);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(absent, 3);
  EXPECT_EQ(null_value, 4);
  EXPECT_EQ(set, 7);
  std::int64_t bad = 9;
  FieldReader b(root.get(), "c");
  b.optional("bad", bad, 1, 10);
  EXPECT_TRUE(ReaderFails(b, ErrorCode::invalid_field, "c.bad"));
  EXPECT_EQ(bad, 9);
}

TEST(FieldReader, OptionalNullableInteger) {
  auto root = Parse(R"({"set":-3,"z":null,"bad":"x"})");
  std::optional<std::int64_t> absent;
  std::optional<std::int64_t> null_value;
  std::optional<std::int64_t> set;
  FieldReader r(root.get(), "c");
  r.optional("absent", absent, -5, 5).optional("z", null_value, -5, 5).optional("set", set, -5, 5);
  EXPECT_TRUE(r.ok());
  EXPECT_FALSE(absent.has_value());
  EXPECT_FALSE(null_value.has_value());
  EXPECT_EQ(set, -3);
  std::optional<std::int64_t> bad;
  FieldReader b(root.get(), "c");
  b.optional("bad", bad, -5, 5);
  EXPECT_TRUE(ReaderFails(b, ErrorCode::invalid_field, "c.bad"));
  EXPECT_FALSE(bad.has_value());
}

TEST(FieldReader, RequiredDouble) {
  auto root = Parse(R"({"d":1764200000.125,"i":3,"s":"1.0","z":null,"b":false})");
  double d = 0;
  double i = 0;
  FieldReader r(root.get(), "c");
  r.required("d", d).required("i", i);
  EXPECT_TRUE(r.ok());
  EXPECT_DOUBLE_EQ(d, 1764200000.125);
  EXPECT_DOUBLE_EQ(i, 3.0);
  for (const char* key : {"s", "b"}) {
    SCOPED_TRACE(key);
    double out = -1;
    FieldReader w(root.get(), "c");
    w.required(key, out);
    EXPECT_TRUE(ReaderFails(w, ErrorCode::invalid_field, std::string("c.") + key + " must be a number"));
    EXPECT_EQ(out, -1);
  }
  for (const char* key : {"z", "nope"}) {
    SCOPED_TRACE(key);
    double out = -1;
    FieldReader m(root.get(), "c");
    m.required(key, out);
    EXPECT_TRUE(ReaderFails(m, ErrorCode::missing_field, std::string("c.") + key + " is required"));
  }
}

TEST(FieldReader, OptionalBool) {
  auto root = Parse(R"({"t":true,"f":false,"z":null,"n":1,"s":"true"})");
  bool t = false;
  bool f = true;
  bool z = true;
  bool absent = true;
  FieldReader r(root.get(), "c");
  r.optional("t", t).optional("f", f).optional("z", z).optional("absent", absent);
  EXPECT_TRUE(r.ok());
  EXPECT_TRUE(t);
  EXPECT_FALSE(f);
  EXPECT_TRUE(z);
  EXPECT_TRUE(absent);
  for (const char* key : {"n", "s"}) {
    SCOPED_TRACE(key);
    bool out = false;
    FieldReader w(root.get(), "c");
    w.optional(key, out);
    EXPECT_TRUE(ReaderFails(w, ErrorCode::invalid_field, std::string("c.") + key + " must be true or false"));
  }
}

TEST(FieldReader, StringArray) {
  auto root = Parse(R"({"a":["x","","y z"],"e":[],"z":null,"s":"x","o":{},"mixed":["x",1],"nested":[["x"]],
                        "nul":["x",null],"long":["abc","abcdef"],"three":["1","2","3"]})");
  std::vector<std::string> a;
  std::vector<std::string> e = {"old"};
  std::vector<std::string> z = {"old"};
  std::vector<std::string> absent = {"old"};
  FieldReader r(root.get(), "c");
  r.optional("a", a, 10).optional("e", e, 10).optional("z", z, 10).optional("absent", absent, 10);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(a, (std::vector<std::string>{"x", "", "y z"}));
  EXPECT_TRUE(e.empty());
  EXPECT_EQ(z, std::vector<std::string>{"old"});
  EXPECT_EQ(absent, std::vector<std::string>{"old"});

  for (const char* key : {"s", "o", "mixed", "nested", "nul"}) {
    SCOPED_TRACE(key);
    std::vector<std::string> out = {"old"};
    FieldReader w(root.get(), "c");
    w.optional(key, out, 10);
    EXPECT_TRUE(ReaderFails(w, ErrorCode::invalid_field, std::string("c.") + key + " must be an array of strings"));
    EXPECT_EQ(out, std::vector<std::string>{"old"});
  }
  std::vector<std::string> out;
  FieldReader l(root.get(), "c");
  l.optional("long", out, 10, 5);
  EXPECT_TRUE(ReaderFails(l, ErrorCode::invalid_field, "c.long has an item longer than 5 bytes"));
  EXPECT_TRUE(out.empty());

  FieldReader exact(root.get(), "c");
  exact.optional("three", out, 3);
  EXPECT_TRUE(exact.ok());
  EXPECT_EQ(out.size(), 3u);
  out.clear();
  FieldReader many(root.get(), "c");
  many.optional("three", out, 2);
  EXPECT_TRUE(ReaderFails(many, ErrorCode::invalid_field, "c.three has more than 2 items"));
  EXPECT_TRUE(out.empty());
}

TEST(FieldReader, Labels) {
  auto root = Parse(R"({"l":{"env":"prod","Rack-1.a_b":"","k":" ~!printable~ "}})");
  StringMap out;
  FieldReader r(root.get(), "facts");
  r.optional_labels("l", out);
  ASSERT_TRUE(r.ok()) << r.error()->message;
  EXPECT_EQ(out, (StringMap{{"env", "prod"}, {"Rack-1.a_b", ""}, {"k", " ~!printable~ "}}));

  StringMap untouched = {{"keep", "me"}};
  FieldReader absent(root.get(), "facts");
  absent.optional_labels("absent", untouched);
  EXPECT_TRUE(absent.ok());
  EXPECT_EQ(untouched.size(), 1u);
}

TEST(FieldReader, LabelsRefuseBadShapes) {
  const std::string k63(63, 'k');
  const std::string k64(64, 'k');
  struct Case {
    std::string json;
    std::string needle;
  };
  const std::vector<Case> cases = {
      {R"({"l":"env=prod"})", "must be an object"},
      {R"({"l":["env"]})", "must be an object"},
      {R"({"l":1})", "must be an object"},
      {R"({"l":{"":"v"}})", "invalid key"},
      {"{\"l\":{\"" + k64 + "\":\"v\"}}", "invalid key"},
      {R"({"l":{"a b":"v"}})", "invalid key"},
      {R"({"l":{"a/b":"v"}})", "invalid key"},
      {R"({"l":{"a=b":"v"}})", "invalid key"},
      {R"({"l":{"\u00e9":"v"}})", "invalid key"},
      {R"({"l":{"a\n":"v"}})", "invalid key"},
      {R"({"l":{"k":1}})", "value of \"k\""},
      {R"({"l":{"k":true}})", "value of \"k\""},
      {R"({"l":{"k":null}})", "value of \"k\""},
      {R"({"l":{"k":["v"]}})", "value of \"k\""},
      {R"({"l":{"k":{"v":"w"}}})", "value of \"k\""},
      {R"({"l":{"k":"line\nbreak"}})", "value of \"k\""},
      {R"({"l":{"k":"tab\t"}})", "value of \"k\""},
      {R"({"l":{"k":"del\u007f"}})", "value of \"k\""},
      {R"({"l":{"k":"caf\u00e9"}})", "value of \"k\""},
      {"{\"l\":{\"k\":\"" + std::string(256, 'v') + "\"}}", "value of \"k\""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.json);
    auto root = Parse(c.json);
    StringMap out = {{"keep", "me"}};
    FieldReader r(root.get(), "facts");
    r.optional_labels("l", out);
    EXPECT_TRUE(ReaderFails(r, ErrorCode::invalid_field, "facts.l"));
    EXPECT_TRUE(ReaderFails(r, ErrorCode::invalid_field, c.needle));
    EXPECT_EQ(out, (StringMap{{"keep", "me"}}));
  }
  // Boundaries that are allowed.
  auto root = Parse("{\"l\":{\"" + k63 + "\":\"" + std::string(255, 'v') + "\"}}");
  StringMap out;
  FieldReader r(root.get(), "facts");
  r.optional_labels("l", out);
  EXPECT_TRUE(r.ok());
}

TEST(FieldReader, LabelsCountLimit) {
  auto labels = [](int n) {
    std::string json = "{\"l\":{";
    for (int i = 0; i < n; ++i) json += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":\"v\"";
    return json + "}}";
  };
  auto at_limit = Parse(labels(64));
  StringMap out;
  FieldReader ok(at_limit.get(), "facts");
  ok.optional_labels("l", out);
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(out.size(), 64u);
  auto over = Parse(labels(65));
  StringMap none;
  FieldReader bad(over.get(), "facts");
  bad.optional_labels("l", none);
  EXPECT_TRUE(ReaderFails(bad, ErrorCode::invalid_field, "facts.l has more than 64 labels"));
  EXPECT_TRUE(none.empty());
}

TEST(FieldReader, OptionalObject) {
  auto root = Parse(R"({"o":{"x":1},"z":null,"a":[],"s":"{}"})");
  const cJSON* o = nullptr;
  const cJSON* z = nullptr;
  const cJSON* absent = nullptr;
  FieldReader r(root.get(), "c");
  r.optional_object("o", o).optional_object("z", z).optional_object("absent", absent);
  EXPECT_TRUE(r.ok());
  ASSERT_NE(o, nullptr);
  EXPECT_TRUE(cJSON_IsObject(o));
  EXPECT_EQ(z, nullptr);
  EXPECT_EQ(absent, nullptr);
  for (const char* key : {"a", "s"}) {
    SCOPED_TRACE(key);
    const cJSON* out = nullptr;
    FieldReader w(root.get(), "c");
    w.optional_object(key, out);
    EXPECT_TRUE(ReaderFails(w, ErrorCode::invalid_field, std::string("c.") + key + " must be an object"));
    EXPECT_EQ(out, nullptr);
  }
  // A nested reader gets its own context.
  FieldReader nested(o, "c.o");
  std::string s;
  nested.required("x", s);
  EXPECT_TRUE(ReaderFails(nested, ErrorCode::invalid_field, "c.o.x must be a string"));
}

TEST(FieldReader, OnlyRefusesUnknownFields) {
  auto root = Parse(R"({"a":1,"b":2,"extra":3})");
  FieldReader ok(root.get(), "msg");
  ok.only({"a", "b", "extra", "more"});
  EXPECT_TRUE(ok.ok());
  FieldReader bad(root.get(), "msg");
  bad.only({"a", "b"});
  EXPECT_TRUE(ReaderFails(bad, ErrorCode::unknown_field, "msg has unknown field \"extra\""));
  // Matching is case sensitive and exact.
  auto upper = Parse(R"({"A":1})");
  FieldReader cased(upper.get(), "msg");
  cased.only({"a"});
  EXPECT_TRUE(ReaderFails(cased, ErrorCode::unknown_field, "\"A\""));
  auto prefix = Parse(R"({"ab":1})");
  FieldReader pre(prefix.get(), "msg");
  pre.only({"a", "abc"});
  EXPECT_TRUE(ReaderFails(pre, ErrorCode::unknown_field, "\"ab\""));
  // An empty object passes any list.
  auto empty = Parse("{}");
  FieldReader e(empty.get(), "msg");
  e.only({});
  EXPECT_TRUE(e.ok());
}

TEST(FieldReader, Version) {
  for (const char* json : {"{}", R"({"v":1})", R"({"v":1.0})", R"({"v":null})"}) {
    SCOPED_TRACE(json);
    auto root = Parse(json);
    FieldReader r(root.get(), "task");
    r.version(1);
    EXPECT_TRUE(r.ok()) << r.error()->message;
  }
  auto v2 = Parse(R"({"v":2})");
  FieldReader r2(v2.get(), "task");
  r2.version(1);
  EXPECT_TRUE(ReaderFails(r2, ErrorCode::invalid_field, "task.v is version 2, this build speaks 1"));
  for (const char* json : {R"({"v":0})", R"({"v":-1})", R"({"v":1.5})", R"({"v":"1"})", R"({"v":true})",
                           R"({"v":[1]})", R"({"v":1001})", R"({"v":1e300})"}) {
    SCOPED_TRACE(json);
    auto root = Parse(json);
    FieldReader r(root.get(), "task");
    r.version(1);
    EXPECT_TRUE(ReaderFails(r, ErrorCode::invalid_field, "task.v"));
  }
}

TEST(FieldReader, FailRecordsCallerError) {
  auto root = Parse("{}");
  FieldReader r(root.get(), "c");
  r.fail(ErrorCode::invalid_field, "c.x is odd");
  EXPECT_TRUE(ReaderFails(r, ErrorCode::invalid_field, "c.x is odd"));
  EXPECT_EQ(r.error()->message, "c.x is odd");
}

TEST(FieldReader, FirstErrorIsKept) {
  auto root = Parse(R"({"n":"not a number","s":5,"ok":"fine","i":3,"extra":1})");
  std::int64_t n = 1;
  std::string s = "s";
  std::string ok = "before";
  std::int64_t i = 0;
  FieldReader r(root.get(), "c");
  r.required("missing", ok)  // first failure: missing_field
      .required("n", n, 0, 10)
      .required("s", s)
      .required("ok", ok)
      .optional("i", i, 0, 10)
      .only({"n"})
      .fail(ErrorCode::io, "later")
      .version(7);
  EXPECT_TRUE(ReaderFails(r, ErrorCode::missing_field, "c.missing is required"));
  EXPECT_EQ(r.error()->message, "c.missing is required");
  // Calls after the first failure read nothing.
  EXPECT_EQ(ok, "before");
  EXPECT_EQ(i, 0);
  EXPECT_EQ(n, 1);
  // has() still answers after an error.
  EXPECT_TRUE(r.has("ok"));
  EXPECT_FALSE(r.has("missing"));
}

TEST(FieldReader, FieldsBeforeTheFirstErrorAreRead) {
  auto root = Parse(R"({"a":"x","b":2,"c":"y"})");
  std::string a;
  std::string b;
  std::string c;
  FieldReader r(root.get(), "m");
  r.required("a", a).required("b", b).required("c", c);
  EXPECT_EQ(a, "x");
  EXPECT_TRUE(c.empty());
  EXPECT_TRUE(ReaderFails(r, ErrorCode::invalid_field, "m.b must be a string"));
}

TEST(FieldReader, FailAfterErrorIsIgnored) {
  auto root = Parse(R"({"a":1})");
  FieldReader r(root.get(), "m");
  r.only({"b"}).fail(ErrorCode::invalid_field, "second");
  EXPECT_TRUE(ReaderFails(r, ErrorCode::unknown_field, "\"a\""));
}

TEST(FieldReader, HasTreatsNullAsAbsent) {
  auto root = Parse(R"({"a":1,"z":null,"f":false,"e":""})");
  FieldReader r(root.get(), "m");
  EXPECT_TRUE(r.has("a"));
  EXPECT_TRUE(r.has("f"));
  EXPECT_TRUE(r.has("e"));
  EXPECT_FALSE(r.has("z"));
  EXPECT_FALSE(r.has("absent"));
  EXPECT_FALSE(r.has("A"));
}

TEST(FieldReader, EmptyContextNamesBareKey) {
  auto root = Parse("{}");
  std::string out;
  FieldReader r(root.get(), "");
  r.required("key", out);
  EXPECT_TRUE(ReaderFails(r, ErrorCode::missing_field, "key is required"));
  EXPECT_EQ(r.error()->message.rfind("key", 0), 0u) << r.error()->message;
}

// -------------------------------------------------------------- JsonBuilder

TEST(JsonBuilder, EveryOverloadRoundTrips) {
  JsonBuilder b;
  b.add("sv", std::string_view("view"))
      .add("cs", "cstr")
      .add("str", std::string("string"))
      .add("i64", std::int64_t{4503599627370496})
      .add("neg", -7)
      .add("dbl", 1764200000.123456)
      .add("t", true)
      .add("f", false)
      .add("opt_s", std::optional<std::string>("x"))
      .add("opt_s_null", std::optional<std::string>())
      .add("opt_i", std::optional<std::int64_t>(-2147483648LL))
      .add("opt_i_null", std::optional<std::int64_t>())
      .add("vec", std::vector<std::string>{"a", "b"})
      .add("empty_vec", std::vector<std::string>{})
      .add("map", StringMap{{"k", "v"}})
      .add("empty_map", StringMap{})
      .add_null("null");
  JsonPtr inner(cJSON_CreateObject());
  cJSON_AddNumberToObject(inner.get(), "n", 1);
  b.add_node("node", std::move(inner));

  const std::string text = b.dump();
  EXPECT_EQ(text.find(' '), std::string::npos) << text;
  auto root = Parse(text);
  std::string sv, cs, str;
  std::int64_t i64 = 0, neg = 0;
  double dbl = 0;
  bool t = false, f = true;
  std::optional<std::string> opt_s, opt_s_null;
  std::optional<std::int64_t> opt_i, opt_i_null;
  std::vector<std::string> vec, empty_vec = {"x"};
  StringMap map, empty_map = {{"x", "y"}};
  const cJSON* node = nullptr;
  FieldReader r(root.get(), "b");
  r.only({"sv", "cs", "str", "i64", "neg", "dbl", "t", "f", "opt_s", "opt_s_null", "opt_i", "opt_i_null", "vec",
          "empty_vec", "map", "empty_map", "null", "node"})
      .required("sv", sv)
      .required("cs", cs)
      .required("str", str)
      .required("i64", i64, 0, std::int64_t{1} << 53)
      .required("neg", neg, -10, 10)
      .required("dbl", dbl)
      .optional("t", t)
      .optional("f", f)
      .optional("opt_s", opt_s)
      .optional("opt_s_null", opt_s_null)
      .optional("opt_i", opt_i, -2147483648LL, 0)
      .optional("opt_i_null", opt_i_null, 0, 1)
      .optional("vec", vec, 5)
      .optional("empty_vec", empty_vec, 5)
      .optional_labels("map", map)
      .optional_labels("empty_map", empty_map)
      .optional_object("node", node);
  ASSERT_TRUE(r.ok()) << r.error()->message;
  EXPECT_EQ(sv, "view");
  EXPECT_EQ(cs, "cstr");
  EXPECT_EQ(str, "string");
  EXPECT_EQ(i64, 4503599627370496);
  EXPECT_EQ(neg, -7);
  EXPECT_EQ(dbl, 1764200000.123456);
  EXPECT_TRUE(t);
  EXPECT_FALSE(f);
  EXPECT_EQ(opt_s, "x");
  EXPECT_FALSE(opt_s_null.has_value());
  EXPECT_EQ(opt_i, -2147483648LL);
  EXPECT_FALSE(opt_i_null.has_value());
  EXPECT_EQ(vec, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(empty_vec.empty());
  EXPECT_EQ(map, (StringMap{{"k", "v"}}));
  EXPECT_TRUE(empty_map.empty());
  ASSERT_NE(node, nullptr);
  EXPECT_EQ(cJSON_GetObjectItemCaseSensitive(node, "n")->valuedouble, 1);
  EXPECT_TRUE(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(root.get(), "null")));
  EXPECT_TRUE(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(root.get(), "opt_s_null")));
}

TEST(JsonBuilder, EscapesStrings) {
  const std::string nasty = "quote\" backslash\\ slash/ nl\n cr\r tab\t bell\x07 del\x7F \xC3\xA9 \xF0\x9F\x98\x80 </x>";
  const std::string text = JsonBuilder().add("s", nasty).dump();
  EXPECT_EQ(text.find('\n'), std::string::npos);
  EXPECT_EQ(text.find('\x07'), std::string::npos);
  auto root = Parse(text);
  std::string back;
  FieldReader r(root.get(), "");
  r.required("s", back);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(back, nasty);
}

TEST(JsonBuilder, DoublesRoundTripExactly) {
  for (double d : {0.0, 0.1, 1.0 / 3.0, 1764200000.1, 1764200000.2, 1e-300, 1e308, -2.5}) {
    SCOPED_TRACE(d);
    auto root = Parse(JsonBuilder().add("d", d).dump());
    double back = -1;
    FieldReader r(root.get(), "");
    r.required("d", back);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(back, d);
  }
}

TEST(JsonBuilder, ReleaseHandsOverTheTree) {
  JsonBuilder b;
  b.add("a", 1);
  JsonPtr root = b.release();
  ASSERT_TRUE(cJSON_IsObject(root.get()));
  EXPECT_EQ(dump(root.get()), R"({"a":1})");
}

// ------------------------------------------------------------------- labels

TEST(LabelValidation, Keys) {
  EXPECT_TRUE(valid_label_key("a"));
  EXPECT_TRUE(valid_label_key("AZaz09_.-"));
  EXPECT_TRUE(valid_label_key(std::string(63, 'x')));
  EXPECT_FALSE(valid_label_key(""));
  EXPECT_FALSE(valid_label_key(std::string(64, 'x')));
  for (const char* bad : {"a b", "a:b", "a/b", "a=b", "a,b", "a@b", "\xC3\xA9", "a\tb", "a\x7F"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(valid_label_key(bad));
  }
  EXPECT_FALSE(valid_label_key(std::string_view("a\0b", 3)));
}

TEST(LabelValidation, Values) {
  EXPECT_TRUE(valid_label_value(""));
  EXPECT_TRUE(valid_label_value(" !~ any printable: ASCII/=,"));
  EXPECT_TRUE(valid_label_value(std::string(255, 'v')));
  EXPECT_FALSE(valid_label_value(std::string(256, 'v')));
  for (const char* bad : {"\t", "\n", "\r", "\x1F", "\x7F", "\x80", "\xC3\xA9", "\xFF"}) {
    SCOPED_TRACE(static_cast<int>(static_cast<unsigned char>(bad[0])));
    EXPECT_FALSE(valid_label_value(bad));
  }
  EXPECT_FALSE(valid_label_value(std::string_view("a\0b", 3)));
}
