"""ember.npu.sim: the counters, DRAM contents and error messages of
`ember sim` on the same program and data, and the per-engine trace."""

import numpy as np
import pytest

import ember

pytestmark = pytest.mark.skipif(ember.npu.DIM == 0, reason="built without the NPU")


@pytest.fixture(scope="module")
def gemm(root, tmp_path_factory):
    """tiny_gemm.nasm with its data: A, B (transposed), multipliers, shifts."""
    d = tmp_path_factory.mktemp("gemm")
    rng = np.random.default_rng(3)
    data = np.zeros(1024, np.uint8)
    data[0:256] = rng.integers(-8, 8, 256).astype(np.int8).view(np.uint8)
    data[256:512] = rng.integers(-8, 8, 256).astype(np.int8).view(np.uint8)
    data[512:576] = np.full(16, 1 << 30, np.int32).view(np.uint8)
    data[576:640] = np.full(16, 2, np.int32).view(np.uint8)
    (d / "data.bin").write_bytes(data.tobytes())
    return root / "examples" / "npu" / "tiny_gemm.nasm", d / "data.bin", data.tobytes()


def _last_line(text):
    return dict(kv.split("=") for kv in text.strip().splitlines()[-1].split())


@pytest.mark.skipif(ember.npu.DIM != 16, reason="tiny_gemm.nasm is written for DIM 16")
@pytest.mark.parametrize("executor", ["systemc", "golden"])
def test_sim_equals_the_command(gemm, cli, tmp_path, executor):
    prog, data_file, data = gemm
    r = cli("sim", prog, f"--executor={executor}", f"--load={data_file}@0",
            f"--dump=1024:256:{tmp_path / 'c.bin'}", "--dram-bw=8")
    want = _last_line(r.stdout)
    res = ember.npu.sim(prog, executor, loads={0: data}, dumps=[(1024, 256)], dram_bw=8)
    assert res.executor == executor and res.dim == 16
    assert res.cycles == int(want["cycles"])
    assert res.dma_bytes == int(want["dma_bytes"])
    assert f"{res.mac_util:.4f}" == want["mac_util"]
    assert f"{res.overlap:.4f}" == want["overlap"]
    assert res.dumps[1024] == (tmp_path / "c.bin").read_bytes()
    assert res.counters["macs"] == 16 * 16 * 16
    assert res.counters["insns"] == 7
    if executor == "systemc":
        assert res.timed and res.cycles > 0
        assert res.engines["GEMM"]["busy"] == res.counters["gemm_busy"] > 0
        engines = set(res.trace)
        assert engines, "the SystemC executor traces every instruction"
        assert any("GEMM" in t for t in engines) and any("LOAD" in t for t in engines)
        gemm_track = next(v for t, v in res.trace.items() if "GEMM" in t)
        assert gemm_track[0]["duration"] > 0
    else:
        assert res.trace == {}


@pytest.mark.skipif(ember.npu.DIM != 16, reason="tiny_gemm.nasm is written for DIM 16")
def test_program_forms_agree(gemm):
    prog, _, data = gemm
    text = prog.read_text()
    words = ember.npu.assemble(text)
    assert len(words) == 7 * 16
    runs = [ember.npu.sim(p, "golden", loads={0: data}, dumps=[(1024, 256)])
            for p in (prog, str(prog), text, words)]
    assert len({r.dumps[1024] for r in runs}) == 1
    assert "gemm" in ember.npu.disassemble(words)


def test_sim_errors_name_the_line(cli, tmp_path):
    bad = tmp_path / "bad.nasm"
    bad.write_text("load mem=ACT sram=0 dram=0 ysize=1 xsize=16 stride=16\nfrobnicate x=1\n")
    r = cli("sim", bad, check=False)
    assert r.returncode != 0
    msg = r.stderr.strip().splitlines()[-1]
    with pytest.raises(ember.InvalidError) as e:
        ember.npu.sim(bad)
    assert "line 2" in str(e.value) and "line 2" in msg
    with pytest.raises(ember.InvalidError, match="executor"):
        ember.npu.sim(bad, "verilog")
    with pytest.raises(ember.EmberIOError):
        ember.npu.sim(tmp_path / "missing.nasm")
