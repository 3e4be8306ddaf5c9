"""The example NPU's simulators from Python (``ember sim``; docs/npu-isa.md,
docs/npu-architecture.md).

    r = ember.npu.sim("examples/npu/gemm.nasm", executor="systemc")
    r.cycles, r.mac_util, r.counters["gemm_busy"], r.trace["GEMM"][0]

A program is a path to assembly text (.nasm) or a binary program file
(.nbin), or the text or bytes themselves. Runs go through the simulator's
C driver interface (simulator/include/ember/npu/driver.h), the one the
golden model, the SystemC model and the RTL all implement. The array size
is this build's (``DIM``); other sizes are other builds of the npu-sim
plugin (docs/python.md, "Sweeps").
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from . import _ember

DIM: int = _ember.npu.DIM
assemble = _ember.npu.assemble
disassemble = _ember.npu.disassemble

ENGINES = ("LOAD", "GEMM", "VECTOR", "STORE")


class SimResult:
    """What a run of a program reports: the counters every executor keeps
    (``counters``: cycles, insns, macs, bytes, busy and stall cycles per
    engine, overlap), the summary figures of ``ember sim``'s last line, the
    per-engine table (``engines``), the per-engine trace (``trace``: engine
    -> slices with name, start, duration in cycles; SystemC only, else
    empty) and the DRAM ranges asked for (``dumps``: address -> bytes)."""

    def __init__(self, d: Mapping[str, Any]):
        self.executor: str = d["executor"]
        self.dim: int = d["dim"]
        self.timed: bool = d["timed"]
        self.counters: Dict[str, int] = dict(d["counters"])
        self.cycles: int = d["cycles"]
        self.mac_util: float = d["mac_util"]
        self.dma_bytes: int = d["dma_bytes"]
        self.overlap: float = d["overlap"]
        self.sim_cycles_per_s: float = d["sim_cycles_per_s"]
        self.wall_s: float = d["wall_s"]
        self.dumps: Dict[int, bytes] = dict(d["dumps"])
        c = self.counters
        self.engines: Dict[str, Dict[str, int]] = {
            "LOAD": {"busy": c["load_busy"], "stall_token": c["load_stall_token"],
                     "stall_dram": c["load_stall_dram"]},
            "GEMM": {"busy": c["gemm_busy"], "stall_token": c["gemm_stall_token"]},
            "VECTOR": {"busy": c["vector_busy"], "stall_token": c["vector_stall_token"]},
            "STORE": {"busy": c["store_busy"], "stall_token": c["store_stall_token"],
                      "stall_dram": c["store_stall_dram"]},
        }
        self.trace: Dict[str, List[Dict[str, Any]]] = _engine_slices(d["trace_json"])

    @property
    def line(self) -> str:
        """``ember sim``'s last line, less the simulation speed."""
        return (f"cycles={self.cycles} mac_util={self.mac_util:.4f} "
                f"dma_bytes={self.dma_bytes} overlap={self.overlap:.4f}")

    def __repr__(self) -> str:
        return f"<SimResult {self.executor} DIM {self.dim}: {self.line}>"


def _engine_slices(text: str) -> Dict[str, List[Dict[str, Any]]]:
    """The SystemC trace (Chrome JSON, one event per instruction or burst)
    as slices per engine track, in time order."""
    if not text:
        return {}
    doc = json.loads(text)
    events = doc["traceEvents"] if isinstance(doc, dict) else doc
    names: Dict[Tuple[Any, Any], str] = {}
    for e in events:
        if e.get("ph") == "M" and e.get("name") == "thread_name":
            names[(e.get("pid"), e.get("tid"))] = e["args"]["name"]
    out: Dict[str, List[Dict[str, Any]]] = {}
    for e in events:
        if e.get("ph") != "X":
            continue
        track = names.get((e.get("pid"), e.get("tid")), str(e.get("tid")))
        out.setdefault(track, []).append({
            "name": e.get("name", ""), "category": e.get("cat", ""),
            "start": e.get("ts", 0), "duration": e.get("dur", 0),
            "args": e.get("args", {})})
    for v in out.values():
        v.sort(key=lambda s: s["start"])
    return out


Program = Union[str, bytes, "os.PathLike[str]"]


def _program_bytes(program: Program) -> Tuple[bytes, str]:
    if isinstance(program, bytes):
        if program[:4] != b"ENPU" and (b"\0" in program):
            # Raw 16-byte instruction words (ember.npu.assemble's output).
            return disassemble(program).encode(), "program words"
        return program, "program bytes"
    if isinstance(program, str) and "\n" in program and not os.path.exists(program):
        return program.encode(), "program text"
    path = os.fspath(program)
    try:
        with open(path, "rb") as f:
            return f.read(), path
    except OSError as e:
        raise _ember_io_error(f"cannot open program ({path}): {e.strerror}") from None


def _ember_io_error(msg: str) -> Exception:
    from ._errors import EmberIOError
    return EmberIOError(msg)


def sim(program: Program, executor: str = "systemc", *,
        dram_bytes: Optional[int] = None, dram_bw: Optional[int] = None,
        dram_latency: Optional[int] = None, burst: Optional[int] = None,
        watchdog: Optional[int] = None, trace: bool = True,
        trace_fst: Optional[Union[str, "os.PathLike[str]"]] = None,
        loads: Optional[Mapping[int, Union[bytes, Any]]] = None,
        dumps: Sequence[Tuple[int, int]] = ()) -> SimResult:
    """Runs an NPU program on ``executor`` (``systemc``, ``golden`` or
    ``rtl``) as ``ember sim`` does: ``loads`` ({address: bytes or array})
    are written to DRAM first, ``dumps`` ([(address, length)]) read after.
    DRAM options as ``ember sim --dram-bw`` etc. (None: the spec's)."""
    data, where = _program_bytes(program)
    fields = {
        "executor": executor, "dram_bytes": dram_bytes, "dram_bw": dram_bw,
        "dram_latency": dram_latency, "burst": burst, "watchdog": watchdog,
        "trace": trace, "trace_fst": os.fspath(trace_fst) if trace_fst is not None else "",
        "loads": [(int(a), v if isinstance(v, bytes) else bytes(memoryview(v).cast("B")))
                  for a, v in (loads or {}).items()],
        "dumps": [(int(a), int(n)) for a, n in dumps],
    }
    if executor == "systemc":
        # SystemC has one simulation kernel per process, and the npu-sim
        # plugin's runs (Model.compile("npu-sim")) use this process's: the
        # program runs in a helper process of this module's (started on
        # first use, then reused).
        return SimResult(_systemc_helper().submit(_run, data, where, fields).result())
    return SimResult(_run(data, where, fields))


def _run(data: bytes, where: str, fields: Dict[str, Any]) -> Dict[str, Any]:
    spec = _ember.npu._SimSpec()
    for k in ("executor", "dram_bytes", "dram_bw", "dram_latency", "burst",
              "watchdog", "trace", "trace_fst"):
        setattr(spec, k, fields[k])
    for a, v in fields["loads"]:
        spec.add_load(a, v)
    spec.dumps = fields["dumps"]
    return dict(_ember.npu._sim(data, where, spec))


_helper = None


def _systemc_helper():
    global _helper
    if _helper is None:
        import concurrent.futures
        import multiprocessing
        _helper = concurrent.futures.ProcessPoolExecutor(
            max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    return _helper
