// The command-line layer of the tools (tools/cmdline): syntax, values,
// errors, help.
#include "ember/CommandLine.h"

#include <gtest/gtest.h>

#include <sstream>

using namespace ember::cmdline;

namespace {

struct Parsed {
  std::optional<int> rc;
  std::string out, err;
};

// A small command: a flag, a checked number, a repeatable pair, a joined
// level, one or two positionals.
struct Fixture {
  bool verbose = false;
  uint32_t threads = 0;
  int level = 2;
  std::string name;
  std::map<std::string, std::string> kv;
  std::vector<std::string> pos;
  Command cmd{"tool run", "FILE... [options]", "Runs FILE."};

  Fixture() {
    cmd.positional("FILE", "An input.", pos, 1, 2);
    cmd.add({"--verbose", "-v"}, "", "Says more.", set(verbose));
    cmd.add({"--threads"}, "N", "Threads.", uintIn(threads, 1, 256))
        .inSection("run");
    cmd.add({"--opt"}, "KEY=VALUE", "A pair.", keyValue(kv)).setRepeatable();
    cmd.add({"-O"}, "N", "Level.", uintIn(level, 0, 3)).setJoined();
    cmd.add({"--name"}, "S", "A name.", text(name));
    cmd.add({"--secret"}, "", "Hidden.", set(verbose)).setHidden();
    cmd.sectionTitle("run", "running");
  }

  Parsed parse(std::vector<std::string> args) {
    Parsed p;
    testing::internal::CaptureStdout();
    testing::internal::CaptureStderr();
    p.rc = cmd.parse(args);
    p.out = testing::internal::GetCapturedStdout();
    p.err = testing::internal::GetCapturedStderr();
    return p;
  }
};

} // namespace

TEST(CommandLine, ValuesFlagsAndPositionals) {
  Fixture f;
  Parsed p = f.parse({"a.onnx", "--threads=4", "-v", "--opt", "x=1",
                      "--opt=y=2=3", "-O3", "--name", "-dash-", "b.onnx"});
  ASSERT_FALSE(p.rc) << p.err;
  EXPECT_TRUE(f.verbose);
  EXPECT_EQ(f.threads, 4u);
  EXPECT_EQ(f.level, 3);
  EXPECT_EQ(f.name, "-dash-"); // the next argument is the value, even "-..."
  EXPECT_EQ(f.kv,
            (std::map<std::string, std::string>{{"x", "1"}, {"y", "2=3"}}));
  EXPECT_EQ(f.pos, (std::vector<std::string>{"a.onnx", "b.onnx"}));
  EXPECT_TRUE(f.cmd.given("--threads"));
  EXPECT_TRUE(f.cmd.given("-v"));
  EXPECT_TRUE(f.cmd.given("--verbose"));
  EXPECT_FALSE(f.cmd.given("--secret"));
}

TEST(CommandLine, LastValueWinsAndDoubleDashEndsOptions) {
  Fixture f;
  Parsed p = f.parse({"--threads", "2", "--threads=8", "--", "--threads"});
  ASSERT_FALSE(p.rc) << p.err;
  EXPECT_EQ(f.threads, 8u);
  EXPECT_EQ(f.pos, std::vector<std::string>{"--threads"});
}

TEST(CommandLine, ShortOptionTakesAnAttachedValue) {
  uint32_t jobs = 0;
  bool quiet = false;
  std::vector<std::string> pos;
  Command cmd{"tool run", "[options]", "Runs."};
  cmd.positional("FILE", "An input.", pos, 0, 1);
  cmd.add({"--jobs", "-j"}, "N", "Jobs.", uintIn(jobs, 1, 64));
  cmd.add({"--quiet", "-q"}, "", "Says less.", set(quiet));
  ASSERT_FALSE(cmd.parse({"-j2"}));
  EXPECT_EQ(jobs, 2u);
  ASSERT_FALSE(cmd.parse({"-j", "3"}));
  EXPECT_EQ(jobs, 3u);
  testing::internal::CaptureStderr();
  std::optional<int> rc = cmd.parse({"-j0"});
  std::string err = testing::internal::GetCapturedStderr();
  ASSERT_TRUE(rc);
  EXPECT_EQ(err, "error: -j '0': expected a whole number from 1 to 64 (tool "
                 "run, argument 1)\n");
  // A flag takes no value, attached or not.
  testing::internal::CaptureStderr();
  rc = cmd.parse({"-qx"});
  err = testing::internal::GetCapturedStderr();
  ASSERT_TRUE(rc);
  EXPECT_EQ(err, "error: unknown option '-qx' (tool run, argument 1)\n");
}

TEST(CommandLine, ErrorsNameTheArgument) {
  struct Case {
    std::vector<std::string> args;
    std::string err;
  } cases[] = {
      {{"a", "--threads", "abc"},
       "error: --threads 'abc': expected a whole number from 1 to 256 "
       "(tool run, argument 3)\n"},
      {{"a", "--threads=0"},
       "error: --threads '0': expected a whole number from 1 to 256 (tool "
       "run, argument 2)\n"},
      {{"a", "--threads=99999999999999999999999"},
       "error: --threads '99999999999999999999999': expected a whole number "
       "from 1 to 256 (tool run, argument 2)\n"},
      {{"a", "--threads= 4"},
       "error: --threads ' 4': expected a whole number from 1 to 256 (tool "
       "run, argument 2)\n"},
      {{"a", "--thread=4"},
       "error: unknown option '--thread', did you mean '--threads'? (tool "
       "run, argument 2)\n"},
      {{"a", "--zzz"},
       "error: unknown option '--zzz' (tool run, argument 2)\n"},
      {{"a", "--threads"},
       "error: --threads needs a value: --threads=N (tool run, argument 2)\n"},
      {{"a", "-O"}, "error: -O needs a value: -O<N> (tool run, argument 2)\n"},
      {{"a", "-O4"},
       "error: -O '4': expected a whole number from 0 to 3 (tool run, "
       "argument 2)\n"},
      {{"a", "--verbose=1"},
       "error: --verbose takes no value (tool run, argument 2)\n"},
      {{"a", "--opt", "novalue"},
       "error: --opt 'novalue': expected KEY=VALUE (tool run, argument 3)\n"},
      {{"a", "--opt", "=v"},
       "error: --opt '=v': expected KEY=VALUE (tool run, argument 3)\n"},
      {{"a", "--name="},
       "error: --name '': expected a non-empty value (tool run, argument "
       "2)\n"},
      {{"a", "b", "c"},
       "error: unexpected argument 'c': tool run takes 2 FILE (tool run, "
       "argument 3)\n"},
      {{}, "error: missing FILE (tool run; see 'tool run --help')\n"},
      {{"--secre"}, "error: unknown option '--secre' (tool run, argument 1)\n"},
  };
  for (const Case &c : cases) {
    Fixture f;
    Parsed p = f.parse(c.args);
    ASSERT_TRUE(p.rc) << c.err;
    EXPECT_EQ(*p.rc, 1) << c.err;
    EXPECT_EQ(p.err, c.err);
    EXPECT_EQ(p.out, "");
  }
}

TEST(CommandLine, HelpDescribesEveryVisibleOption) {
  Fixture f;
  Parsed p = f.parse({"a", "--threads=abc", "--help"}); // --help wins
  ASSERT_TRUE(p.rc);
  EXPECT_EQ(*p.rc, 0);
  EXPECT_EQ(p.err, "");
  EXPECT_EQ(p.out, f.cmd.help());
  const std::string &h = p.out;
  EXPECT_EQ(h.rfind("usage: tool run FILE... [options]\n\nRuns FILE.\n", 0),
            0u);
  for (const char *s :
       {"  FILE ", "--verbose, -v ", "--opt KEY=VALUE...", "-O<N>", "--name=S",
        "\nrunning:\n  --threads=N", "-h, --help"})
    EXPECT_NE(h.find(s), std::string::npos) << s << "\n" << h;
  EXPECT_EQ(h.find("--secret"), std::string::npos);
  // The command's own options come first, help last among them.
  EXPECT_LT(h.find("--verbose"), h.find("running:"));
  EXPECT_LT(h.find("--name"), h.find("-h, --help"));
  std::istringstream lines(h);
  std::string line;
  while (std::getline(lines, line)) {
    EXPECT_LE(line.size(), 80u) << line;
    EXPECT_TRUE(line.empty() || line.back() != ' ') << "'" << line << "'";
  }
  Fixture g;
  EXPECT_EQ(*g.parse({"-h"}).rc, 0);
  // After "--", -h is an argument.
  Fixture k;
  Parsed q = k.parse({"--", "-h"});
  EXPECT_FALSE(q.rc) << q.err;
  EXPECT_EQ(k.pos, std::vector<std::string>{"-h"});
}

TEST(CommandLine, ValueParsers) {
  uint64_t u = 7;
  EXPECT_EQ(uintIn(u, 0, UINT64_MAX)("18446744073709551615"), "");
  EXPECT_EQ(u, UINT64_MAX);
  EXPECT_NE(uintIn(u, 0, UINT64_MAX)("18446744073709551616"), "");
  EXPECT_NE(uintIn(u, 0, 10)("-1"), "");
  EXPECT_NE(uintIn(u, 0, 10)("+1"), "");
  EXPECT_NE(uintIn(u, 0, 10)("1k"), "");
  EXPECT_NE(uintIn(u, 0, 10)(""), "");
  EXPECT_EQ(u, UINT64_MAX); // untouched by bad values
  double d = 0;
  EXPECT_EQ(realIn(d, 0, 1)("1e-3"), "");
  EXPECT_EQ(d, 1e-3);
  for (const char *bad : {"nan", "inf", "-0.5", "2", "0.1x", "", "1e999"})
    EXPECT_NE(realIn(d, 0, 1)(bad), "") << bad;
  EXPECT_EQ(d, 1e-3);
  std::string s;
  EXPECT_EQ(oneOf(s, {"a", "b", "c"})("d"), "expected a, b or c");
  EXPECT_EQ(oneOf(s, {"a", "b"})("b"), "");
  EXPECT_EQ(s, "b");
  std::vector<std::pair<std::string, std::string>> list;
  EXPECT_EQ(keyValueList(list, "NAME=FILE")("x=a.npy"), "");
  EXPECT_EQ(keyValueList(list, "NAME=FILE")("x=b.npy"), "");
  EXPECT_EQ(keyValueList(list, "NAME=FILE")("x"), "expected NAME=FILE");
  EXPECT_EQ(list.size(), 2u);
}

TEST(CommandLine, Wrap) {
  EXPECT_EQ(wrap("aaa bbb ccc", 7, 2, 0), "aaa bbb\n  ccc");
  EXPECT_EQ(wrap("one\ntwo", 80, 4, 4), "    one\n    two");
  EXPECT_EQ(wrap("", 80, 0, 0), "");
}
