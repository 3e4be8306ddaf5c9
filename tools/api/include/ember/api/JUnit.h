// JUnit XML of conformance runs: one report per run (or per shard of a
// sharded run), and the merge of a sharded run's reports into one.
#pragma once

#include "ember/api/Conform.h"

#include <string>
#include <vector>

namespace ember::api {

// Which part of a sharded run a report holds (count 0: not sharded).
struct ShardInfo {
  size_t index = 0, count = 0;
  size_t totalCases = 0; // cases of the whole run, before sharding
};

// The report of one run: a <testsuite> named `suite` with one <testcase>
// per case; a sharded run records its shard and the run's case count as
// <properties>.
std::string junitReport(const std::string &suite,
                        const std::vector<ConformCase> &cases,
                        const std::vector<ConformResult> &results,
                        const ShardInfo &shard = {});

// Merges the reports of a sharded run (any order) into one report whose
// test cases are in the unsharded run's order. Every shard 1..N of one
// split must be there exactly once, and the case counts must add up;
// otherwise the error names the file and what is missing or repeated.
// Reports without shard properties are concatenated in the order given.
// `texts[i]` is the content of `names[i]` (for messages).
Expected<std::string> mergeJUnitReports(const std::vector<std::string> &names,
                                        const std::vector<std::string> &texts);

} // namespace ember::api
