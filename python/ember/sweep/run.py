"""Running a sweep: the driver (cache, Ray tasks, the table, the plots) and
the task every grid point runs."""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import pathlib
import socket
import sys
import time
from typing import Any, Dict, List, Optional

from .config import METRICS, NPU_AXES, Point, SweepConfig, load_config
from .._errors import EmberError


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _file_sha(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def build_id() -> str:
    """Ember's version and the content of this build's library: a rebuild
    that changes code gives another id."""
    from .. import _ember
    return f"{_ember.__version__}+{_file_sha(_ember.__file__)[:16]}"


def _write_atomic(path: pathlib.Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp.{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


# ---- the task ----------------------------------------------------------------

def run_point(point: Point, model_bytes: bytes, model_sha: str,
              plugin_bytes: Optional[bytes], plugin_sha: Optional[str],
              inputs: Dict[str, Any], cache: str, key: str) -> Dict[str, Any]:
    """Compiles and runs one point; returns its metrics. Idempotent: it
    reads its inputs from the arguments and writes only content-addressed
    files (by rename), so a retry after a dead worker redoes the same."""
    import numpy as np  # noqa: F401  (the inputs are arrays)
    import ember

    cache_dir = pathlib.Path(cache)
    running = cache_dir / "running"
    running.mkdir(parents=True, exist_ok=True)
    # Which process runs the point (and how many attempts this node saw).
    (running / f"{key}.pid").write_text(str(os.getpid()))
    attempts_file = running / f"{key}.attempts"
    try:
        attempts = int(attempts_file.read_text()) + 1
    except (OSError, ValueError):
        attempts = 1
    attempts_file.write_text(str(attempts))

    model_path = cache_dir / "models" / model_sha / pathlib.Path(point.model).name
    if not model_path.is_file():
        _write_atomic(model_path, model_bytes)
    target = point.target
    fallback = None
    if plugin_bytes is not None:
        plugin_path = cache_dir / "plugins" / f"{plugin_sha}.so"
        if not plugin_path.is_file():
            _write_atomic(plugin_path, plugin_bytes)
        target = f"plugin:{plugin_path}"
        fallback = "cpu"  # as npu-sim: unclaimed nodes on the CPU backend
    row: Dict[str, Any] = {"status": "ok", "error": "", "attempts": attempts,
                           "host": socket.gethostname(), "started": time.time()}
    try:
        row = _measure(point, model_path, target, fallback, cache_dir, inputs, row)
        row["finished"] = time.time()
        return row
    finally:
        (running / f"{key}.pid").unlink(missing_ok=True)


def _measure(point, model_path, target, fallback, cache_dir, inputs, row):
    import ember
    try:
        t0 = time.perf_counter()
        model = ember.load(model_path)
        compiled = model.compile(target, fallback=fallback,
                                 artifact_cache=cache_dir / "artifacts",
                                 **point.compile_options())
        t1 = time.perf_counter()
        compiled.run(inputs)
        t2 = time.perf_counter()
        row["compile_s"] = round(t1 - t0, 4)
        row["run_s"] = round(t2 - t1, 4)
        prof = compiled.profile()
        if prof is not None:
            for k in ("cycles", "mac_util", "dma_bytes", "overlap", "mac_share"):
                row[k] = prof[k]
    except EmberError as e:
        # A point Ember refuses fails the same way every time: a row, not
        # a retry.
        row["status"] = "error"
        row["error"] = str(e)
    return row


# ---- the driver --------------------------------------------------------------

def _inputs_for(model: str, seed: int) -> Dict[str, Any]:
    """The model's test_data_set_0 inputs when it has them, else seeded
    random ones of its declared types."""
    import numpy as np
    import ember
    m = ember.load(model)
    data = pathlib.Path(model).parent / "test_data_set_0"
    out: Dict[str, Any] = {}
    try:
        from onnx import numpy_helper, TensorProto
    except ImportError:  # onnx is optional: random inputs then
        data = pathlib.Path("/nonexistent")
    if data.is_dir():
        files = sorted(data.glob("input_*.pb"), key=lambda p: int(p.stem.split("_")[1]))
        if len(files) == len(m.inputs):
            for (name, _, _), f in zip(m.inputs, files):
                t = TensorProto()
                t.ParseFromString(f.read_bytes())
                out[name] = numpy_helper.to_array(t)
            return out
    rng = np.random.default_rng(seed)
    from .. import _NUMPY_OF
    if m.unbound_dims:
        raise ember.InvalidError(
            f"{model}: the dims {', '.join(m.unbound_dims)} are bound only by "
            f"input data; put the inputs in {data}/input_<i>.pb")
    for name, dtype, shape in m.inputs:
        dt = np.dtype(_NUMPY_OF[dtype])
        if dt.kind == "f":
            out[name] = rng.uniform(-1, 1, size=shape).astype(dt)
        else:
            out[name] = rng.integers(0, 16, size=shape).astype(dt)
    return out


def _row_key(point: Point, model_sha: str, plugin_sha: Optional[str],
             bid: str, seed: int) -> str:
    desc = json.dumps({"point": point.key_fields(), "model": model_sha,
                       "plugin": plugin_sha, "build": bid, "seed": seed},
                      sort_keys=True)
    return _sha256(desc.encode())[:32]


def run_sweep(cfg: SweepConfig, address: Optional[str] = None,
              num_cpus: Optional[int] = None, log=print) -> List[Dict[str, Any]]:
    """Runs every point not cached yet on Ray; returns the rows in grid
    order and writes the table and the plots."""
    import ray

    cache = cfg.cache
    rows_dir = cache / "rows"
    rows_dir.mkdir(parents=True, exist_ok=True)
    bid = build_id()

    # NPU plugins of the array sizes asked for.
    from .plugins import resolve_plugins
    npu_points = [p for p in cfg.points if p.on_npu]
    dims = {p.dim for p in npu_points}
    rtl_dims = {p.dim for p in npu_points if p.executor == "rtl"}
    plugins = resolve_plugins(dims, cfg.npu_plugins, cfg.npu_source, cache,
                              rtl_dims, log) if dims else {}
    from .. import npu as _npu
    plugin_sha = {d: _file_sha(p) for d, p in plugins.items()}

    model_sha = {m: _file_sha(m) for m in {p.model for p in cfg.points}}
    keys = []
    for p in cfg.points:
        psha = plugin_sha.get(p.dim) if p.on_npu else None
        keys.append(_row_key(p, model_sha[p.model], psha, bid, cfg.seed))

    results: Dict[int, Dict[str, Any]] = {}
    todo = []
    for i, (p, k) in enumerate(zip(cfg.points, keys)):
        f = rows_dir / f"{k}.json"
        if f.is_file():
            row = json.loads(f.read_text())
            row["cached"] = True
            results[i] = row
        else:
            todo.append(i)
    log(f"sweep {cfg.name}: {len(cfg.points)} points, {len(results)} cached, "
        f"{len(todo)} to run")

    if todo:
        if address:
            ray.init(address=address, log_to_driver=False)
        elif not ray.is_initialized():
            ray.init(num_cpus=num_cpus, resources={"rtl": cfg.rtl_concurrency},
                     include_dashboard=False, log_to_driver=False)
        try:
            if any(cfg.points[i].executor == "rtl" for i in todo) and \
                    ray.cluster_resources().get("rtl", 0) < 1:
                raise EmberError(
                    "the sweep has RTL points but no node of the Ray cluster "
                    "offers the custom resource 'rtl' (start the nodes with "
                    "--resources='{\"rtl\": N}': N co-simulations at once)")
            task = ray.remote(max_retries=cfg.retries, retry_exceptions=False)(run_point)
            # A worker process that exits after its one task (see fresh_process).
            fresh_task = ray.remote(max_retries=cfg.retries, retry_exceptions=False,
                                    max_calls=1)(run_point)
            model_refs = {}
            for m in {cfg.points[i].model for i in todo}:
                model_refs[m] = ray.put(pathlib.Path(m).read_bytes())
            input_refs = {m: ray.put(_inputs_for(m, cfg.seed)) for m in model_refs}
            plugin_refs = {}
            for d, path in plugins.items():
                if d != _npu.DIM or path != _own_plugin():
                    plugin_refs[d] = ray.put(pathlib.Path(path).read_bytes())
            systemc_dims = {cfg.points[i].dim for i in todo
                            if cfg.points[i].on_npu and cfg.points[i].executor
                            in (None, "systemc")}
            pending = {}
            for i in todo:
                p = cfg.points[i]
                pref = plugin_refs.get(p.dim) if p.on_npu else None
                t = fresh_task if fresh_process(p, systemc_dims) else task
                ref = t.options(**task_options(p)).remote(
                    p, model_refs[p.model], model_sha[p.model], pref,
                    plugin_sha.get(p.dim) if pref is not None else None,
                    input_refs[p.model], str(cache), keys[i])
                pending[ref] = i
            done_n = 0
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    i = pending.pop(ref)
                    row = ray.get(ref)
                    results[i] = row
                    _write_atomic(rows_dir / f"{keys[i]}.json",
                                  json.dumps(row, sort_keys=True).encode())
                    done_n += 1
                    p = cfg.points[i]
                    log(f"  [{done_n}/{len(todo)}] {p.model_name} {p.target}"
                        f"{' dim=%s' % p.dim if p.dim else ''}"
                        f"{' bw=%s' % p.dram_bw if p.dram_bw else ''}"
                        f"{' ' + p.executor if p.executor else ''}: {row['status']}"
                        f"{' cycles=%s' % row.get('cycles') if 'cycles' in row else ''}")
        finally:
            if not address:
                ray.shutdown()

    rows = []
    for i, p in enumerate(cfg.points):
        r = dict(p.row())
        r.update({k: v for k, v in results[i].items() if k != "cached"})
        r["cached"] = bool(results[i].get("cached", False))
        r["key"] = keys[i]
        rows.append(r)
    write_outputs(cfg, rows, log)
    return rows


def task_options(point: Point) -> Dict[str, Any]:
    """Ray options of a point's task: an RTL co-simulation holds one unit
    of the custom resource ``rtl`` while it runs."""
    return {"resources": {"rtl": 1}} if point.executor == "rtl" else {}


def fresh_process(point: Point, systemc_dims) -> bool:
    """Whether a point's task needs a worker process of its own: a process
    has one SystemC kernel, taken by the first NPU plugin that elaborates
    it, so when the sweep runs SystemC points of several array sizes (one
    plugin each), each such task runs in a worker that exits after it."""
    return bool(point.on_npu and point.executor in (None, "systemc")
                and len(systemc_dims) > 1)


def _own_plugin() -> str:
    from .. import _ember
    try:
        return _ember.plugin_path("npu-sim")
    except EmberError:
        return ""


def _columns(rows: List[Dict[str, Any]]) -> List[str]:
    first = ["model", "target", *NPU_AXES]
    opts = sorted({k for r in rows for k in r if k.startswith("opt_")})
    rest = ["status", *METRICS, "attempts", "cached", "host", "started", "finished",
            "error", "key", "model_path"]
    return first + opts + rest


def write_outputs(cfg: SweepConfig, rows: List[Dict[str, Any]], log=print) -> None:
    out = cfg.output
    out.mkdir(parents=True, exist_ok=True)
    cols = _columns(rows)
    if cfg.format == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq
        table = pa.table({c: [r.get(c) for r in rows] for c in cols})
        path = out / "results.parquet"
        pq.write_table(table, path)
    else:
        path = out / "results.csv"
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
            w.writeheader()
            for r in rows:
                w.writerow({c: "" if r.get(c) is None else r.get(c) for c in cols})
    log(f"sweep {cfg.name}: wrote {path}")
    from .plot import plot_metric
    for m in cfg.metrics:
        png = out / f"{m}.png"
        if plot_metric(rows, m, cfg.plot_x, cfg.plot_series, cfg.plot_panels, png,
                       title=cfg.name):
            log(f"sweep {cfg.name}: wrote {png}")


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m ember.sweep",
        description="Runs a design-space sweep (a grid of models, targets, "
                    "backend options, NPU DIM, DRAM settings and executors) "
                    "as Ray tasks; writes one table and a plot per metric "
                    "(docs/python.md).")
    ap.add_argument("config", help="the sweep config (TOML, JSON or YAML)")
    ap.add_argument("--address", help="an existing Ray cluster (ray.init "
                    "address, e.g. auto or ray://host:10001); default: start "
                    "Ray on this machine")
    ap.add_argument("--num-cpus", type=int, help="CPUs of the local Ray "
                    "(default: all)")
    ap.add_argument("--cache", help="the cache folder (default: "
                    "$XDG_CACHE_HOME/ember/sweep or the config's cache)")
    ap.add_argument("--output", help="where the table and plots go "
                    "(default: the config's output)")
    ap.add_argument("--dry-run", action="store_true", help="lists the points "
                    "and whether each is cached, runs nothing")
    args = ap.parse_args(argv)
    try:
        cfg = load_config(args.config, cache=args.cache, output=args.output)
        if args.dry_run:
            for p in cfg.points:
                print(json.dumps(p.row()))
            return 0
        rows = run_sweep(cfg, address=args.address, num_cpus=args.num_cpus)
    except EmberError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    bad = [r for r in rows if r["status"] != "ok"]
    print(f"sweep {cfg.name}: {len(rows)} rows, {len(bad)} failed")
    return 1 if bad else 0
