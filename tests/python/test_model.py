"""ember.load, Model.compile, Compiled.run: outputs, IR text, profiles and
errors, each against the `ember` command on the same inputs."""

import re

import numpy as np
import pytest

import ember
from conftest import has_plugin

needs_cpu = pytest.mark.skipif(not has_plugin("cpu"), reason="the cpu plugin is not built")
needs_npu = pytest.mark.skipif(not has_plugin("npu-sim"), reason="the npu-sim plugin is not built")


def test_load_describes_the_model(mnist):
    m = ember.load(mnist / "model.onnx")
    assert m.inputs == [("Input3", "f32", (1, 1, 28, 28))]
    assert [o[0] for o in m.outputs] == ["Plus214_Output_0"]
    assert m.outputs[0][1:] == ("f32", (1, 10))
    assert "Input3" in repr(m)


def test_text_is_the_commands_graph_ir(mnist, cli):
    m = ember.load(mnist / "model.onnx")
    assert m.text == cli("compile", mnist / "model.onnx", "--emit=graph").stdout
    assert m.ir("lowered") == cli("compile", mnist / "model.onnx", "--emit=lowered").stdout
    assert str(m) == m.text


def test_renders_in_jupyter(mnist):
    m = ember.load(mnist / "model.onnx")
    h = m._repr_html_()
    assert "<table>" in h and "Input3" in h and "<pre>" in h
    md = m._repr_markdown_()
    assert "| input | `Input3` |" in md and "```" in md


@pytest.mark.parametrize("target", ["interp", pytest.param("cpu", marks=needs_cpu)])
def test_run_equals_the_command(target, mnist, cli, pb, tmp_path):
    x = pb(mnist / "test_data_set_0" / "input_0.pb")
    out = ember.load(mnist / "model.onnx").compile(target).run({"Input3": x})
    cli("run", mnist / "model.onnx", f"--target={target}",
        f"--input=Input3={mnist / 'test_data_set_0' / 'input_0.pb'}",
        f"--save-outputs={tmp_path}")
    want = pb(tmp_path / "output_0.pb")
    got = out["Plus214_Output_0"]
    assert got.dtype == np.float32 and got.shape == (1, 10)
    np.testing.assert_array_equal(got, want)
    # and it is the expected digit
    ref = pb(mnist / "test_data_set_0" / "output_0.pb")
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)


def test_inputs_as_list_single_array_and_call(mnist, pb):
    c = ember.load(mnist / "model.onnx").compile("interp")
    x = pb(mnist / "test_data_set_0" / "input_0.pb")
    a = c.run({"Input3": x})["Plus214_Output_0"]
    np.testing.assert_array_equal(c.run([x])["Plus214_Output_0"], a)
    np.testing.assert_array_equal(c(x)["Plus214_Output_0"], a)


class DLPackOnly:
    """A producer that offers nothing but the DLPack protocol."""

    def __init__(self, a):
        self._a = a

    def __dlpack__(self, **kw):
        return self._a.__dlpack__(**kw)

    def __dlpack_device__(self):
        return self._a.__dlpack_device__()


def test_dlpack_in_and_out(mnist, pb):
    c = ember.load(mnist / "model.onnx").compile("interp")
    x = pb(mnist / "test_data_set_0" / "input_0.pb")
    want = c.run({"Input3": x})["Plus214_Output_0"]
    got = c.run({"Input3": DLPackOnly(x)})["Plus214_Output_0"]
    np.testing.assert_array_equal(got, want)
    # outputs are DLPack producers: a consumer sees the same memory
    view = np.from_dlpack(got)
    assert view.ctypes.data == got.ctypes.data


@needs_npu
def test_npu_outputs_and_counters_equal_the_command(mnist_int8, cli, pb, tmp_path):
    inp = mnist_int8 / "test_data_set_0" / "input_0.pb"
    c = ember.load(mnist_int8 / "model.onnx").compile("npu-sim", profile="trace")
    out = c.run({"Input3": pb(inp)})
    r = cli("run", mnist_int8 / "model.onnx", "--target=npu-sim",
            f"--input=Input3={inp}", f"--save-outputs={tmp_path}")
    np.testing.assert_array_equal(out["Plus214_Output_0"], pb(tmp_path / "output_0.pb"))
    line = r.stdout.strip().splitlines()[-1]
    assert line.startswith("npu: ")
    fields = dict(kv.split("=") for kv in line[5:].split())
    p = c.profile()
    assert p["device"] == "npu"
    assert p["cycles"] == int(fields["cycles"]) and p["cycles"] > 0
    assert p["dma_bytes"] == int(fields["dma_bytes"])
    assert abs(p["mac_util"] - float(fields["mac_util"])) < 1e-3
    assert abs(p["mac_share"] - float(fields["npu_mac_share"])) < 1e-3
    assert p["summary"] == line
    assert p["layers"], "per-layer rows with profile >= 1"
    assert {"LOAD", "GEMM"} <= {t.split()[-1] for t in p["trace"]} or \
        any("GEMM" in t for t in p["trace"]), p["trace"].keys()
    for slices in p["trace"].values():
        assert all(s["duration"] >= 0 for s in slices)
    assert c.summary.startswith("partitions=")
    assert "layer report" in c.report()
    asm = c.emit("npu-asm")
    assert asm and "gemm" in asm[0].lower()


@needs_npu
def test_backend_options_reach_the_plugin(mnist_int8, pb):
    m = ember.load(mnist_int8 / "model.onnx")
    x = pb(mnist_int8 / "test_data_set_0" / "input_0.pb")
    fast = m.compile("npu-sim", dram_bw=32)
    slow = m.compile("npu-sim", dram_bw=4)
    golden = m.compile("npu-sim", executor="golden")
    outs = [c.run({"Input3": x})["Plus214_Output_0"] for c in (fast, slow, golden)]
    np.testing.assert_array_equal(outs[0], outs[1])
    np.testing.assert_array_equal(outs[0], outs[2])
    assert slow.profile()["cycles"] > fast.profile()["cycles"]
    assert golden.profile()["executor"] == "golden"
    with pytest.raises(ember.EmberError, match="unknown vendor option 'nonsense'"):
        m.compile("npu-sim", nonsense=1)


def _cli_error(cli, *args):
    r = cli(*args, check=False)
    assert r.returncode != 0
    line = r.stderr.strip().splitlines()[-1]
    assert line.startswith("error: ")
    return line[len("error: "):]


def test_errors_carry_embers_message(cli, tmp_path, mnist, pb):
    missing = tmp_path / "missing.onnx"
    with pytest.raises(ember.EmberError) as e:
        ember.load(missing)
    assert str(e.value) == _cli_error(cli, "compile", missing)
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage" * 10)
    with pytest.raises(ember.InvalidError) as e:
        ember.load(bad)
    assert str(e.value) == _cli_error(cli, "compile", bad)
    with pytest.raises(ember.InvalidError, match="unknown target"):
        ember.load(mnist / "model.onnx").compile("gpu")
    c = ember.load(mnist / "model.onnx").compile("interp")
    with pytest.raises(ember.InvalidError, match="input 'Input3' is missing"):
        c.run({})
    with pytest.raises(ember.InvalidError, match="float64"):
        c.run({"Input3": np.zeros((1, 1, 28, 28))})
    with pytest.raises(ember.EmberError, match="Input3"):
        c.run({"Input3": np.zeros((1, 1, 27, 28), np.float32)})
    with pytest.raises(ember.InvalidError, match="not an input"):
        c.run({"Input3": pb(mnist / "test_data_set_0" / "input_0.pb"), "x": np.zeros(1)})


def _relu_model(path, n):
    import onnx
    from onnx import TensorProto, helper
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [n])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [n])
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "relu", [x], [y])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(m, path)


@needs_cpu
def test_a_100mb_input_crosses_without_a_copy(tmp_path):
    n = 25 * 1024 * 1024  # 100 MiB of float32
    _relu_model(tmp_path / "relu.onnx", n)
    c = ember.load(tmp_path / "relu.onnx").compile("cpu")
    x = np.random.default_rng(0).standard_normal(n, dtype=np.float32)
    y = c.run({"x": x})["y"]
    parts = c.partitions
    assert len(parts) == 1 and parts[0]["on_plugin"]
    # The plugin imported the array's own memory, and the result array is
    # the buffer the plugin wrote into.
    assert parts[0]["imported"] == [x.ctypes.data, y.ctypes.data]
    np.testing.assert_array_equal(y, np.maximum(x, 0))


def test_a_strided_view_is_copied_not_misread(mnist, pb):
    c = ember.load(mnist / "model.onnx").compile("interp")
    x = pb(mnist / "test_data_set_0" / "input_0.pb")
    wide = np.zeros((1, 1, 28, 56), np.float32)
    wide[..., ::2] = x
    np.testing.assert_array_equal(c.run({"Input3": wide[..., ::2]})["Plus214_Output_0"],
                                  c.run({"Input3": x})["Plus214_Output_0"])


@needs_cpu
def test_artifact_cache_reuses_compiled_partitions(mnist, pb, tmp_path):
    cache = tmp_path / "artifacts"
    x = pb(mnist / "test_data_set_0" / "input_0.pb")
    a = ember.load(mnist / "model.onnx").compile("cpu", artifact_cache=cache)
    files = sorted(cache.glob("*.art"))
    assert files, "the cpu plugin's partitions are stored"
    stamp = [f.stat().st_mtime_ns for f in files]
    b = ember.load(mnist / "model.onnx").compile("cpu", artifact_cache=cache)
    assert sorted(cache.glob("*.art")) == files
    assert [f.stat().st_mtime_ns for f in files] == stamp
    np.testing.assert_array_equal(a.run({"Input3": x})["Plus214_Output_0"],
                                  b.run({"Input3": x})["Plus214_Output_0"])


def test_symbolic_dims_bind_at_load_and_run(tmp_path):
    import onnx
    from onnx import TensorProto, helper
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]),
              tmp_path / "m.onnx")
    m = ember.load(tmp_path / "m.onnx", dims={"batch": 3})
    assert m.inputs == [("x", "f32", (3, 4))]
    c = m.compile("interp")
    a = np.arange(-6, 6, dtype=np.float32).reshape(3, 4)
    np.testing.assert_array_equal(c.run({"x": a})["y"], np.maximum(a, 0))
    b = np.arange(-4, 4, dtype=np.float32).reshape(2, 4)
    with pytest.raises(ember.InvalidError, match="batch"):
        c.run({"x": b})  # the bound dim holds for every run
    # unbound: batch defaults to 1 (a note), and each shape set compiles once
    m = ember.load(tmp_path / "m.onnx")
    assert m.inputs == [("x", "f32", (1, 4))] and any("batch" in n for n in m.notes)
    c = m.compile("cpu" if has_plugin("cpu") else "interp")
    for arr in (a, b, a):
        np.testing.assert_array_equal(c.run({"x": arr})["y"], np.maximum(arr, 0))
