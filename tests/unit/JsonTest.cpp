// The project's one JSON module (support/Json.h): the errors name what and
// where (line and column), numbers out of a double's range are refused, the
// escaper's two quotings, and the canonical text a target description's hash
// and the tuning cache's keys are made from.
#include "support/Json.h"

#include <gtest/gtest.h>

using namespace ember;

namespace {

std::string errorOf(const std::string &text) {
  auto r = parseJson(text);
  EXPECT_FALSE(r.hasValue()) << text;
  return r.hasValue() ? std::string() : r.status().message();
}

} // namespace

TEST(Json, ErrorsNameWhatAndWhere) {
  EXPECT_EQ(errorOf("{\"a\": 1,\n  \"b\" 2}"),
            "expected ':' after a member name (line 2, column 7)");
  EXPECT_EQ(errorOf("\x01\x02"), "unexpected byte 0x01 (line 1, column 1)");
  EXPECT_EQ(errorOf("[1, \xff]"), "unexpected byte 0xff (line 1, column 5)");
  EXPECT_EQ(errorOf("[1, ?]"), "unexpected character '?' (line 1, column 5)");
  EXPECT_EQ(errorOf("{\"entries\": ["),
            "unexpected end of input (line 1, column 14)");
  EXPECT_EQ(errorOf("[1e999]"),
            "number '1e999' out of range (line 1, column 7)");
  EXPECT_EQ(errorOf("[1] x"),
            "trailing characters after the document (line 1, column 5)");
  EXPECT_EQ(errorOf(std::string(65, '[') + std::string(65, ']')),
            "nesting deeper than 64 levels (line 1, column 65)");
  EXPECT_TRUE(parseJson(std::string(64, '[') + std::string(64, ']')));
}

TEST(Json, Quoting) {
  const std::string s = "a\"\\\n\t\x01\x7f\xc3\xa9";
  EXPECT_EQ(jsonQuote(s), "\"a\\\"\\\\\\n\\t\\u0001\x7f\xc3\xa9\"");
  EXPECT_EQ(jsonQuote(s, JsonQuoting::Ascii),
            "\"a\\\"\\\\\\u000a\\u0009\\u0001\\u007f\\u00c3\\u00a9\"");
  // Both read back as the bytes (\u00XX as a code point: é's bytes written
  // Ascii read back as two code points, as the tuning cache always did).
  auto readable = parseJson("[" + jsonQuote(s) + "]");
  ASSERT_TRUE(readable.hasValue()) << readable.status().message();
  EXPECT_EQ(readable->items()[0].str(), s);
  auto ascii = parseJson("[" + jsonQuote("key \t1", JsonQuoting::Ascii) + "]");
  ASSERT_TRUE(ascii.hasValue()) << ascii.status().message();
  EXPECT_EQ(ascii->items()[0].str(), "key \t1");
}

TEST(Json, Canonical) {
  auto v = parseJson("{ \"b\": [1.0, 2.5, -3e2, 1e20], \"a\": {\"y\": true, "
                     "\"x\": null}, \"c\": \"\xc3\xa9\" }");
  ASSERT_TRUE(v.hasValue()) << v.status().message();
  EXPECT_EQ(jsonCanonical(*v), "{\"a\":{\"x\":null,\"y\":true},\"b\":[1,2.5,"
                               "-300,1e+20],\"c\":\"\\u00c3\\u00a9\"}");
}
