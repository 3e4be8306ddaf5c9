# lit configuration for Ember's textual-IR tests (FileCheck).
import os
import lit.formats

config.name = "Ember"
config.test_format = lit.formats.ShTest(True)
config.suffixes = [".eir", ".lir", ".test", ".layers", ".sched"]
config.excludes = ["Inputs"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.ember_obj_root, "tests", "lit")
config.substitutions.append(("%ember-accel", config.ember_accel_bin))
config.substitutions.append(("%ember", config.ember_bin))
# The NPU compiler layer's test targets (tests/accel/targets) and the example
# NPU's generated description.
config.substitutions.append(("%targets", os.path.join(
    os.path.dirname(config.test_source_root), "accel", "targets")))
config.substitutions.append(("%npu-target", config.npu_target))
config.substitutions.append(("%inputs", os.path.join(config.test_source_root, "Inputs")))
config.environment["PATH"] = os.pathsep.join(
    [config.filecheck_dir, config.environment.get("PATH", "")])
# Tests of the CPU backend's claims need its plugin beside ember.
if os.path.exists(os.path.join(os.path.dirname(config.ember_bin), "..", "lib",
                               "ember", "libember_cpu.so")):
    config.available_features.add("cpu-plugin")
# Tests of the example NPU's claims need its plugin.
if os.path.exists(os.path.join(os.path.dirname(config.ember_bin), "..", "lib",
                               "ember", "libember_npu_sim.so")):
    config.available_features.add("npu-plugin")
if os.path.exists(config.npu_target):
    config.available_features.add("npu-target")
