"""The sweep config: a TOML (or JSON) file naming the grid and the outputs.

    name = "npu-dse"
    output = "out/npu-dse"          # relative to the config's folder
    metrics = ["cycles", "mac_util"]

    [grid]
    model = ["../mnist-int8/model.onnx", "models/cnn-int8.onnx"]
    target = ["npu-sim"]
    dim = [8, 16, 32]
    dram_bw = [4, 8, 16, 32]
    executor = ["systemc"]

    [grid.backend_opts]             # the plugin's own options, swept too
    tiling = ["cycles", "bytes"]

    [plot]
    x = "dram_bw"                   # the x axis of every plot
    series = "dim"                  # one line per value
    panels = "model"                # one panel per value
"""

from __future__ import annotations

import itertools
import json
import os
import pathlib
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .._errors import InvalidError

# Axes that only mean something on the NPU (npu-sim or a plugin of it).
NPU_AXES = ("dim", "dram_bw", "dram_latency", "dram_bytes", "executor")
METRICS = ("cycles", "mac_util", "dma_bytes", "overlap", "mac_share",
           "compile_s", "run_s")


@dataclass(frozen=True)
class Point:
    """One grid point: a model on a target with its settings."""

    model: str                 # path as resolved on the driver
    target: str                # interp, cpu, npu-sim, plugin:...
    dim: Optional[int] = None  # NPU array size (npu-sim); None: n/a
    executor: Optional[str] = None
    dram_bw: Optional[int] = None
    dram_latency: Optional[int] = None
    dram_bytes: Optional[int] = None
    backend_opts: Tuple[Tuple[str, str], ...] = ()

    @property
    def on_npu(self) -> bool:
        return self.target == "npu-sim"

    def compile_options(self) -> Dict[str, str]:
        """The plugin options this point compiles with."""
        opts = dict(self.backend_opts)
        for k in ("executor", "dram_bw", "dram_latency", "dram_bytes"):
            v = getattr(self, k)
            if v is not None:
                opts[k] = str(v)
        return opts

    def row(self) -> Dict[str, Any]:
        d = {"model": self.model_name, "model_path": self.model,
             "target": self.target}
        for k in NPU_AXES:
            d[k] = getattr(self, k)
        for k, v in self.backend_opts:
            d["opt_" + k] = v
        return d

    @property
    def model_name(self) -> str:
        p = pathlib.Path(self.model)
        return p.parent.name if p.name == "model.onnx" else p.stem

    def key_fields(self) -> Dict[str, Any]:
        d = {"target": self.target, "backend_opts": list(self.backend_opts)}
        for k in NPU_AXES:
            d[k] = getattr(self, k)
        return d


@dataclass
class SweepConfig:
    path: pathlib.Path
    name: str
    output: pathlib.Path
    format: str
    metrics: List[str]
    points: List[Point]
    plot_x: Optional[str]
    plot_series: Optional[str]
    plot_panels: Optional[str]
    cache: pathlib.Path
    npu_plugins: Dict[int, str] = field(default_factory=dict)
    npu_source: Optional[str] = None
    rtl_concurrency: int = 1
    retries: int = 3
    seed: int = 0


def _read(path: pathlib.Path) -> Dict[str, Any]:
    text = path.read_text()
    if path.suffix == ".json":
        return json.loads(text)
    if path.suffix in (".yaml", ".yml"):
        import yaml  # ray depends on PyYAML
        return yaml.safe_load(text)
    try:
        import tomllib
    except ImportError:  # Python < 3.11
        import tomli as tomllib  # type: ignore
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise InvalidError(f"{path}: {e}") from None


def _list(v: Any) -> List[Any]:
    return list(v) if isinstance(v, (list, tuple)) else [v]


def default_cache() -> pathlib.Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache")
    return pathlib.Path(base) / "ember" / "sweep"


def load_config(path: os.PathLike, cache: Optional[os.PathLike] = None,
                output: Optional[os.PathLike] = None) -> SweepConfig:
    """Reads a sweep config and expands its grid into points (NPU axes
    apply to npu-sim only: other targets get one point per model and
    backend options)."""
    path = pathlib.Path(path).resolve()
    if not path.is_file():
        raise InvalidError(f"sweep config '{path}' does not exist")
    raw = _read(path)
    known = {"name", "output", "format", "metrics", "grid", "plot", "cache",
             "npu", "rtl_concurrency", "retries", "seed"}
    for k in raw:
        if k not in known:
            raise InvalidError(f"{path}: unknown key '{k}' (known: {', '.join(sorted(known))})")
    base = path.parent
    grid = dict(raw.get("grid", {}))
    if "model" not in grid:
        raise InvalidError(f"{path}: [grid] needs model = [...]")
    axes = {"model", "target", "backend_opts"} | set(NPU_AXES)
    for k in grid:
        if k not in axes:
            raise InvalidError(f"{path}: unknown grid axis '{k}' (axes: {', '.join(sorted(axes))})")
    models = []
    for m in _list(grid["model"]):
        p = (base / m).resolve()
        if not p.is_file():
            raise InvalidError(f"{path}: model '{m}' does not exist ({p})")
        models.append(str(p))
    targets = [str(t) for t in _list(grid.get("target", ["npu-sim"]))]
    bopts = grid.get("backend_opts", {}) or {}
    opt_names = sorted(bopts)
    opt_values = [[str(v) for v in _list(bopts[k])] for k in opt_names]
    npu_vals = {k: _list(grid[k]) if k in grid else [None] for k in NPU_AXES}
    for k in ("dim", "dram_bw", "dram_latency", "dram_bytes"):
        for v in npu_vals[k]:
            if v is not None and (not isinstance(v, int) or v < 0):
                raise InvalidError(f"{path}: {k} value {v!r} is not a count")
    for v in npu_vals["dim"]:
        if v is not None and v not in (8, 16, 32):
            raise InvalidError(f"{path}: dim {v} is not 8, 16 or 32 (the sizes the NPU builds)")
    for v in npu_vals["executor"]:
        if v is not None and v not in ("golden", "systemc", "rtl"):
            raise InvalidError(f"{path}: executor {v!r} is not golden, systemc or rtl")
    points: List[Point] = []
    seen = set()
    for model, target, opts in itertools.product(models, targets,
                                                 itertools.product(*opt_values)):
        bo = tuple(zip(opt_names, opts))
        if target == "npu-sim":
            combos = itertools.product(*(npu_vals[k] for k in NPU_AXES))
        else:
            combos = [tuple(None for _ in NPU_AXES)]
        for combo in combos:
            kw = dict(zip(NPU_AXES, combo))
            if target == "npu-sim" and kw["dim"] is None:
                from .. import npu
                kw["dim"] = npu.DIM
            pt = Point(model=model, target=target, backend_opts=bo, **kw)
            if pt not in seen:
                seen.add(pt)
                points.append(pt)
    metrics = [str(m) for m in _list(raw.get("metrics", ["cycles", "mac_util"]))]
    for m in metrics:
        if m not in METRICS:
            raise InvalidError(f"{path}: unknown metric '{m}' (metrics: {', '.join(METRICS)})")
    fmt = raw.get("format", "csv")
    if fmt not in ("csv", "parquet"):
        raise InvalidError(f"{path}: format {fmt!r} is not csv or parquet")
    plot = raw.get("plot", {}) or {}
    varying = [k for k in ("dram_bw", "dim", "dram_latency", "executor", "target")
               if len({getattr(p, k) for p in points}) > 1]
    varying += ["opt_" + k for k, vals in zip(opt_names, opt_values) if len(vals) > 1]
    x = plot.get("x", varying[0] if varying else None)
    series = plot.get("series", next((v for v in varying if v != x), None))
    panels = plot.get("panels", "model")
    npu = raw.get("npu", {}) or {}
    plugins = {}
    for k, v in (npu.get("plugins", {}) or {}).items():
        p = (base / v).resolve()
        plugins[int(k)] = str(p)
    source = npu.get("source")
    if source is not None:
        source = str((base / source).resolve())
    out = pathlib.Path(output) if output else base / raw.get("output", "sweep-out")
    cache_dir = pathlib.Path(cache) if cache else (
        (base / raw["cache"]) if "cache" in raw else default_cache())
    return SweepConfig(
        path=path, name=str(raw.get("name", path.stem)), output=out.resolve(),
        format=fmt, metrics=metrics, points=points, plot_x=x,
        plot_series=series, plot_panels=panels, cache=cache_dir.resolve(),
        npu_plugins=plugins, npu_source=source,
        rtl_concurrency=int(raw.get("rtl_concurrency", 1)),
        retries=int(raw.get("retries", 3)), seed=int(raw.get("seed", 0)))
