"""ember.load(..., op_libraries=[...]): custom operators from an op library
(docs/custom-ops.md), against the `ember` command with --op-library on the
same inputs. The library is the example's (examples/custom-op), built in
the tree at lib/ember-tests/libacme_ops.so beside the command."""

import importlib.util
import pathlib

import numpy as np
import pytest

import ember
from conftest import _ember_bin, has_plugin


def _library():
    b = _ember_bin()
    lib = pathlib.Path(b).parent.parent / "lib" / "ember-tests" / "libacme_ops.so" if b else None
    return lib if lib and lib.exists() else None


needs_lib = pytest.mark.skipif(_library() is None,
                               reason="the example op library is not built")
needs_cpu = pytest.mark.skipif(not has_plugin("cpu"), reason="the cpu plugin is not built")


@pytest.fixture(scope="module")
def model(root, tmp_path_factory):
    spec = importlib.util.spec_from_file_location(
        "make_model", root / "examples" / "custom-op" / "make_model.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    import onnx
    path = tmp_path_factory.mktemp("custom") / "model.onnx"
    onnx.save(mod.model(np.random.default_rng(7)), str(path))
    return path


@needs_lib
@pytest.mark.parametrize("target", ["interp", pytest.param("cpu", marks=needs_cpu)])
def test_runs_like_the_command(target, model, cli, pb, tmp_path):
    lib = _library()
    x = np.random.default_rng(3).standard_normal((2, 8, 8, 8)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    m = ember.load(model, op_libraries=[lib])
    assert "com.acme::ClampedAdd@1(" in m.text
    out = m.compile(target).run({"x": x})
    cli("run", model, "--op-library", lib, "--target=" + target,
        "--input", f"x={tmp_path / 'x.npy'}", "--save-outputs", tmp_path / "out")
    assert np.array_equal(out["y"], pb(tmp_path / "out" / "output_0.pb"))
    assert np.array_equal(out["norm"], pb(tmp_path / "out" / "output_1.pb"))
    assert out["norm"].shape == (2, 1, 8, 8)


def test_a_bad_library_raises_naming_it(model, tmp_path):
    bad = tmp_path / "libnot_a_library.so"
    bad.write_bytes(b"not an ELF file")
    with pytest.raises(ember.EmberError, match=r"cannot load op library .*libnot_a_library\.so"):
        ember.load(model, op_libraries=[bad])
