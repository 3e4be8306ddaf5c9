"""ember.quantize writes the model `ember quantize` writes."""

import numpy as np

import ember


def test_quantize_equals_the_command(mnist, cli, tmp_path, pb):
    cal = tmp_path / "cal"
    cal.mkdir()
    rng = np.random.default_rng(1)
    for i in range(4):
        np.save(cal / f"s{i}.npy", rng.uniform(0, 1, (1, 1, 28, 28)).astype(np.float32))
    m = ember.quantize(mnist / "model.onnx", tmp_path / "py.onnx", calibration=cal,
                       method="minmax", refine="none", target="interp")
    cli("quantize", mnist / "model.onnx", f"--calibration={cal}", "-o", tmp_path / "cli.onnx",
        "--method=minmax", "--refine=none", "--target=interp", "--quiet")
    assert (tmp_path / "py.onnx").read_bytes() == (tmp_path / "cli.onnx").read_bytes()
    assert "QuantizeLinear" in m.text or "Quantize" in m.text
    x = pb(mnist / "test_data_set_0" / "input_0.pb")
    q = m.compile("interp").run({"Input3": x})["Plus214_Output_0"]
    f = ember.load(mnist / "model.onnx").compile("interp").run({"Input3": x})["Plus214_Output_0"]
    assert np.argmax(q) == np.argmax(f)


def test_quantize_errors(mnist, tmp_path):
    import pytest
    with pytest.raises(ember.InvalidError, match="calibration"):
        ember.quantize(mnist / "model.onnx", tmp_path / "o.onnx")
    with pytest.raises(ember.EmberError):
        ember.quantize(mnist / "model.onnx", tmp_path / "o.onnx", calibration=tmp_path / "none")
    with pytest.raises(ember.InvalidError, match="method"):
        ember.quantize(mnist / "model.onnx", tmp_path / "o.onnx", calibration=tmp_path,
                       method="magic")
