// How a vendor links the kit into a gtest binary of its own (tools/kit/
// README.md): register the kit's tests for a plugin, add its own, run.
//   kit_vendor_example PATH/TO/libplugin.so [gtest flags]
#include "ember/kit/Kit.h"

#include <gtest/gtest.h>

#include <cstdio>

// A vendor's own test, beside the kit's.
TEST(Vendor, OwnTestsRunToo) { SUCCEED(); }

int main(int argc, char **argv) {
  testing::InitGoogleTest(&argc, argv);
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s PLUGIN.so [gtest flags]\n", argv[0]);
    return 2;
  }
  ember::kit::KitConfig c;
  c.pluginPath = argv[1];
  ember::kit::registerKitTests(c); // in a kit child process: runs, exits
  return RUN_ALL_TESTS();
}
