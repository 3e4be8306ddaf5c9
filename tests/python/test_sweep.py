"""python -m ember.sweep: the table and plots, the cache (a rerun runs
nothing), and a worker killed mid-sweep (every row still comes back)."""

import csv
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

import ember
from conftest import has_plugin

pytestmark = [
    pytest.mark.skipif(not has_plugin("npu-sim"), reason="the npu-sim plugin is not built"),
    pytest.mark.filterwarnings("ignore"),
]


def _env():
    env = dict(os.environ)
    if os.environ.get("EMBER_PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["EMBER_PYTHONPATH"] + os.pathsep + env.get("PYTHONPATH", "")
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    return env


def _config(tmp_path, root, bws, executors=("systemc",), extra=""):
    cfg = tmp_path / "sweep.toml"
    cfg.write_text(f"""
name = "test"
output = "out"
metrics = ["cycles", "mac_util"]
{extra}
[grid]
model = ["{root / 'examples' / 'mnist-int8' / 'model.onnx'}"]
target = ["npu-sim"]
dram_bw = {list(bws)}
executor = {list(executors)}
[plot]
x = "dram_bw"
series = "executor"
""")
    return cfg


def _sweep(cfg, cache, *extra, timeout=600):
    return subprocess.run([sys.executable, "-m", "ember.sweep", str(cfg), "--cache", str(cache),
                           "--num-cpus", "2", *extra], capture_output=True, text=True,
                          env=_env(), timeout=timeout)


def _rows(cfg):
    with open(cfg.parent / "out" / "results.csv") as f:
        return list(csv.DictReader(f))


def test_sweep_table_plots_and_cache(tmp_path, root, pb):
    cfg = _config(tmp_path, root, [4, 32])
    cache = tmp_path / "cache"
    r = _sweep(cfg, cache)
    assert r.returncode == 0, r.stdout + r.stderr
    rows = _rows(cfg)
    assert [int(x["dram_bw"]) for x in rows] == [4, 32]
    assert all(x["status"] == "ok" and x["cached"] == "False" for x in rows)
    # the cycles are those of the same compile in this process
    m = ember.load(root / "examples" / "mnist-int8" / "model.onnx")
    x = pb(root / "examples" / "mnist-int8" / "test_data_set_0" / "input_0.pb")
    for row in rows:
        c = m.compile("npu-sim", dram_bw=int(row["dram_bw"]), executor="systemc")
        c.run({"Input3": x})
        assert int(row["cycles"]) == c.profile()["cycles"]
    assert int(rows[0]["cycles"]) > int(rows[1]["cycles"])
    for metric in ("cycles", "mac_util"):
        png = cfg.parent / "out" / f"{metric}.png"
        assert png.read_bytes()[:4] == b"\x89PNG"
    assert list(cache.glob("artifacts/*.art")), "compiled partitions cached"
    # a rerun recomputes nothing; a new point runs alone
    r = _sweep(cfg, cache)
    assert r.returncode == 0 and "2 cached, 0 to run" in r.stdout, r.stdout
    assert all(x["cached"] == "True" for x in _rows(cfg))
    cfg = _config(tmp_path, root, [4, 16, 32])
    r = _sweep(cfg, cache)
    assert r.returncode == 0 and "2 cached, 1 to run" in r.stdout, r.stdout


def test_a_killed_worker_is_retried(tmp_path, root):
    # Six RTL-free points; the first task to start is killed while it runs.
    cfg = _config(tmp_path, root, [4, 8, 16, 32], executors=("systemc", "golden"))
    cache = tmp_path / "cache"
    proc = subprocess.Popen([sys.executable, "-m", "ember.sweep", str(cfg), "--cache",
                             str(cache), "--num-cpus", "2"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=_env())
    killed = None
    deadline = time.time() + 300
    running = cache / "running"
    while killed is None and time.time() < deadline and proc.poll() is None:
        for f in sorted(running.glob("*.pid")) if running.is_dir() else []:
            try:
                pid = int(f.read_text())
                os.kill(pid, signal.SIGKILL)
                killed = (f.stem, pid)
                break
            except (ValueError, ProcessLookupError):
                continue
        time.sleep(0.02)
    out, _ = proc.communicate(timeout=600)
    assert killed is not None, "no task was seen running\n" + out
    assert proc.returncode == 0, out
    rows = _rows(cfg)
    assert len(rows) == 8 and all(r["status"] == "ok" for r in rows), out
    by_key = {r["key"]: r for r in rows}
    assert int(by_key[killed[0]]["attempts"]) >= 2, (killed, out)


def test_bad_configs_are_clear_errors(tmp_path, root):
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[grid]\nmodel = ["nope.onnx"]\n')
    r = _sweep(cfg, tmp_path / "c")
    assert r.returncode == 1 and "model 'nope.onnx' does not exist" in r.stderr
    cfg.write_text(f'[grid]\nmodel = ["{root / "examples/mnist-int8/model.onnx"}"]\ndim = [12]\n')
    r = _sweep(cfg, tmp_path / "c")
    assert r.returncode == 1 and "dim 12 is not 8, 16 or 32" in r.stderr
    cfg.write_text(f'[grid]\nmodel = ["{root / "examples/mnist-int8/model.onnx"}"]\ncolour = [1]\n')
    r = _sweep(cfg, tmp_path / "c")
    assert r.returncode == 1 and "unknown grid axis 'colour'" in r.stderr


def test_rtl_points_run_one_at_a_time(tmp_path, root):
    """Two CPUs but one unit of the rtl resource: the RTL points do not
    overlap, and give the SystemC point's outputs' cycles within reason."""
    cfg = _config(tmp_path, root, [8, 32], executors=("rtl",))
    r = _sweep(cfg, tmp_path / "cache")
    if r.returncode != 0 and "no RTL executor" in r.stdout + r.stderr:
        pytest.skip("built without the RTL executor")
    assert r.returncode == 0, r.stdout + r.stderr
    rows = _rows(cfg)
    assert [x["executor"] for x in rows] == ["rtl", "rtl"]
    assert all(x["status"] == "ok" and int(x["cycles"]) > 0 for x in rows)
    a, b = sorted(rows, key=lambda x: float(x["started"]))
    assert float(a["finished"]) <= float(b["started"]), (a, b)


def test_rtl_points_ask_for_the_rtl_resource(tmp_path, root):
    from ember.sweep import load_config
    cfg = load_config(_config(tmp_path, root, [8], executors=("systemc", "rtl")),
                      cache=tmp_path / "c")
    assert [p.executor for p in cfg.points] == ["systemc", "rtl"]
    assert cfg.rtl_concurrency == 1
    from ember.sweep.run import task_options
    assert task_options(cfg.points[0]) == {}
    assert task_options(cfg.points[1]) == {"resources": {"rtl": 1}}
    # SystemC points of two array sizes (two plugins): a fresh process each,
    # since the first plugin to elaborate takes the process's one kernel.
    from ember.sweep.run import fresh_process
    assert fresh_process(cfg.points[0], {8, 32})
    assert not fresh_process(cfg.points[0], {16})
    assert not fresh_process(cfg.points[1], {8, 32})
