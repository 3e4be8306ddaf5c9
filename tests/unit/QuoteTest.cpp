// The text forms' one string literal (support/Quote.h): every byte string
// reads back as itself, a literal is one line of printable ASCII, and the
// reader's errors name the fault and leave the position at it.
#include "support/Quote.h"

#include <gtest/gtest.h>

#include <random>

using namespace ember;

namespace {

std::string errorOf(const std::string &text, size_t &pos) {
  pos = 0;
  Expected<std::string> r = readQuoted(text, pos);
  EXPECT_FALSE(r.hasValue()) << text;
  return r.hasValue() ? std::string() : r.status().message();
}

} // namespace

TEST(Quote, EveryByteStringReadsBackAsItself) {
  std::mt19937 rng(7);
  for (int n = 0; n < 2000; ++n) {
    std::string s(size_t(rng() % 24), '\0');
    for (char &c : s)
      c = char(rng() % 256);
    const std::string q = quoteString(s) + " tail";
    for (char c : q)
      ASSERT_TRUE(c >= 0x20 && c < 0x7f) << "not printable ASCII";
    size_t pos = 0;
    Expected<std::string> r = readQuoted(q, pos);
    ASSERT_TRUE(r.hasValue()) << q << ": " << r.status().message();
    EXPECT_EQ(*r, s);
    EXPECT_EQ(q.substr(pos), " tail");
  }
}

TEST(Quote, EscapesQuotesBackslashesAndControlBytes) {
  EXPECT_EQ(quoteString("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(quoteString("x\ny\t\x7f\xc3\xa9"), "\"x\\0Ay\\09\\7F\\C3\\A9\"");
  size_t pos = 0;
  Expected<std::string> lower = readQuoted("\"\\c3\\a9\"", pos);
  ASSERT_TRUE(lower.hasValue());
  EXPECT_EQ(*lower, "\xc3\xa9");
}

TEST(Quote, ErrorsNameTheFaultAndLeaveThePositionAtIt) {
  size_t pos = 0;
  EXPECT_EQ(errorOf("abc", pos), "expected a string");
  EXPECT_EQ(pos, 0u);
  EXPECT_EQ(errorOf("\"abc", pos), "unterminated string");
  EXPECT_EQ(pos, 4u);
  EXPECT_EQ(errorOf("\"ab\ncd\"", pos), "unterminated string");
  EXPECT_EQ(pos, 3u);
  EXPECT_EQ(errorOf("\"a\\", pos), "unterminated string");
  EXPECT_EQ(errorOf("\"a\\n\"", pos), "bad escape in string");
  EXPECT_EQ(pos, 2u);
  EXPECT_EQ(errorOf("\"a\\4\"", pos), "bad escape in string");
  EXPECT_EQ(errorOf("\"a\\4", pos), "bad escape in string");
}
