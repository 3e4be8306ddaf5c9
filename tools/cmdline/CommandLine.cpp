#include "ember/CommandLine.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>

namespace ember::cmdline {

namespace {

const size_t kWidth = 80;  // help is wrapped to this many columns
const size_t kColumn = 24; // where option descriptions start

bool startsWith(const std::string &s, const std::string &p) {
  return s.compare(0, p.size(), p) == 0;
}

// The label help shows for an option: "-j N, --jobs=N", "-O<N>", "--lir".
std::string label(const Option &o) {
  std::string out;
  for (const std::string &n : o.names) {
    if (!out.empty())
      out += ", ";
    out += n;
    if (o.metavar.empty())
      continue;
    if (o.joined)
      out += "<" + o.metavar + ">";
    else if (startsWith(n, "--") && o.metavar.find('=') == std::string::npos)
      out += "=" + o.metavar;
    else
      out += " " + o.metavar;
  }
  if (o.repeatable)
    out += "...";
  return out;
}

// One help row: label, then the description from column kColumn.
std::string row(const std::string &lab, const std::string &text) {
  std::string out = "  " + lab;
  if (out.size() + 2 > kColumn) {
    out += "\n";
    out += wrap(text, kWidth, kColumn, kColumn);
  } else {
    out += std::string(kColumn - out.size(), ' ');
    out += wrap(text, kWidth, kColumn, kColumn).substr(kColumn);
  }
  return out + "\n";
}

size_t editDistance(const std::string &a, const std::string &b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j)
    prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1,
                         prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

} // namespace

std::string wrap(const std::string &text, size_t width, size_t indent,
                 size_t firstIndent) {
  // Each '\n' in `text` starts a new line; words wrap within a line.
  std::vector<std::string> lines;
  std::istringstream paragraphs(text);
  std::string para;
  while (std::getline(paragraphs, para)) {
    std::istringstream words(para);
    std::string w, line;
    while (words >> w) {
      size_t lead = lines.empty() ? firstIndent : indent;
      if (line.empty()) {
        line = std::string(lead, ' ') + w;
      } else if (line.size() + 1 + w.size() > width) {
        lines.push_back(line);
        line = std::string(indent, ' ') + w;
      } else {
        line += " " + w;
      }
    }
    lines.push_back(line); // an empty line stays empty (no blanks)
  }
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i)
    out += (i ? "\n" : "") + lines[i];
  return out;
}

Command::Command(std::string name, std::string usage, std::string summary)
    : name_(std::move(name)), usage_(std::move(usage)),
      summary_(std::move(summary)) {}

Option &Command::add(std::vector<std::string> names, std::string metavar,
                     std::string help, Parse parse) {
  Option o;
  o.names = std::move(names);
  o.metavar = std::move(metavar);
  o.help = std::move(help);
  o.parse = std::move(parse);
  options_.push_back(std::move(o));
  return options_.back();
}

void Command::positional(std::string metavar, std::string help,
                         std::vector<std::string> &out, size_t min,
                         size_t max) {
  posMetavar_ = std::move(metavar);
  posHelp_ = std::move(help);
  posOut_ = &out;
  posMin_ = min;
  posMax_ = max;
}

void Command::sectionTitle(const std::string &section,
                           const std::string &title) {
  sectionTitles_.push_back({section, title});
}

const Option *Command::find(const std::string &name) const {
  for (const Option &o : options_)
    if (!o.joined &&
        std::find(o.names.begin(), o.names.end(), name) != o.names.end())
      return &o;
  return nullptr;
}

std::string Command::suggest(const std::string &arg) const {
  std::string name = arg.substr(0, arg.find('='));
  std::string best;
  size_t bestD = 3; // at most two edits away
  for (const Option &o : options_) {
    if (o.hidden)
      continue;
    for (const std::string &n : o.names) {
      if (n.size() < 3)
        continue;
      size_t d = editDistance(name, n);
      if (d < bestD ||
          (startsWith(n, name) && name.size() >= 4 && d < 8 && best.empty())) {
        bestD = std::min(d, bestD);
        best = n;
      }
    }
  }
  return best;
}

bool Command::given(const std::string &name) const {
  for (size_t i : given_) {
    const auto &names = options_[i].names;
    if (std::find(names.begin(), names.end(), name) != names.end())
      return true;
  }
  return false;
}

int Command::usageError(const std::string &what) const {
  std::fprintf(stderr, "error: %s (%s; see '%s --help')\n", what.c_str(),
               name_.c_str(), name_.c_str());
  return 1;
}

std::optional<int> Command::parse(int argc, char **argv, int first) {
  // Arguments are numbered as in argv ("argument 3" is argv[3]).
  std::vector<std::string> args(argv, argv + argc);
  size_t skip = size_t(std::max(0, std::min(first, argc)));
  given_.clear();
  auto fail = [&](size_t i, const std::string &what) -> std::optional<int> {
    std::fprintf(stderr, "error: %s (%s, argument %zu)\n", what.c_str(),
                 name_.c_str(), i);
    return 1;
  };
  for (size_t i = skip; i < args.size(); ++i) {
    if (args[i] == "--")
      break;
    if (args[i] == "-h" || args[i] == "--help") {
      printHelp(stdout);
      return 0;
    }
  }
  std::vector<std::string> pos;
  bool optionsDone = false;
  for (size_t i = skip; i < args.size(); ++i) {
    const std::string &a = args[i];
    if (optionsDone || a == "-" || a.empty() || a[0] != '-') {
      pos.push_back(a);
      if (!posOut_)
        return fail(i, "unexpected argument '" + a + "': " + name_ +
                           " takes none");
      if (pos.size() > posMax_)
        return fail(
            i, "unexpected argument '" + a + "': " + name_ + " takes " +
                   (posMax_ == 1 ? "one " : std::to_string(posMax_) + " ") +
                   posMetavar_);
      continue;
    }
    if (a == "--") {
      optionsDone = true;
      continue;
    }
    std::string name = a;
    std::optional<std::string> value;
    size_t eq = a.find('=');
    if (eq != std::string::npos) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
    }
    const Option *o = find(name);
    if (!o) {
      // Joined options: the value is the rest of the argument.
      for (const Option &j : options_)
        for (const std::string &n : j.names)
          if (j.joined && startsWith(a, n)) {
            o = &j;
            name = n;
            value = a.substr(n.size());
          }
    }
    if (!o && a.size() > 2 && a[1] != '-') {
      // A short option with its value attached, as getopt takes it: -j2.
      const Option *shortOpt = find(a.substr(0, 2));
      if (shortOpt && !shortOpt->metavar.empty()) {
        o = shortOpt;
        name = a.substr(0, 2);
        value = a.substr(2);
      }
    }
    if (!o) {
      std::string s = suggest(a);
      return fail(i, "unknown option '" + name + "'" +
                         (s.empty() ? "" : ", did you mean '" + s + "'?"));
    }
    if (o->metavar.empty()) {
      if (value)
        return fail(i, name + " takes no value");
      value = "";
    } else if (!value || (o->joined && value->empty())) {
      if (o->joined || i + 1 >= args.size())
        return fail(i, name + " needs a value: " + label(*o));
      value = args[++i];
    }
    std::string err = o->parse(*value);
    if (!err.empty())
      return fail(i, o->metavar.empty() ? name + ": " + err
                                        : name + " '" + *value + "': " + err);
    given_.push_back(size_t(o - options_.data()));
  }
  if (pos.size() < posMin_) {
    if (posMin_ == 1)
      return usageError("missing " + posMetavar_);
    return usageError("needs at least " + std::to_string(posMin_) + " " +
                      posMetavar_);
  }
  if (posOut_)
    *posOut_ = std::move(pos);
  return std::nullopt;
}

std::optional<int> Command::parse(const std::vector<std::string> &args) {
  std::vector<char *> argv;
  argv.push_back(const_cast<char *>(name_.c_str()));
  for (const std::string &a : args)
    argv.push_back(const_cast<char *>(a.c_str()));
  return parse(int(argv.size()), argv.data(), 1);
}

std::string Command::optionsHelp() const { return optionsHelp(false); }

std::string Command::optionsHelp(bool withHelp) const {
  std::string out;
  if (posOut_ && !posMetavar_.empty() && !posHelp_.empty())
    out += "arguments:\n" + row(posMetavar_, posHelp_);
  // The command's own options first, then the sections in the order of
  // sectionTitle(), then the others; -h last, with the command's own.
  std::vector<std::string> order;
  for (const Option &o : options_)
    if (o.section.empty()) {
      order.push_back("");
      break;
    }
  for (auto &st : sectionTitles_)
    if (std::find(order.begin(), order.end(), st.first) == order.end())
      order.push_back(st.first);
  for (const Option &o : options_)
    if (std::find(order.begin(), order.end(), o.section) == order.end())
      order.push_back(o.section);
  if (withHelp && std::find(order.begin(), order.end(), "") == order.end())
    order.push_back("");
  for (const std::string &sec : order) {
    std::string rows;
    for (const Option &o : options_)
      if (o.section == sec && !o.hidden)
        rows += row(label(o), o.help);
    if (withHelp && sec.empty())
      rows += row("-h, --help", "Prints this help and exits.");
    if (rows.empty())
      continue;
    std::string title = sec.empty() ? "options" : sec;
    for (auto &st : sectionTitles_)
      if (st.first == sec)
        title = st.second;
    out += "\n" + title + ":\n" + rows;
  }
  return out;
}

std::string Command::help() const {
  std::string out = "usage: " + name_ + (usage_.empty() ? "" : " " + usage_) +
                    "\n\n" + wrap(summary_, kWidth, 0, 0) + "\n\n";
  std::string opts = optionsHelp(true);
  if (!opts.empty() && opts[0] == '\n')
    opts.erase(0, 1);
  out += opts;
  if (!epilog_.empty())
    out += "\n" + wrap(epilog_, kWidth, 0, 0) + "\n";
  return out;
}

void Command::printHelp(std::FILE *out) const {
  std::string h = help();
  std::fwrite(h.data(), 1, h.size(), out);
}

// ---- value parsers ----------------------------------------------------------

std::string parseUint(const std::string &s, uint64_t lo, uint64_t hi,
                      uint64_t &out) {
  std::string want = "expected a whole number from " + std::to_string(lo) +
                     " to " + std::to_string(hi);
  if (s.empty() || s.size() > 20 ||
      !std::all_of(s.begin(), s.end(),
                   [](char c) { return c >= '0' && c <= '9'; }))
    return want;
  errno = 0;
  unsigned long long v = std::strtoull(s.c_str(), nullptr, 10);
  if (errno == ERANGE || v < lo || v > hi)
    return want;
  out = v;
  return "";
}

Parse uintIn(uint64_t &out, uint64_t lo, uint64_t hi) {
  return [&out, lo, hi](const std::string &s) {
    return parseUint(s, lo, hi, out);
  };
}

Parse uintIn(uint32_t &out, uint32_t lo, uint32_t hi) {
  return [&out, lo, hi](const std::string &s) {
    uint64_t v = 0;
    std::string e = parseUint(s, lo, hi, v);
    if (e.empty())
      out = uint32_t(v);
    return e;
  };
}

Parse uintIn(int &out, int lo, int hi) {
  return [&out, lo, hi](const std::string &s) {
    uint64_t v = 0;
    std::string e =
        parseUint(s, uint64_t(std::max(lo, 0)), uint64_t(std::max(hi, 0)), v);
    if (e.empty())
      out = int(v);
    return e;
  };
}

Parse realIn(double &out, double lo, double hi) {
  return [&out, lo, hi](const std::string &s) -> std::string {
    std::ostringstream want;
    want << "expected a number from " << lo << " to " << hi;
    char *end = nullptr;
    errno = 0;
    double v = s.empty() ? 0 : std::strtod(s.c_str(), &end);
    if (s.empty() || *end || errno == ERANGE || !std::isfinite(v) || v < lo ||
        v > hi)
      return want.str();
    out = v;
    return "";
  };
}

Parse oneOf(std::string &out, std::vector<std::string> choices) {
  return [&out, choices](const std::string &s) -> std::string {
    if (std::find(choices.begin(), choices.end(), s) != choices.end()) {
      out = s;
      return "";
    }
    std::string list;
    for (size_t i = 0; i < choices.size(); ++i)
      list += (i ? (i + 1 == choices.size() ? " or " : ", ") : "") + choices[i];
    return "expected " + list;
  };
}

Parse text(std::string &out, bool allowEmpty) {
  return [&out, allowEmpty](const std::string &s) -> std::string {
    if (s.empty() && !allowEmpty)
      return "expected a non-empty value";
    out = s;
    return "";
  };
}

Parse append(std::vector<std::string> &out) {
  return [&out](const std::string &s) -> std::string {
    out.push_back(s);
    return "";
  };
}

namespace {
std::string splitPair(const std::string &s, const std::string &what,
                      std::string &k, std::string &v) {
  size_t eq = s.find('=');
  if (eq == std::string::npos || eq == 0)
    return "expected " + what;
  k = s.substr(0, eq);
  v = s.substr(eq + 1);
  return "";
}
} // namespace

Parse keyValue(std::map<std::string, std::string> &out, std::string what) {
  return [&out, what](const std::string &s) {
    std::string k, v, e = splitPair(s, what, k, v);
    if (e.empty())
      out[k] = v;
    return e;
  };
}

Parse keyValueList(std::vector<std::pair<std::string, std::string>> &out,
                   std::string what) {
  return [&out, what](const std::string &s) {
    std::string k, v, e = splitPair(s, what, k, v);
    if (e.empty())
      out.push_back({k, v});
    return e;
  };
}

Parse set(bool &out, bool value) {
  return [&out, value](const std::string &) -> std::string {
    out = value;
    return "";
  };
}

} // namespace ember::cmdline
