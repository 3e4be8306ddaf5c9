"""Ember from Python: load an ONNX model, compile it for a target, run it on
NumPy (or any DLPack) arrays; quantize, check conformance, and run programs
on the example NPU's simulators. docs/python.md is the guide.

    import ember, numpy as np
    model = ember.load("examples/mnist/model.onnx")
    compiled = model.compile(target="cpu")
    outputs = compiled.run({"Input3": np.zeros((1, 1, 28, 28), np.float32)})

The package binds Ember's C++ library (the module ``ember._ember``); it
never starts the ``ember`` command.
"""

from __future__ import annotations

import html
import os
import pathlib
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from . import _ember
from ._errors import (
    BackendError,
    DataDependentError,
    EmberError,
    EmberIOError,
    EmberTimeoutError,
    InputTypeError,
    InternalError,
    InvalidError,
    UnsupportedError,
    BY_CODE as _BY_CODE,
)

__version__: str = _ember.__version__
__all__ = [
    "load", "Model", "Compiled", "quantize", "conform", "ConformReport",
    "CaseResult", "Mismatch", "merge_junit", "npu", "plugin_dir",
    "EmberError", "InvalidError", "InputTypeError", "UnsupportedError",
    "DataDependentError",
    "EmberIOError", "InternalError", "BackendError", "EmberTimeoutError",
]

_ember._set_error_types(list(_BY_CODE))


def _find_plugin_dir() -> str:
    """The folder of the backend plugins: $EMBER_PLUGIN_DIR, the wheel's
    ember/lib/ember, or a build tree's lib/ember (build/python/ember is the
    package there)."""
    here = pathlib.Path(__file__).resolve().parent
    candidates = []
    if os.environ.get("EMBER_PLUGIN_DIR"):
        candidates.append(pathlib.Path(os.environ["EMBER_PLUGIN_DIR"]))
    candidates.append(here / "lib" / "ember")
    # A build tree: build/python/ember/_ember*.so beside build/lib/ember.
    so = pathlib.Path(_ember.__file__).resolve().parent
    candidates.append(so.parent.parent / "lib" / "ember")
    for c in candidates:
        if c.is_dir():
            return str(c)
    return str(candidates[0])


_ember._set_plugin_dir(_find_plugin_dir())


def plugin_dir() -> str:
    """Where targets given by name (``cpu``, ``npu-sim``, ``plugin:NAME``)
    are found."""
    return _ember.plugin_dir()


PathLike = Union[str, "os.PathLike[str]"]
#: (name, dtype, shape). A dim nothing has bound yet is its name (a str),
#: or None when the model leaves it unnamed; the shape is None when the
#: model does not even declare the rank.
TensorSpec = Tuple[str, str, Optional[Tuple[Union[int, str, None], ...]]]

_NUMPY_OF = {
    "f32": np.float32, "f64": np.float64, "f16": np.float16,
    "i8": np.int8, "i16": np.int16, "i32": np.int32, "i64": np.int64,
    "u8": np.uint8, "u16": np.uint16, "u32": np.uint32, "u64": np.uint64,
    "bool": np.bool_, "bf16": np.uint16,
}


def _as_array(name: str, value: Any, dtype: Optional[str]) -> np.ndarray:
    """An input as a C-contiguous NumPy array over the same memory when it
    already is one (NumPy, or any DLPack producer on the CPU): no copy.
    Python lists and scalars are converted to the model's dtype."""
    try:
        if isinstance(value, np.ndarray):
            arr = value
        elif hasattr(value, "__dlpack__"):
            arr = np.from_dlpack(value)
        elif hasattr(value, "__array_interface__") or hasattr(value, "__array__"):
            arr = np.asarray(value)
        else:
            want = _NUMPY_OF.get(dtype or "", None)
            arr = np.asarray(value, dtype=want)
    except (TypeError, ValueError) as err:
        raise InputTypeError(
            f"input '{name}' is a {type(value).__name__}, not an array "
            f"({err})") from None
    if arr.dtype == object:
        raise InputTypeError(
            f"input '{name}' is a {type(value).__name__} that NumPy makes an "
            f"object array of, not numbers")
    if not arr.flags.c_contiguous:
        # A strided view cannot cross as it is: one contiguous copy.
        arr = np.ascontiguousarray(arr)
    if dtype is not None and dtype in _NUMPY_OF and dtype != "bf16":
        want = np.dtype(_NUMPY_OF[dtype])
        if arr.dtype != want:
            raise InputTypeError(
                f"input '{name}' is {arr.dtype} but the model expects {dtype} "
                f"({want}); convert it first (arr.astype(np.{want}))")
    return arr


class Model:
    """An imported model (ONNX, or graph IR text). ``text`` is its graph IR
    after the graph passes, as ``ember compile --emit=graph`` prints it."""

    def __init__(self, impl: "_ember._Model"):
        self._impl = impl

    @property
    def path(self) -> str:
        return self._impl.path

    @property
    def inputs(self) -> List[TensorSpec]:
        """(name, dtype, shape) of each input, shapes as bound at load
        (``dims=``, ``input_shapes=``, a batch-like dim's default of 1);
        a dim only a run's arrays bind is its name (``"H"``)."""
        return list(self._impl.inputs)

    @property
    def outputs(self) -> List[TensorSpec]:
        """(name, dtype, shape) of each output: as the graph computes them,
        or as the model declares them while some dims wait for a run."""
        return list(self._impl.outputs)

    @property
    def unbound_dims(self) -> List[str]:
        """The dims ``load`` left to the arrays of each run, by name (an
        unnamed one as ``"input 'x' dim 2"``); empty when every dim is
        bound. Such a model compiles per shape set, on the run that first
        gives it (``Compiled.variants``)."""
        out: List[str] = []
        for n, _, shape in self.inputs:
            for i, d in enumerate(shape if shape is not None else (None,)):
                if isinstance(d, str):
                    name = d
                elif d is None:
                    name = f"input '{n}' dim {i}" if shape is not None \
                        else f"input '{n}' (no declared shape)"
                else:
                    continue
                if name not in out:
                    out.append(name)
        return out

    @property
    def notes(self) -> List[str]:
        """The importer's notes (defaulted dims, ...)."""
        return list(self._impl.notes)

    @property
    def text(self) -> str:
        """Graph IR text after the graph passes (docs/graph-ir.md)."""
        return self._impl.text("graph", False)

    def ir(self, stage: str = "graph", elide_constants: bool = False) -> str:
        """Graph IR text at ``stage``: ``imported``, ``graph`` (after the
        passes) or ``lowered`` (the primitive set)."""
        return self._impl.text(stage, elide_constants)

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        ins = ", ".join(f"{n}: {t}{_shape_text(s)}" for n, t, s in self.inputs)
        return f"<ember.Model {self.path!r} ({ins})>"

    def _graph_text(self) -> str:
        """The graph IR for the notebook views; while dims wait for a run,
        which ones (the IR needs every dim)."""
        if self.unbound_dims:
            return ("(graph IR after the first run binds "
                    + ", ".join(self.unbound_dims) + ")\n")
        return self.ir("graph", elide_constants=True)

    def _repr_markdown_(self) -> str:
        head = f"**ember.Model** `{self.path}`\n\n"
        rows = "| | name | type |\n|---|---|---|\n"
        for kind, specs in (("input", self.inputs), ("output", self.outputs)):
            for n, t, s in specs:
                rows += f"| {kind} | `{n}` | `{t}{_shape_text(s)}` |\n"
        return head + rows + "\n```\n" + self._graph_text() + "```\n"

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{kind}</td><td><code>{html.escape(n)}</code></td>"
            f"<td><code>{html.escape(t + _shape_text(s))}</code></td></tr>"
            for kind, specs in (("input", self.inputs), ("output", self.outputs))
            for n, t, s in specs)
        text = html.escape(self._graph_text())
        return (f"<div><b>ember.Model</b> <code>{html.escape(self.path)}</code>"
                f"<table><tr><th></th><th>name</th><th>type</th></tr>{rows}"
                f"</table><details><summary>graph IR</summary><pre>{text}</pre>"
                f"</details></div>")

    def compile(self, target: str = "interp", *, fallback: Optional[str] = None,
                opt_level: Optional[int] = None, threads: Optional[int] = None,
                timeout: Optional[float] = None, profile: Union[int, str] = 0,
                skip_passes: Sequence[str] = (), artifact_cache: Optional[PathLike] = None,
                max_variants: int = 8, **backend_opts: Any) -> "Compiled":
        """Compiles the model for ``target``: ``interp`` (the reference
        interpreter), ``cpu``, ``npu-sim``, ``plugin:PATH.so`` or
        ``plugin:NAME``. Keyword arguments not listed are the plugin's own
        options (``--backend-opt KEY=VALUE``), e.g. ``executor="golden"``,
        ``dram_bw=8`` for npu-sim. ``profile``: 0 or "counters" (the device
        counters), 1 or "layers" (per-layer rows), 2 or "trace" (per-engine
        slices). ``artifact_cache``: a folder of compiled partitions by
        content, reused across processes.

        An ONNX model compiles once per set of input shapes: now for the
        shapes ``load`` bound, and again on each ``run`` whose arrays have
        shapes not seen yet (dims ``load`` left unbound wait for the first
        run). ``max_variants`` shape sets stay compiled; the least recently
        used one is released when another would exceed it."""
        if isinstance(max_variants, bool) or not isinstance(max_variants, int):
            raise InputTypeError(f"max_variants must be an int, not "
                                 f"{type(max_variants).__name__}")
        if max_variants < 1:
            raise InvalidError(f"max_variants {max_variants} is not at least 1")
        spec = _ember._CompileSpec()
        spec.max_variants = max_variants
        spec.target = target
        if fallback is not None:
            spec.fallback = fallback
        spec.opt_level = opt_level
        spec.threads = threads
        spec.timeout = timeout
        levels = {"counters": 0, "layers": 1, "trace": 2}
        if isinstance(profile, str):
            if profile not in levels:
                raise InvalidError(f"profile '{profile}' is not counters, layers or trace")
            profile = levels[profile]
        if profile not in (0, 1, 2):
            raise InvalidError(f"profile {profile} is not 0, 1 or 2")
        spec.profile = profile
        spec.backend_opts = {str(k): _opt_text(v) for k, v in backend_opts.items()}
        spec.skip_passes = list(skip_passes)
        if artifact_cache is not None:
            os.makedirs(artifact_cache, exist_ok=True)
            spec.artifact_cache = os.fspath(artifact_cache)
        return Compiled(_ember._Compiled(self._impl, spec), target)


def _shape_text(shape: Optional[Tuple[Union[int, str, None], ...]]) -> str:
    """[1, 3, H, W]; [?] for an unnamed dim, [...] for an unknown rank."""
    if shape is None:
        return "[...]"
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def _opt_text(v: Any) -> str:
    if isinstance(v, bool):
        return "on" if v else "off"
    return str(v)


class Compiled:
    """A model compiled for a target. ``run`` executes it."""

    def __init__(self, impl: "_ember._Compiled", target: str):
        self._impl = impl
        self.target = target
        self._specs = list(impl.inputs)
        self._dtypes = {n: (np.dtype(_NUMPY_OF[t]) if t in _NUMPY_OF else None)
                        for n, t, _ in self._specs}

    @property
    def inputs(self) -> List[TensorSpec]:
        """(name, dtype, shape) of each input of the shape set compiled
        last (before any run of a model whose dims wait for one: as
        ``Model.inputs``)."""
        return list(self._impl.inputs)

    @property
    def outputs(self) -> List[TensorSpec]:
        return list(self._impl.outputs)

    @property
    def variants(self) -> List[Dict[str, Any]]:
        """One dict per shape set compiled so far, in order: ``number``,
        ``dims`` (the model's named dims), ``inputs`` ((name, dtype, shape)
        of each input), ``compile_ms``, ``cached`` (still compiled, or
        released for newer ones) and the import's ``notes``."""
        return list(self._impl.variants)

    def cache_info(self) -> Dict[str, int]:
        """The shape-set cache: ``compiles``, ``hits`` (runs of a shape set
        already compiled, the last one's included only when it changed),
        ``evictions``, ``cached`` and ``max_variants``."""
        return dict(self._impl.cache_info())

    def run(self, inputs: Union[Mapping[str, Any], Sequence[Any], Any]) -> Dict[str, np.ndarray]:
        """Runs on ``{name: array}`` (or a list in input order, or one array
        for a one-input model) and returns ``{name: numpy array}``. Arrays
        that are C-contiguous with the model's dtype cross without a copy
        (plugins that import host memory read them in place); results are
        NumPy arrays over Ember's buffers (DLPack producers).

        The arrays' shapes bind the model's symbolic dims: a shape set not
        seen yet compiles its variant first (``variants``). A wrong dtype
        or a value that is no array raises ``InputTypeError`` (a
        TypeError); a shape the model cannot take (rank, a fixed dim, a dim
        bound at load, two inputs giving one named dim different sizes)
        raises ``InvalidError`` (a ValueError) naming the input and dim."""
        if type(inputs) is dict:
            # The common case, checked cheaply: NumPy arrays of the model's
            # dtypes, contiguous; they go to the library as they are.
            dtypes = self._dtypes
            for n, v in inputs.items():
                if type(v) is not np.ndarray or v.dtype != dtypes.get(n) or \
                        not v.flags.c_contiguous:
                    break
            else:
                return self._impl.run(inputs)
        specs = self._specs
        if isinstance(inputs, Mapping):
            feed = dict(inputs)
        elif isinstance(inputs, (list, tuple)):
            if len(inputs) != len(specs):
                raise InvalidError(f"{len(inputs)} inputs given, the model takes {len(specs)}")
            feed = {s[0]: v for s, v in zip(specs, inputs)}
        else:
            if len(specs) != 1:
                raise InvalidError(f"the model takes {len(specs)} inputs: pass a dict")
            feed = {specs[0][0]: inputs}
        types = {n: t for n, t, _ in specs}
        arrays = {str(n): _as_array(str(n), v, types.get(n)) for n, v in feed.items()}
        return self._impl.run(arrays)

    __call__ = run

    @property
    def summary(self) -> str:
        """``partitions=N plugin_partitions=N plugin_nodes=N fallback_nodes=N``
        (empty on the interpreter)."""
        return self._impl.summary

    @property
    def partitions(self) -> List[Dict[str, Any]]:
        """Per partition of the last run: ``on_plugin``, ``nodes``,
        ``wall_ms`` and ``imported`` (the host addresses the plugin used in
        place: inputs, then outputs; empty when it copied)."""
        return list(self._impl.partitions)

    def profile(self) -> Optional[Dict[str, Any]]:
        """The device's profile of the last run (a plugin that reports one,
        e.g. npu-sim): ``cycles``, ``mac_util``, ``dma_bytes``, ``overlap``,
        ``mac_share``, every counter, per-layer rows (profile >= 1) and the
        per-engine trace (profile = 2); None otherwise."""
        return self._impl.profile()

    def report(self) -> str:
        """The per-layer table ``ember run --npu-report`` prints."""
        return self._impl.report()

    def write_trace(self, path: PathLike) -> None:
        """A Chrome/Perfetto trace of the last run (``ember run --trace``)."""
        self._impl.write_trace(os.fspath(path))

    def emit(self, format: str) -> List[str]:
        """A text form the plugin provides, per plugin partition (npu-sim:
        ``npu-asm``)."""
        return list(self._impl.emit(format))

    def __repr__(self) -> str:
        return f"<ember.Compiled target={self.target!r} {self.summary}>"


def _dim_value(where: str, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise InputTypeError(f"{where} is a {type(v).__name__}, not an int")
    if v < 0:
        raise InvalidError(f"{where} = {v} is not a dim size")
    return int(v)


def load(path: PathLike, *, dims: Optional[Mapping[str, int]] = None,
         input_shapes: Optional[Mapping[str, Sequence[int]]] = None,
         op_libraries: Sequence[PathLike] = ()) -> Model:
    """Imports a model: ONNX (``.onnx``) or graph IR text. ``dims`` binds
    symbolic dimensions by name, ``input_shapes`` whole input shapes
    (``ember run --dim/--input-shape``); an unbound batch-like dim is 1.
    Other dims nothing binds are left to the arrays of each run
    (``Model.unbound_dims``). ``op_libraries`` are op libraries (shared
    objects) defining the model's custom ops (``--op-library``;
    docs/custom-ops.md), loaded first, once per process."""
    _ember._load_op_libraries([os.path.abspath(os.fspath(p)) for p in op_libraries])
    spec = _ember._LoadSpec()
    spec.dims = {str(k): _dim_value(f"dims[{k!r}]", v) for k, v in (dims or {}).items()}
    shapes = {}
    for k, v in (input_shapes or {}).items():
        if isinstance(v, (str, bytes)) or not isinstance(v, Iterable):
            raise InputTypeError(f"input_shapes[{k!r}] is a {type(v).__name__}, "
                                 f"not a sequence of ints")
        shapes[str(k)] = [_dim_value(f"input_shapes[{k!r}]", d) for d in v]
    spec.shapes = shapes
    return Model(_ember._Model(os.fspath(path), spec))


def quantize(model: PathLike, output: PathLike, *, calibration: Optional[PathLike] = None,
             profile: Optional[PathLike] = None, profile_out: Optional[PathLike] = None,
             method: str = "auto", percentile: Optional[float] = None,
             per_channel: bool = True, activation_type: str = "uint8",
             keep_float: Sequence[str] = (), equalize: bool = True,
             bias_correction: bool = True, refine: str = "auto",
             max_samples: int = 0, report: bool = False,
             target_sqnr: Optional[float] = None, target: Optional[str] = None,
             threads: Optional[int] = None) -> Model:
    """Quantizes a float ONNX model to an int8 QDQ model at ``output``
    (``ember quantize``; docs/quantization.md), calibrating on
    ``calibration`` (a folder of .npy samples or test_data_set_N/ folders)
    or from a saved ``profile``. Returns the quantized model; its
    ``quantize_log`` holds the summary (and the SQNR report when asked)."""
    log = _ember._quantize(
        os.fspath(model), os.fspath(output),
        os.fspath(calibration) if calibration is not None else "",
        os.fspath(profile) if profile is not None else "",
        os.fspath(profile_out) if profile_out is not None else "",
        method, percentile, per_channel, activation_type, list(keep_float),
        equalize, bias_correction, refine, int(max_samples), report, target_sqnr,
        target or "", threads)
    m = load(output)
    m.quantize_log = log  # type: ignore[attr-defined]
    return m


class Mismatch:
    """Where a failing case's output first differs from the expected one."""

    __slots__ = ("output", "output_name", "data_set", "element", "got", "expected")

    def __init__(self, d: Mapping[str, Any]):
        self.output: int = d["output"]
        self.output_name: str = d["output_name"]
        self.data_set: str = d["data_set"]
        #: flat (row-major) index of the first differing element; -1 when
        #: the output differs as a whole (element type or shape).
        self.element: int = d["element"]
        self.got: str = d["got"]
        self.expected: str = d["expected"]

    def __repr__(self) -> str:
        return (f"Mismatch(output={self.output} {self.output_name!r}, "
                f"element={self.element}, got={self.got}, expected={self.expected})")


class CaseResult:
    """One conformance case: ``status`` is PASS, FAIL, UNSUPPORTED or ERROR."""

    __slots__ = ("name", "model", "status", "reason", "seconds", "mismatch")

    def __init__(self, d: Mapping[str, Any]):
        self.name: str = d["name"]
        self.model: str = d["model"]
        self.status: str = d["status"]
        self.reason: str = d["reason"]
        self.seconds: float = d["seconds"]
        self.mismatch: Optional[Mismatch] = Mismatch(d["mismatch"]) if d["mismatch"] else None

    @property
    def line(self) -> str:
        """The line ``ember conform`` prints for it."""
        return f"{self.status} {self.name}" + (f" {self.reason}" if self.reason else "")

    def __repr__(self) -> str:
        return f"<CaseResult {self.line[:120]}>"


class ConformReport(list):
    """The cases of a conformance run, in order (a list of CaseResult)."""

    target: str
    shard: Optional[Tuple[int, int]]
    total_cases: int

    @property
    def passed(self) -> int:
        return sum(r.status == "PASS" for r in self)

    @property
    def failed(self) -> int:
        return sum(r.status in ("FAIL", "ERROR") for r in self)

    @property
    def skipped(self) -> int:
        return sum(r.status == "UNSUPPORTED" for r in self)

    @property
    def summary(self) -> str:
        """``N passed, N failed, N skipped`` (the command's last line)."""
        return f"{self.passed} passed, {self.failed} failed, {self.skipped} skipped"

    @property
    def ok(self) -> bool:
        return self.failed == 0


def conform(paths: Union[PathLike, Iterable[PathLike]], target: str = "interp", *,
            rtol: float = 1e-3, atol: float = 1e-7, quanta: float = 0.0,
            fallback: Optional[str] = None, lower: bool = True, lir: bool = False,
            freeze: bool = True, jobs: int = 1, isolate: bool = True,
            shard: Optional[Union[str, Tuple[int, int]]] = None,
            junit: Optional[PathLike] = None, dims: Optional[Mapping[str, int]] = None,
            opt_level: Optional[int] = None, threads: Optional[int] = None,
            timeout: Optional[float] = None, **backend_opts: Any) -> ConformReport:
    """Runs ONNX test cases on ``target`` (``ember conform``) and returns
    one CaseResult per case, with the first differing element of a FAIL.
    ``isolate`` runs each case in a forked child (a crash is that case's
    ERROR); ``shard=(i, n)`` or ``"i/n"`` runs shard i of n (1-based);
    ``junit`` writes the JUnit report (with the shard recorded)."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    spec = _ember._ConformSpec()
    ts = _ember._CompileSpec()
    ts.target = target
    if fallback is not None:
        ts.fallback = fallback
        spec.fallback_given = True
    ts.opt_level = opt_level
    ts.threads = threads
    ts.timeout = timeout
    ts.backend_opts = {str(k): _opt_text(v) for k, v in backend_opts.items()}
    spec.target = ts
    spec.rtol, spec.atol, spec.quanta = float(rtol), float(atol), float(quanta)
    spec.lower, spec.lir, spec.freeze, spec.isolate = lower, lir, freeze, isolate
    if jobs < 1:
        raise InvalidError(f"jobs {jobs} is not at least 1")
    spec.jobs = int(jobs)
    if shard is not None:
        if isinstance(shard, str):
            i, n = _ember._parse_shard(shard)
        else:
            i, n = _ember._parse_shard(f"{shard[0]}/{shard[1]}")
        spec.shard_index, spec.shard_count = i, n
    spec.dims = {str(k): int(v) for k, v in (dims or {}).items()}
    if junit is not None:
        spec.junit = os.fspath(junit)
    res = _ember._conform([os.fspath(p) for p in paths], spec)
    report = ConformReport(CaseResult(d) for d in res["cases"])
    report.target = res["target"]
    report.shard = tuple(res["shard"]) if res["shard"] is not None else None
    report.total_cases = res["total_cases"]
    return report


def merge_junit(output: PathLike, reports: Iterable[PathLike]) -> str:
    """Merges the JUnit reports of a sharded conformance run (every shard
    once, any order) into ``output``, cases in the unsharded order
    (``ember conform --merge-junit``). Returns the merged XML."""
    xml = _ember._merge_junit([os.fspath(r) for r in reports])
    pathlib.Path(output).write_text(xml)
    return xml


from . import npu  # noqa: E402  (needs the module set up above)
