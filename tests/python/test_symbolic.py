"""Models with symbolic dims from Python: ember.load leaves the dims nothing
binds to the arrays of each run, Compiled.run compiles one variant per shape
set (cached, bounded), and every error speaks Python (never a command-line
flag). Outputs are checked against `ember run` on the same inputs."""

import re

import numpy as np
import pytest

import ember
from conftest import has_plugin

needs_cpu = pytest.mark.skipif(not has_plugin("cpu"), reason="the cpu plugin is not built")
needs_npu = pytest.mark.skipif(not has_plugin("npu-sim"), reason="the npu-sim plugin is not built")

# paddle2onnx names every dynamic dim this way: batch, height and width of
# PP-OCR's text direction classifier ([N, 3, H, W] -> [N, 2]).
N, H, W = ("p2o.DynamicDimension.0", "p2o.DynamicDimension.1",
           "p2o.DynamicDimension.2")


def _ppocr_cls(path):
    """A PP-OCR-style direction classifier as paddle2onnx writes it: every
    input dim but the channels symbolic, 3x3 stride-2 convolutions with
    HardSwish, a depthwise block, global pooling, a Reshape to [0, -1], a
    MatMul + Add head and Softmax."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(7)
    inits, nodes = [], []

    def const(name, arr):
        inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    def conv(x, cin, cout, k, s, group, name):
        w = rng.normal(0, np.sqrt(2 / (cin // group * k * k)),
                       (cout, cin // group, k, k)).astype(np.float32)
        b = rng.normal(0, 0.1, cout).astype(np.float32)
        nodes.append(helper.make_node(
            "Conv", [x, const(name + ".w", w), const(name + ".b", b)], [name],
            kernel_shape=[k, k], strides=[s, s], pads=[k // 2] * 4, group=group))
        nodes.append(helper.make_node("HardSwish", [name], [name + ".act"]))
        return name + ".act"

    y = conv("x", 3, 8, 3, 2, 1, "conv1")
    y = conv(y, 8, 8, 3, 1, 8, "dw2")
    y = conv(y, 8, 16, 1, 1, 1, "pw2")
    y = conv(y, 16, 16, 3, 2, 16, "dw3")
    y = conv(y, 16, 24, 1, 1, 1, "pw3")
    nodes.append(helper.make_node("GlobalAveragePool", [y], ["pool"]))
    nodes.append(helper.make_node("Reshape", ["pool", const("shape", np.array([0, -1], np.int64))],
                                  ["flat"]))
    nodes.append(helper.make_node(
        "MatMul", ["flat", const("fc.w", rng.normal(0, 0.3, (24, 2)).astype(np.float32))], ["fc"]))
    nodes.append(helper.make_node("Add", ["fc", const("fc.b", np.array([0.1, -0.1], np.float32))],
                                  ["logits"]))
    nodes.append(helper.make_node("Softmax", ["logits"], ["softmax_0.tmp_0"], axis=1))
    g = helper.make_graph(
        nodes, "ppocr_cls",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [N, 3, H, W])],
        [helper.make_tensor_value_info("softmax_0.tmp_0", TensorProto.FLOAT, [N, 2])],
        inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)])
    m.ir_version = 8
    onnx.save(m, path)


@pytest.fixture(scope="module")
def cls_model(tmp_path_factory):
    p = tmp_path_factory.mktemp("ppocr") / "cls.onnx"
    _ppocr_cls(p)
    return p


def _image(n, h, w, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, 3, h, w)).astype(np.float32)


def _command_output(cli, model, target, x, tmp_path):
    """`ember run` on the same input: the command binds the dims from the
    file, as run() does from the array."""
    from onnx import numpy_helper
    inp = tmp_path / f"x_{'x'.join(map(str, x.shape))}.pb"
    inp.write_bytes(numpy_helper.from_array(x, "x").SerializeToString())
    out = tmp_path / f"out_{target.replace(':', '_').replace('/', '_')}"
    cli("run", model, f"--target={target}", f"--input=x={inp}", f"--save-outputs={out}")
    from conftest import read_pb
    return read_pb(out / "output_0.pb")


def _float_targets():
    """The targets that run the float classifier (the NPU runs int8
    layers: test_npu_runs_each_shape_with_its_profile)."""
    ts = ["interp"]
    if has_plugin("cpu"):
        ts += ["cpu", "plugin:" + ember._ember.plugin_path("cpu")]
    return ts


def _npu_targets():
    if not has_plugin("npu-sim"):
        return []
    return ["npu-sim", "plugin:" + ember._ember.plugin_path("npu-sim")]


def test_load_leaves_unbound_dims_to_the_runs(cls_model):
    m = ember.load(cls_model)
    # The leading dim defaults to 1 (batch-like); height and width wait.
    assert m.inputs == [("x", "f32", (1, 3, H, W))]
    assert m.outputs == [("softmax_0.tmp_0", "f32", (N, 2))]
    assert m.unbound_dims == [H, W]
    assert any(N in n for n in m.notes)
    assert H in repr(m) and "graph IR after the first run" in m._repr_markdown_()
    # The IR needs every dim: asked for in Python's terms.
    with pytest.raises(ember.InvalidError) as e:
        m.text
    assert f"dims={{'{H}': N}}" in str(e.value) and "--" not in str(e.value)
    assert isinstance(e.value, ValueError)


@pytest.mark.parametrize("target", _float_targets())
def test_runs_bind_dims_per_shape_on_every_target(target, cls_model, cli, tmp_path):
    c = ember.load(cls_model).compile(target)
    assert c.inputs == [("x", "f32", (1, 3, H, W))] and c.variants == []
    shapes = [(1, 48, 192), (3, 32, 100), (1, 48, 192)]
    for i, (n, h, w) in enumerate(shapes):
        x = _image(n, h, w, seed=i)
        y = c.run({"x": x})["softmax_0.tmp_0"]
        assert y.shape == (n, 2) and y.dtype == np.float32
        np.testing.assert_allclose(y.sum(axis=1), 1, rtol=1e-5)
        # Bit for bit the command's output on the same input.
        np.testing.assert_array_equal(y, _command_output(cli, cls_model, target, x, tmp_path))
        assert c.inputs == [("x", "f32", (n, 3, h, w))]
    vs = c.variants
    assert [v["number"] for v in vs] == [1, 2]
    assert vs[0]["dims"] == {N: 1, H: 48, W: 192} and vs[1]["dims"] == {N: 3, H: 32, W: 100}
    assert vs[1]["inputs"] == [("x", "f32", (3, 3, 32, 100))]
    assert all(v["cached"] and v["compile_ms"] > 0 for v in vs)
    info = c.cache_info()
    assert (info["compiles"], info["hits"], info["evictions"], info["cached"]) == (2, 1, 0, 2)
    if target != "interp":
        assert c.summary.startswith("partitions=") and c.partitions
    # The softmax agrees with ONNX Runtime where it is installed.
    ort = pytest.importorskip("onnxruntime")
    s = ort.InferenceSession(str(cls_model), providers=["CPUExecutionProvider"])
    x = _image(3, 32, 100, seed=1)
    np.testing.assert_allclose(c.run([x])["softmax_0.tmp_0"], s.run(None, {"x": x})[0],
                               rtol=1e-4, atol=1e-5)


def test_dims_given_at_load_fix_them(cls_model):
    m = ember.load(cls_model, dims={H: 48, W: 192})
    assert m.inputs == [("x", "f32", (1, 3, 48, 192))] and m.unbound_dims == []
    assert "Softmax" in m.text or "softmax" in m.text.lower()
    c = m.compile("interp")
    assert c.variants[0]["dims"] == {N: 1, H: 48, W: 192}  # compiled now
    assert c.run({"x": _image(2, 48, 192)})["softmax_0.tmp_0"].shape == (2, 2)
    with pytest.raises(ember.InvalidError) as e:
        c.run({"x": _image(1, 32, 192)})
    msg = str(e.value)
    assert isinstance(e.value, ValueError)
    assert f"dim '{H}' is 48 from ember.load(dims={{'{H}': 48}})" in msg and "'x'" in msg
    assert "--" not in msg
    m = ember.load(cls_model, input_shapes={"x": (2, 3, 64, 64)})
    assert m.inputs == [("x", "f32", (2, 3, 64, 64))]


def test_shape_errors_name_the_input_and_dim_in_python_terms(cls_model, tmp_path):
    c = ember.load(cls_model).compile("interp")
    cases = [
        (np.zeros((3, 48, 192), np.float32), r"input 'x' rank 3 .*rank 4"),
        (np.zeros((1, 4, 48, 192), np.float32), r"dim 1 of input 'x' to 4 but the model fixes it to 3"),
    ]
    for x, pattern in cases:
        with pytest.raises(ember.InvalidError, match=pattern) as e:
            c.run({"x": x})
        assert isinstance(e.value, ValueError) and "--" not in str(e.value)
    with pytest.raises(TypeError, match=r"input 'x' is float64 but the model expects f32"):
        c.run({"x": np.zeros((1, 3, 48, 192))})
    with pytest.raises(ember.InputTypeError, match=r"input 'x' is a dict"):
        c.run({"x": {"not": "an array"}})
    with pytest.raises(ember.InvalidError, match=r"'y' is not an input"):
        c.run({"x": _image(1, 8, 8), "y": _image(1, 8, 8)})
    # Nothing compiled yet: what needs a variant says so.
    fresh = ember.load(cls_model).compile("cpu" if has_plugin("cpu") else "interp")
    if has_plugin("cpu"):
        with pytest.raises(ember.InvalidError, match=r"run\(\) the model first"):
            fresh.emit("npu-asm")
    assert fresh.profile() is None and fresh.report() == ""
    # Load-time bindings in Python's terms too.
    with pytest.raises(ember.InvalidError) as e:
        ember.load(cls_model, dims={"height": 32})
    assert "ember.load(dims={'height': 32}) names dim 'height'" in str(e.value)
    assert H in str(e.value) and "--" not in str(e.value)
    with pytest.raises(ember.InvalidError, match="is not a dim size"):
        ember.load(cls_model, dims={H: -1})
    with pytest.raises(TypeError, match=r"dims\['p2o.DynamicDimension.1'\] is a str"):
        ember.load(cls_model, dims={H: "32"})
    with pytest.raises(ember.InvalidError) as e:
        ember.load(cls_model, dims={N: 2}, input_shapes={"x": (3, 3, 8, 8)})
    assert f"dim '{N}' is 2 from ember.load(dims={{'{N}': 2}}) but 3 from " \
        "ember.load(input_shapes={'x': (3, 3, 8, 8)})" in str(e.value)
    with pytest.raises(ember.InvalidError, match=r"max_variants 0"):
        ember.load(cls_model).compile("interp", max_variants=0)


def _two_input_model(path):
    """y = a + b with a [batch, n] and b [batch, n]: one named dim shared."""
    import onnx
    from onnx import TensorProto, helper
    g = helper.make_graph(
        [helper.make_node("Add", ["a", "b"], ["y"])], "add",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, ["batch", "n"]),
         helper.make_tensor_value_info("b", TensorProto.FLOAT, ["batch", "n"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "n"])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)])
    m.ir_version = 8
    onnx.save(m, path)


def test_inputs_sharing_a_dim_must_agree(tmp_path):
    _two_input_model(tmp_path / "add.onnx")
    m = ember.load(tmp_path / "add.onnx")
    assert m.unbound_dims == ["n"]
    c = m.compile("cpu" if has_plugin("cpu") else "interp")
    a = np.ones((2, 5), np.float32)
    np.testing.assert_array_equal(c.run({"a": a, "b": a})["y"], 2 * a)
    with pytest.raises(ember.InvalidError) as e:
        c.run({"a": a, "b": np.ones((2, 6), np.float32)})
    msg = str(e.value)
    assert isinstance(e.value, ValueError) and "--" not in msg
    assert re.search(r"dim 'n' is 5 from the run's input 'a' .* but 6 from the run's "
                     r"input 'b' .*\(input 'b' dim 1\)", msg), msg
    with pytest.raises(ember.InvalidError, match="dim 'batch' is 2 .* but 3"):
        c.run({"a": a, "b": np.ones((3, 5), np.float32)})


def test_the_cache_of_shape_sets_is_bounded(cls_model):
    c = ember.load(cls_model).compile("interp", max_variants=2)
    for h in (16, 24, 32):
        c.run({"x": _image(1, h, 16)})
    info = c.cache_info()
    assert (info["compiles"], info["evictions"], info["cached"], info["max_variants"]) == \
        (3, 1, 2, 2)
    assert [v["cached"] for v in c.variants] == [False, True, True]
    c.run({"x": _image(1, 16, 16)})  # released: compiled again
    assert c.cache_info()["compiles"] == 4 and len(c.variants) == 4


def _qdq_conv_model(path):
    """An int8 QDQ convolution stack with symbolic batch, height and width,
    as quantize_static writes one: the NPU runs it."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(3)
    inits, nodes = [], []

    def const(name, arr):
        inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    def qdq(x, name, scale):
        nodes.append(helper.make_node("QuantizeLinear", [x, const(name + ".s", np.float32(scale)),
                                                         const(name + ".z", np.uint8(128))],
                                      [name + ".q"]))
        nodes.append(helper.make_node("DequantizeLinear", [name + ".q", name + ".s", name + ".z"],
                                      [name + ".dq"]))
        return name + ".dq"

    def conv(x, xs, cin, cout, name):
        w = rng.integers(-60, 60, (cout, cin, 3, 3)).astype(np.int8)
        ws = np.float32(0.01)
        nodes.append(helper.make_node("DequantizeLinear", [const(name + ".wq", w),
                                                           const(name + ".ws", ws)],
                                      [name + ".w"]))
        b = rng.integers(-500, 500, cout).astype(np.int32)
        nodes.append(helper.make_node("DequantizeLinear", [const(name + ".bq", b),
                                                           const(name + ".bs", np.float32(xs * 0.01))],
                                      [name + ".b"]))
        nodes.append(helper.make_node("Conv", [x, name + ".w", name + ".b"], [name],
                                      kernel_shape=[3, 3], pads=[1, 1, 1, 1]))
        nodes.append(helper.make_node("Relu", [name], [name + ".r"]))
        return qdq(name + ".r", name + ".out", 0.05)

    y = qdq("x", "in", 0.02)
    y = conv(y, 0.02, 8, 16, "c1")
    y = conv(y, 0.05, 16, 16, "c2")
    nodes[-1].output[0] = "y"
    g = helper.make_graph(
        nodes, "qdq",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8, "H", "W"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 16, "H", "W"])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.save(m, path)


@needs_npu
@pytest.mark.parametrize("target", _npu_targets())
def test_npu_runs_each_shape_with_its_profile(target, tmp_path, cli):
    _qdq_conv_model(tmp_path / "qdq.onnx")
    c = ember.load(tmp_path / "qdq.onnx").compile(target, profile="layers")
    cycles = []
    for n, h, w in ((1, 8, 8), (2, 16, 12)):
        x = np.random.default_rng(h).uniform(0, 2, (n, 8, h, w)).astype(np.float32)
        y = c.run({"x": x})["y"]
        assert y.shape == (n, 16, h, w)
        from onnx import numpy_helper
        from conftest import read_pb
        inp = tmp_path / f"x{h}.pb"
        inp.write_bytes(numpy_helper.from_array(x, "x").SerializeToString())
        r = cli("run", tmp_path / "qdq.onnx", f"--target={target}", f"--input=x={inp}",
                f"--save-outputs={tmp_path / str(h)}")
        np.testing.assert_array_equal(y, read_pb(tmp_path / str(h) / "output_0.pb"))
        p = c.profile()
        assert p["summary"] == r.stdout.strip().splitlines()[-1]
        assert p["mac_share"] > 0.5 and p["layers"]
        cycles.append(p["cycles"])
    assert cycles[1] > cycles[0] > 0
    assert "gemm" in c.emit("npu-asm")[0].lower()
