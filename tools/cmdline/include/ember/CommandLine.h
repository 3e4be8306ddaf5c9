// The command-line layer of Ember's tools (`ember` and its subcommands,
// `ember-npu`): options are declared once, with their help text and a value
// parser, and every command gets the same parsing, `--help` and errors.
//
//   Command cmd("ember bench", "MODEL [options]", "Times a model ...");
//   cmd.add({"--runs"}, "N", "Timed runs.", uintIn(runs, 1, 100000));
//   cmd.positional("MODEL", "an ONNX model", models, 1, 1);
//   if (auto rc = cmd.parse(argc, argv, 2))
//     return *rc; // --help (0) or an error, already printed (1)
//
// Syntax: `--name=VALUE` or `--name VALUE` for a value option (the next
// argument is its value even when it starts with '-'), `--name` for a flag,
// `-O2` for a joined option, `--` ends the options. An option given twice
// keeps its last value unless it is repeatable (each value is parsed in
// turn). `-h` or `--help` anywhere prints the command's help and exits 0.
// Errors read `error: <what> (<command>, argument N)` on stderr, exit 1.
// docs/command-line.md explains the design and why it is not llvm::cl.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ember::cmdline {

// Parses an option's value into its destination. Returns "" when the value
// is good, otherwise what is wrong with it ("expected a whole number from 1
// to 256"); the caller adds the option, the value and the argument number.
// A flag's parser is called with "".
using Parse = std::function<std::string(const std::string &value)>;

struct Option {
  // "--threads", "-j": every spelling; the first is the one help shows.
  std::vector<std::string> names;
  // What the value is called in help ("N", "FILE"); empty for a flag.
  std::string metavar;
  // What the option does, its default and its range, in sentences.
  std::string help;
  Parse parse;
  // The value is part of the argument (`-O2`), never the next one.
  bool joined = false;
  // Help shows "..." after it (each occurrence adds a value).
  bool repeatable = false;
  // Left out of --help: compatibility spellings, internal switches.
  bool hidden = false;
  // The help section it is listed under ("" for the command's own).
  std::string section;

  // Chained setters: cmd.add(...).inSection("target").setRepeatable().
  Option &setJoined() {
    joined = true;
    return *this;
  }
  Option &setRepeatable() {
    repeatable = true;
    return *this;
  }
  Option &setHidden() {
    hidden = true;
    return *this;
  }
  Option &inSection(std::string s) {
    section = std::move(s);
    return *this;
  }
};

class Command {
public:
  // name: "ember run"; usage: what follows the name ("MODEL [options]");
  // summary: what the command does, printed under the usage line.
  Command(std::string name, std::string usage, std::string summary);

  // Declares an option; its spellings, what its value is called (empty for
  // a flag), what it does, and its value's parser.
  Option &add(std::vector<std::string> names, std::string metavar,
              std::string help, Parse parse);
  // The positional arguments: their name in help, what they are, and how
  // many the command takes.
  void positional(std::string metavar, std::string help,
                  std::vector<std::string> &out, size_t min, size_t max);
  // Text printed after the options (outputs, examples).
  void epilog(std::string text) { epilog_ = std::move(text); }
  // The order sections are listed in (others follow, in declaration order).
  void sectionTitle(const std::string &section, const std::string &title);

  // Parses argv[first, argc). Returns nothing when the command should run,
  // otherwise the exit status: 0 after --help, 1 after an error, which has
  // been printed to stderr.
  std::optional<int> parse(int argc, char **argv, int first);
  std::optional<int> parse(const std::vector<std::string> &args);

  // Whether an option (by any of its names) was given.
  bool given(const std::string &name) const;
  const std::string &name() const { return name_; }

  // "error: <what> (<command>; see '<command> --help')" on stderr; returns
  // the exit status, 1. For errors found after parsing (options that do not
  // go together, a missing -o).
  int usageError(const std::string &what) const;

  std::string help() const;
  void printHelp(std::FILE *out) const;
  // The options and positional rows of help() only, for the parent command.
  std::string optionsHelp() const;
  const std::vector<Option> &options() const { return options_; }

private:
  std::string optionsHelp(bool withHelp) const;
  const Option *find(const std::string &name) const;
  std::string suggest(const std::string &arg) const;

  std::string name_, usage_, summary_, epilog_;
  std::vector<Option> options_;
  std::vector<std::pair<std::string, std::string>> sectionTitles_;
  std::string posMetavar_, posHelp_;
  std::vector<std::string> *posOut_ = nullptr;
  size_t posMin_ = 0, posMax_ = 0;
  std::vector<size_t> given_; // indices into options_
};

// ---- value parsers ----------------------------------------------------------
// Each writes its destination only when the value is good.

// A whole number in [lo, hi] (decimal; no sign, no suffix, no blanks).
Parse uintIn(uint64_t &out, uint64_t lo, uint64_t hi);
Parse uintIn(uint32_t &out, uint32_t lo, uint32_t hi);
Parse uintIn(int &out, int lo, int hi);
// A finite real number in [lo, hi].
Parse realIn(double &out, double lo, double hi);
// One of `choices`.
Parse oneOf(std::string &out, std::vector<std::string> choices);
// Any string (non-empty unless allowEmpty).
Parse text(std::string &out, bool allowEmpty = false);
// Appends each value (for repeatable options).
Parse append(std::vector<std::string> &out);
// KEY=VALUE with a non-empty KEY, into a map (a repeated KEY keeps the last).
// `what` names the pair in the error ("KEY=VALUE", "NAME=FILE").
Parse keyValue(std::map<std::string, std::string> &out,
               std::string what = "KEY=VALUE");
// KEY=VALUE appended in order (repeated keys kept).
Parse keyValueList(std::vector<std::pair<std::string, std::string>> &out,
                   std::string what = "KEY=VALUE");
// A flag: sets `out` to `value`.
Parse set(bool &out, bool value = true);

// Parses a whole decimal number in [lo, hi]; "" when good, else the problem.
std::string parseUint(const std::string &s, uint64_t lo, uint64_t hi,
                      uint64_t &out);

// Wraps `text` to `width` columns, each line after the first indented by
// `indent` spaces (the first by `firstIndent`).
std::string wrap(const std::string &text, size_t width, size_t indent,
                 size_t firstIndent);

} // namespace ember::cmdline
