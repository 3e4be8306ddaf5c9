#include "ember/api/JUnit.h"

#include "support/Xml.h"

#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <sstream>

namespace ember::api {

std::string junitReport(const std::string &suite,
                        const std::vector<ConformCase> &cases,
                        const std::vector<ConformResult> &results,
                        const ShardInfo &shard) {
  size_t fail = 0, skip = 0;
  for (auto &r : results) {
    if (r.status == "UNSUPPORTED")
      ++skip;
    else if (r.status != "PASS")
      ++fail;
  }
  std::ostringstream j;
  j << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n"
    << "<testsuite name=\"" << xmlEscape(suite) << "\" tests=\"" << cases.size()
    << "\" failures=\"" << fail << "\" skipped=\"" << skip << "\">\n";
  if (shard.count)
    j << "  <properties>\n    <property name=\"shard\" value=\"" << shard.index
      << "/" << shard.count << "\"/>\n"
      << "    <property name=\"cases\" value=\"" << shard.totalCases
      << "\"/>\n  </properties>\n";
  for (size_t i = 0; i < cases.size() && i < results.size(); ++i) {
    auto &r = results[i];
    j << "  <testcase classname=\"conform\" name=\"" << xmlEscape(cases[i].name)
      << "\" time=\"" << r.seconds << "\"";
    if (r.status == "PASS")
      j << "/>\n";
    else if (r.status == "UNSUPPORTED")
      j << "><skipped message=\"" << xmlEscape(r.reason) << "\"/></testcase>\n";
    else
      j << "><failure message=\"" << xmlEscape(r.status + ": " + r.reason)
        << "\"/></testcase>\n";
  }
  j << "</testsuite>\n</testsuites>\n";
  return j.str();
}

namespace {

// What the merge needs of one report: its suites' names and counts, the
// shard properties, and each test case's element verbatim.
struct Suite {
  std::string name;
  std::map<std::string, std::string> properties;
  std::vector<std::string> cases; // <testcase ...>...</testcase> as written
  size_t failures = 0, skipped = 0, errors = 0;
  double time = 0;
};

std::string unescape(const std::string &s) {
  std::string o;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      o += s[i];
      continue;
    }
    size_t semi = s.find(';', i);
    if (semi == std::string::npos) {
      o += s[i];
      continue;
    }
    std::string e = s.substr(i + 1, semi - i - 1);
    if (e == "lt")
      o += '<';
    else if (e == "gt")
      o += '>';
    else if (e == "amp")
      o += '&';
    else if (e == "quot")
      o += '"';
    else if (e == "apos")
      o += '\'';
    else if (!e.empty() && e[0] == '#') {
      long c = e.size() > 1 && (e[1] == 'x' || e[1] == 'X')
                   ? std::strtol(e.c_str() + 2, nullptr, 16)
                   : std::strtol(e.c_str() + 1, nullptr, 10);
      if (c > 0 && c < 128)
        o += char(c);
    } else {
      o += s.substr(i, semi - i + 1);
    }
    i = semi;
  }
  return o;
}

struct Tag {
  std::string name;
  std::map<std::string, std::string> attrs;
  bool closing = false, selfClosing = false;
  size_t begin = 0, end = 0; // offsets of '<' and one past '>'
};

// The next tag at or after `pos` (comments, declarations, CDATA and
// processing instructions skipped); false at the end of the text.
Expected<bool> nextTag(const std::string &s, size_t &pos, Tag &t,
                       const std::string &file) {
  for (;;) {
    size_t lt = s.find('<', pos);
    if (lt == std::string::npos)
      return false;
    auto skipTo = [&](const char *endMark) -> Status {
      size_t e = s.find(endMark, lt);
      if (e == std::string::npos)
        return invalid("unterminated markup at byte ", lt, " (", file, ")");
      pos = e + std::strlen(endMark);
      return Status::ok();
    };
    if (s.compare(lt, 4, "<!--") == 0) {
      EMBER_TRY(skipTo("-->"));
      continue;
    }
    if (s.compare(lt, 9, "<![CDATA[") == 0) {
      EMBER_TRY(skipTo("]]>"));
      continue;
    }
    if (s.compare(lt, 2, "<?") == 0) {
      EMBER_TRY(skipTo("?>"));
      continue;
    }
    if (s.compare(lt, 2, "<!") == 0) {
      EMBER_TRY(skipTo(">"));
      continue;
    }
    t = Tag();
    t.begin = lt;
    size_t i = lt + 1;
    if (i < s.size() && s[i] == '/') {
      t.closing = true;
      ++i;
    }
    size_t n = i;
    while (n < s.size() && !isspace(static_cast<unsigned char>(s[n])) &&
           s[n] != '>' && s[n] != '/')
      ++n;
    t.name = s.substr(i, n - i);
    if (t.name.empty())
      return invalid("malformed tag at byte ", lt, " (", file, ")");
    i = n;
    for (;;) {
      while (i < s.size() && isspace(static_cast<unsigned char>(s[i])))
        ++i;
      if (i >= s.size())
        return invalid("unterminated tag <", t.name, "> at byte ", lt, " (",
                       file, ")");
      if (s[i] == '>') {
        ++i;
        break;
      }
      if (s[i] == '/' && i + 1 < s.size() && s[i + 1] == '>') {
        t.selfClosing = true;
        i += 2;
        break;
      }
      size_t eq = s.find('=', i);
      if (eq == std::string::npos)
        return invalid("malformed attribute in <", t.name, "> at byte ", i,
                       " (", file, ")");
      std::string key = s.substr(i, eq - i);
      while (!key.empty() && isspace(static_cast<unsigned char>(key.back())))
        key.pop_back();
      size_t q = eq + 1;
      while (q < s.size() && isspace(static_cast<unsigned char>(s[q])))
        ++q;
      if (q >= s.size() || (s[q] != '"' && s[q] != '\''))
        return invalid("unquoted attribute '", key, "' in <", t.name,
                       "> at byte ", i, " (", file, ")");
      size_t close = s.find(s[q], q + 1);
      if (close == std::string::npos)
        return invalid("unterminated attribute '", key, "' in <", t.name, "> (",
                       file, ")");
      t.attrs[key] = unescape(s.substr(q + 1, close - q - 1));
      i = close + 1;
    }
    t.end = i;
    pos = i;
    return true;
  }
}

Expected<std::vector<Suite>> parseReport(const std::string &s,
                                         const std::string &file) {
  std::vector<Suite> suites;
  std::vector<std::string> stack;
  size_t pos = 0, caseBegin = 0;
  Tag t;
  for (;;) {
    EMBER_ASSIGN(bool more, nextTag(s, pos, t, file));
    if (!more)
      break;
    if (t.closing) {
      if (stack.empty() || stack.back() != t.name)
        return invalid("</", t.name, "> at byte ", t.begin, " closes ",
                       stack.empty() ? std::string("nothing")
                                     : "<" + stack.back() + ">",
                       " (", file, ")");
      stack.pop_back();
      if (t.name == "testcase" && !suites.empty())
        suites.back().cases.push_back(s.substr(caseBegin, t.end - caseBegin));
      continue;
    }
    bool inSuite = !stack.empty() && stack.back() == "testsuite";
    if (t.name == "testsuite") {
      suites.emplace_back();
      suites.back().name = t.attrs["name"];
    } else if (t.name == "testcase") {
      if (suites.empty() || !inSuite)
        return invalid("<testcase> outside a <testsuite> at byte ", t.begin,
                       " (", file, ")");
      caseBegin = t.begin;
      if (t.attrs.count("time"))
        suites.back().time += std::strtod(t.attrs["time"].c_str(), nullptr);
      if (t.selfClosing)
        suites.back().cases.push_back(s.substr(t.begin, t.end - t.begin));
    } else if (t.name == "property" && !suites.empty() && stack.size() >= 2 &&
               stack[stack.size() - 2] == "testsuite") {
      suites.back().properties[t.attrs["name"]] = t.attrs["value"];
    } else if (!stack.empty() && stack.back() == "testcase") {
      if (t.name == "failure")
        ++suites.back().failures;
      else if (t.name == "error")
        ++suites.back().errors;
      else if (t.name == "skipped")
        ++suites.back().skipped;
    }
    if (!t.selfClosing)
      stack.push_back(t.name);
  }
  if (!stack.empty())
    return invalid("<", stack.back(), "> is never closed (", file, ")");
  if (suites.empty())
    return invalid("no <testsuite> in the report (", file, ")");
  return suites;
}

} // namespace

Expected<std::string> mergeJUnitReports(const std::vector<std::string> &names,
                                        const std::vector<std::string> &texts) {
  if (texts.empty())
    return invalid("no reports to merge");
  struct Shard {
    size_t index = 0, count = 0, total = 0;
    std::string file;
    std::vector<Suite> suites;
  };
  std::vector<Shard> shards;
  size_t sharded = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    Shard sh;
    sh.file = names[i];
    EMBER_ASSIGN(sh.suites, parseReport(texts[i], names[i]));
    auto &props = sh.suites[0].properties;
    if (props.count("shard")) {
      if (sh.suites.size() != 1)
        return invalid("a shard's report holds one <testsuite>, this one ",
                       sh.suites.size(), " (", names[i], ")");
      EMBER_TRY(
          parseShard(props["shard"], sh.index, sh.count).withContext(names[i]));
      sh.total = size_t(std::strtoull(props["cases"].c_str(), nullptr, 10));
      ++sharded;
    }
    shards.push_back(std::move(sh));
  }
  if (sharded != 0 && sharded != shards.size())
    for (auto &sh : shards)
      if (!sh.count)
        return invalid("mixing a sharded run's reports with another report (",
                       sh.file, " has no shard property)");

  Suite out;
  out.name = shards[0].suites[0].name;
  std::vector<const std::string *> ordered;
  if (sharded) {
    size_t n = shards[0].count, total = shards[0].total;
    std::vector<const Shard *> byIndex(n + 1, nullptr);
    for (auto &sh : shards) {
      if (sh.count != n || sh.total != total)
        return invalid(sh.file, " is shard ", sh.index, "/", sh.count, " of ",
                       sh.total, " cases, ", shards[0].file, " ",
                       shards[0].index, "/", n, " of ", total,
                       ": not one split");
      if (byIndex[sh.index])
        return invalid("shard ", sh.index, "/", n, " given twice (",
                       byIndex[sh.index]->file, ", ", sh.file, ")");
      byIndex[sh.index] = &sh;
    }
    std::string missing;
    for (size_t i = 1; i <= n; ++i)
      if (!byIndex[i])
        missing += (missing.empty() ? "" : ", ") + concat(i, "/", n);
    if (!missing.empty())
      return invalid("shards missing: ", missing, " (", texts.size(), " of ", n,
                     " reports given)");
    for (size_t i = 1; i <= n; ++i) {
      const Suite &su = byIndex[i]->suites[0];
      size_t want = total / n + (i - 1 < total % n ? 1 : 0);
      if (su.cases.size() != want)
        return invalid(byIndex[i]->file, " (shard ", i, "/", n, ") holds ",
                       su.cases.size(), " cases; shard ", i, " of ", total,
                       " cases has ", want);
    }
    // Case k of the whole run is case k / n of shard k % n + 1.
    for (size_t k = 0; k < total; ++k)
      ordered.push_back(&byIndex[k % n + 1]->suites[0].cases[k / n]);
  } else {
    for (auto &sh : shards)
      for (auto &su : sh.suites)
        for (auto &c : su.cases)
          ordered.push_back(&c);
  }
  for (auto &sh : shards)
    for (auto &su : sh.suites) {
      out.failures += su.failures;
      out.errors += su.errors;
      out.skipped += su.skipped;
      out.time += su.time;
    }
  std::ostringstream j;
  j << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n"
    << "<testsuite name=\"" << xmlEscape(out.name) << "\" tests=\""
    << ordered.size() << "\" failures=\"" << out.failures << "\"";
  if (out.errors)
    j << " errors=\"" << out.errors << "\"";
  j << " skipped=\"" << out.skipped << "\" time=\"" << out.time << "\">\n";
  for (const std::string *c : ordered)
    j << "  " << *c << "\n";
  j << "</testsuite>\n</testsuites>\n";
  return j.str();
}

} // namespace ember::api
