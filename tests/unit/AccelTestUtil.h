// Test targets of the NPU compiler layer's unit tests: the descriptions in
// tests/accel/targets, parsed once; the check of a layer's predicted cycles.
#pragma once

#include "ember/accel/Program.h"
#include "ember/accel/RefSim.h"
#include "ember/accel/Target.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>

inline std::string readTestTargetText(const std::string &name) {
  std::ifstream f(std::string(EMBER_SOURCE_DIR) + "/tests/accel/targets/" +
                  name + ".json");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

inline const ember::accel::Target &testTarget(const std::string &name) {
  static std::map<std::string, ember::accel::Target> cache;
  auto it = cache.find(name);
  if (it == cache.end()) {
    ember::accel::Target t;
    std::string err =
        ember::accel::parseTarget(readTestTargetText(name), t).message();
    if (!err.empty())
      ADD_FAILURE() << name << ": " << err;
    it = cache.emplace(name, std::move(t)).first;
  }
  return it->second;
}

// A one-layer program's predicted cycles are positive and the simulated ones
// within 10%.
inline void expectPredictedCycles(const ember::accel::Program &prog,
                                  const ember::accel::SimStats &st,
                                  const std::string &what) {
  ASSERT_EQ(prog.layers.size(), 1u) << what;
  const double pred = prog.layers[0].predictedCycles, sim = double(st.cycles);
  EXPECT_GT(pred, 0) << what;
  EXPECT_LE(std::abs(pred - sim), 0.10 * sim)
      << what << ": predicted " << pred << ", simulated " << sim;
}
