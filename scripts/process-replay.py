#!/usr/bin/env python3
"""Process replay: proves that a refactor changed nothing the compiler emits.

Borrowed from tinygrad's "process replay". For a fixed set of models it
records every stage the compiler emits, once on the commit before a refactor
and once after, and compares the two records byte for byte.

usage:
  process-replay.py capture OUT [--ember PATH] [--set quick|full] [-j N]
                                [--only REGEX]
  process-replay.py capture OUT --set npu [--ember PATH] [--target T]
                                [--npu-inputs DIR] [-j N] [--only REGEX]
  process-replay.py compare BEFORE AFTER [--exclude REGEX] [--all]

capture writes OUT/<case>/ for every case of the set:
  graph.eir.gz       ember compile --emit=graph     (graph IR after passes)
  lowered.eir.gz     ember compile --emit=lowered   (after lowering)
  lir.lir.gz         ember compile --emit=lir       (LIR after its passes)
  partitions.txt.gz  ember compile --emit=partitions --target=cpu
                     (the CPU backend's per-node answer, with reasons)
  cpu/<graph>.ll.gz           the CPU backend's LLVM IR as generated, and
  cpu/<graph>.opt.ll.gz       after its O3 pipeline (this host's CPU),
  cpu/<graph>.weights.bin.gz  its constant region (packed weights),
                     one set per compiled partition (vendor option
                     dump_dir, `ember run --target=cpu`)
  cpu/output_<i>.pb.gz        what that run computed (--seed 0, or the
                     case's test_data_set_0 inputs)
  status.txt         exit code and stderr of every command (errors are
                     output too; compare masks wall times, "<n> ms"); a
                     node test whose integer inputs decide a shape (an
                     axes operand) is compiled with them frozen to
                     test_data_set_0's values, as `ember conform` does,
                     and status.txt names them
plus OUT/MANIFEST.txt (commit, host, case list; not compared byte for byte).

--set npu records the NPU backend instead (an NPU backend refactor must not
change the programs it emits): for every int8 model the NPU tests use,
  npu-asm.txt.gz      ember compile --target=T --emit=npu-asm (the program of
                      every NPU partition, in the assembler's syntax)
  npu-layers.txt.gz   ember compile --target=T --emit=npu-layers (the same
                      partitions as the NPU compiler layer's scheduled
                      program: layers, tilings, tables, operations)
  run.txt.gz          stdout of ember run --target=T (its summary line:
                      cycles, MAC utilization, DMA bytes; wall times masked)
  outputs/output_<i>.pb.gz  what that run computed (test_data_set_0 inputs,
                      or --seed 0)
  status.txt          exit codes and stderr
The cases: examples/mnist-int8, the int8 models under ../shared/models, the
generated single-layer sweep (tests/npu/gen_layers.py, 320 cases, seed 15,
with its groups), ResNet-50 int8 (bench/npu/make_resnet50.py, quantized by
scripts/quantize-with-ort.py) and the coverage set's models
(bench/npu/coverage_set.py: seeded float models quantized as it quantizes
them, coverage/<name>). The generated ones are made once into
--npu-inputs DIR (default /tmp/ember-replay-npu-inputs; both records of a
comparison must use the same folder, since ONNX Runtime's quantizer may not
be bit-stable across its versions); generating needs onnx, onnxruntime and
../shared (without them those cases are skipped). T is npu-sim by default;
plugin:PATH records another build of the backend (a DIM 8 or 32 sub-build,
tests/npu/dim_subbuild.sh) or another NPU: the second NPU's plugin
(examples/second-npu, built against an install of this tree as
tests/sdk/second_npu.sh builds it) records its programs over the same cases.

The set ("full", the default): the bundled MNIST; every model under
../shared/models; the ONNX light models; every ONNX node test (with their
test_data_set_0 inputs); the graph IR inputs of tests/lit. "quick" keeps
MNIST, the shared models, the light models and one node test in eight.
A case whose files are absent (no ../shared) is skipped and not listed.

compare walks both records: it lists cases and files present on one side
only, then compares every file's (decompressed) bytes and names the first
difference (case, file, line, both lines). Exit status 0 only when the two
records are identical (after --exclude, a regular expression over
"<case>/<file>" for changes a commit makes on purpose).

Determinism: the same binary on the same host gives the same record (the
CPU code depends on the host's instruction set: capture both records on one
machine; MANIFEST.txt names the host). docs/architecture.md ("Refactoring:
process replay") says when to run it.
"""
import argparse
import concurrent.futures
import gzip
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Real paths, so that a record made from /work/main and one made from a
# worktree (where ../shared is a symbolic link) name the same files.
SHARED = os.path.realpath(os.path.join(os.path.dirname(ROOT), "shared"))
TIMEOUT = 600  # seconds per command


def tensor_info(pb_path):
    """(name, dims) of a TensorProto file, or None without the onnx module."""
    try:
        import onnx
    except ImportError:
        return None
    t = onnx.TensorProto()
    with open(pb_path, "rb") as f:
        t.ParseFromString(f.read())
    return t.name, list(t.dims)


def graph_inputs(model_path):
    """Names of the ONNX model's inputs that are not initializers."""
    try:
        import onnx
    except ImportError:
        return None
    m = onnx.load(model_path, load_external_data=False)
    inits = {i.name for i in m.graph.initializer}
    return [i.name for i in m.graph.input if i.name not in inits]


class Case:
    def __init__(self, name, model, data_set=None):
        self.name = name  # relative folder in the record
        self.model = model
        self.data_set = data_set  # test_data_set_0 folder or None

    def input_args(self):
        """--input-shape args for compile, --input args for run."""
        shapes, inputs = [], []
        if not self.data_set:
            return shapes, inputs
        pbs = []
        i = 0
        while os.path.exists(os.path.join(self.data_set, "input_%d.pb" % i)):
            pbs.append(os.path.join(self.data_set, "input_%d.pb" % i))
            i += 1
        names = graph_inputs(self.model) if pbs else []
        for i, pb in enumerate(pbs):
            info = tensor_info(pb)
            if info is None:
                return [], []
            name = info[0] or (names[i] if names and i < len(names) else "")
            if not name:
                continue
            shapes += ["--input-shape", "%s=%s" % (name, "x".join(
                str(d) for d in info[1]))]
            inputs += ["--input", "%s=%s" % (name, pb)]
        return shapes, inputs


def collect_cases(which, only):
    cases = []
    mnist = os.path.join(ROOT, "examples", "mnist")
    cases.append(Case("mnist", os.path.join(mnist, "model.onnx"),
                      os.path.join(mnist, "test_data_set_0")))
    models = os.path.join(SHARED, "models")
    if os.path.isdir(models):
        for n in sorted(os.listdir(models)):
            m = os.path.join(models, n, "model.onnx")
            if os.path.exists(m):
                ds = os.path.join(models, n, "test_data_set_0")
                cases.append(Case("models/" + n, m,
                                  ds if os.path.isdir(ds) else None))
    light = os.path.join(SHARED, "onnx-backend", "light")
    if os.path.isdir(light):
        for n in sorted(os.listdir(light)):
            if n.endswith(".onnx"):
                cases.append(Case("light/" + n[:-5], os.path.join(light, n)))
    node = os.path.join(SHARED, "onnx-backend", "node")
    if os.path.isdir(node):
        names = sorted(os.listdir(node))
        if which == "quick":
            names = names[::8]
        for n in names:
            m = os.path.join(node, n, "model.onnx")
            if os.path.exists(m):
                ds = os.path.join(node, n, "test_data_set_0")
                cases.append(Case("node/" + n, m,
                                  ds if os.path.isdir(ds) else None))
    if which == "full":
        lit = os.path.join(ROOT, "tests", "lit")
        for d, _, files in sorted(os.walk(lit)):
            for n in sorted(files):
                if n.endswith(".eir"):
                    rel = os.path.relpath(os.path.join(d, n), lit)
                    cases.append(Case("lit/" + rel[:-4].replace(os.sep, "_"),
                                      os.path.join(d, n)))
    if only:
        rx = re.compile(only)
        cases = [c for c in cases if rx.search(c.name)]
    return cases


def ensure_npu_inputs(root):
    """Generates the single-layer sweep and ResNet-50 int8 into `root` once;
    returns [(case name, model, data set or None)] of what exists."""
    os.makedirs(root, exist_ok=True)
    py = sys.executable
    layers = os.path.join(root, "layers")
    if not os.path.isdir(layers):
        tmp = layers + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        rc, _, se = run([py, os.path.join(ROOT, "tests", "npu", "gen_layers.py"),
                         tmp, "--count", "320", "--seed", "15"])
        if rc == 0:
            os.rename(tmp, layers)
        else:
            print("warning: the single-layer sweep was not generated: %s" %
                  se.decode(errors="replace").strip()[-300:])
    r50 = os.path.join(root, "resnet50-int8")
    light = os.path.join(SHARED, "onnx-backend", "light", "light_resnet50.onnx")
    if not os.path.isdir(r50) and os.path.exists(light):
        fp32 = os.path.join(root, "resnet50-fp32")
        shutil.rmtree(fp32, ignore_errors=True)
        rc, _, se = run([py, os.path.join(ROOT, "bench", "npu",
                                          "make_resnet50.py"), light, fp32])
        if rc == 0:
            rc, _, se = run([py, os.path.join(ROOT, "scripts",
                                              "quantize-with-ort.py"),
                             fp32, r50 + ".tmp", "--samples", "4"])
        if rc == 0:
            os.rename(r50 + ".tmp", r50)
        else:
            print("warning: ResNet-50 int8 was not generated: %s" %
                  se.decode(errors="replace").strip()[-300:])
    cov = os.path.join(root, "coverage")
    if not os.path.isdir(cov):
        make_coverage_models(cov)
    out = []
    if os.path.isdir(layers):
        for n in sorted(os.listdir(layers)):
            m = os.path.join(layers, n, "model.onnx")
            if os.path.exists(m):
                out.append(("layers/" + n, m,
                            os.path.join(layers, n, "test_data_set_0")))
    if os.path.isdir(r50):
        out.append(("resnet50-int8", os.path.join(r50, "model.onnx"),
                    os.path.join(r50, "test_data_set_0")))
    if os.path.isdir(cov):
        for n in sorted(os.listdir(cov)):
            m = os.path.join(cov, n, "model.onnx")
            if os.path.exists(m):
                out.append(("coverage/" + n, m, None))
    return out


def make_coverage_models(cov):
    """bench/npu/coverage_set.py's models, each built and quantized as that
    script does (seed 7; the -slim-toy copies with only its CONV_ONLY ops
    quantized), into cov/<name>/model.onnx."""
    try:
        import numpy as np
        import onnx
        sys.path.insert(0, os.path.join(ROOT, "bench", "npu"))
        import coverage_set
    except ImportError as e:
        print("warning: the coverage set was not generated: %s" % e)
        return
    tmp = cov + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        for name, make in coverage_set.MODELS.items():
            rng = np.random.default_rng(7)
            d = os.path.join(tmp, name)
            os.makedirs(d)
            fp32 = os.path.join(d, "fp32.onnx")
            onnx.save(make(rng), fp32)
            coverage_set.quantize(
                fp32, os.path.join(d, "model.onnx"), rng,
                coverage_set.CONV_ONLY if name in coverage_set.SLIM else None)
            os.remove(fp32)
    except Exception as e:  # noqa: BLE001 (any failure: the set is skipped)
        print("warning: the coverage set was not generated: %s" % e)
        shutil.rmtree(tmp, ignore_errors=True)
        return
    os.rename(tmp, cov)


def collect_npu_cases(inputs, only):
    cases = []
    m = os.path.join(ROOT, "examples", "mnist-int8")
    cases.append(Case("mnist-int8", os.path.join(m, "model.onnx"),
                      os.path.join(m, "test_data_set_0")))
    models = os.path.join(SHARED, "models")
    if os.path.isdir(models):
        for n in sorted(os.listdir(models)):
            mp = os.path.join(models, n, "model.onnx")
            if "int8" in n and os.path.exists(mp):
                ds = os.path.join(models, n, "test_data_set_0")
                cases.append(Case("models/" + n, mp,
                                  ds if os.path.isdir(ds) else None))
    for name, mp, ds in ensure_npu_inputs(inputs):
        cases.append(Case(name, mp, ds if ds and os.path.isdir(ds) else None))
    if only:
        rx = re.compile(only)
        cases = [c for c in cases if rx.search(c.name)]
    return cases


# Wall times on a run's summary line (compile_ms=8099.0 run_ms=2393.6):
# masked in the record, the simulated cycles stay.
RUN_TIMES = re.compile(rb"\b([a-z_]+_ms)=[0-9.]+")


def capture_npu_case(ember, target, out, case):
    # The target names the plugin's file for another build; the record says
    # <target> so that two builds' records compare.
    def scrub_target(data, tmp):
        data = scrub(data, tmp)
        if target.startswith("plugin:"):
            data = data.replace(target.encode(), b"<target>")
        return data
    d = os.path.join(out, case.name)
    os.makedirs(d, exist_ok=True)
    shapes, inputs = case.input_args()
    status = []
    tmp = tempfile.mkdtemp(prefix="replay-")
    try:
        rc, so, se = run([ember, "compile", case.model, "--target=" + target,
                          "--emit=npu-asm"] + shapes)
        write_gz(os.path.join(d, "npu-asm.txt.gz"), scrub_target(so, tmp))
        status.append(b"npu-asm: exit %s\n%s" % (str(rc).encode(),
                                                  scrub_target(se, tmp)))
        rc, so, se = run([ember, "compile", case.model, "--target=" + target,
                          "--emit=npu-layers"] + shapes)
        write_gz(os.path.join(d, "npu-layers.txt.gz"), scrub_target(so, tmp))
        status.append(b"npu-layers: exit %s\n%s" % (str(rc).encode(),
                                                     scrub_target(se, tmp)))
        outs = os.path.join(tmp, "outputs")
        rc, so, se = run([ember, "run", case.model, "--target=" + target,
                          "--seed", "0", "--save-outputs", outs] + inputs)
        write_gz(os.path.join(d, "run.txt.gz"), RUN_TIMES.sub(
            rb"\1=<t>", scrub_target(so, tmp)))
        status.append(b"run: exit %s\n%s" % (str(rc).encode(), scrub_target(se, tmp)))
        if os.path.isdir(outs):
            od = os.path.join(d, "outputs")
            os.makedirs(od, exist_ok=True)
            for n in sorted(os.listdir(outs)):
                with open(os.path.join(outs, n), "rb") as f:
                    write_gz(os.path.join(od, n + ".gz"), f.read())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    with open(os.path.join(d, "status.txt"), "wb") as f:
        f.write(b"".join(status))
    return case.name


def run(cmd):
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=TIMEOUT)
        return p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired:
        return "timeout", b"", b""


def write_gz(path, data):
    # mtime=0 and no file name: the same bytes give the same .gz file.
    with open(path, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                           compresslevel=6) as f:
            f.write(data)


# Paths in messages (the temporary folder, the checkout the models come
# from) differ between two captures; they become placeholders.
def scrub(text, tmp=None):
    if tmp:
        text = text.replace(tmp.encode(), b"<tmp>")
    return text.replace(ROOT.encode(), b"<root>")


def freeze_integer_inputs(case, path):
    """Writes case.model with its integer inputs (axes, shapes, K, ...) made
    initializers from test_data_set_0, as `ember conform` freezes inputs
    that decide a shape; returns the frozen names, or [] when there are
    none (or no onnx module)."""
    try:
        import onnx
    except ImportError:
        return []
    if not case.data_set:
        return []
    m = onnx.load(case.model, load_external_data=False)
    inits = {i.name for i in m.graph.initializer}
    inputs = [i for i in m.graph.input if i.name not in inits]
    frozen = []
    for i, inp in enumerate(inputs):
        pb = os.path.join(case.data_set, "input_%d.pb" % i)
        if not os.path.exists(pb):
            continue
        t = onnx.TensorProto()
        with open(pb, "rb") as f:
            t.ParseFromString(f.read())
        if t.data_type not in (onnx.TensorProto.INT32, onnx.TensorProto.INT64):
            continue
        t.name = inp.name
        m.graph.initializer.append(t)
        frozen.append(inp.name)
    if not frozen:
        return []
    keep = [i for i in m.graph.input if i.name not in frozen]
    del m.graph.input[:]
    m.graph.input.extend(keep)
    onnx.save(m, path)
    return frozen


def capture_case(ember, out, case):
    d = os.path.join(out, case.name)
    os.makedirs(d, exist_ok=True)
    shapes, inputs = case.input_args()
    status = []
    tmp = tempfile.mkdtemp(prefix="replay-")
    try:
        model = case.model
        # A model whose integer inputs decide a shape (a node test's axes
        # operand) is compiled with them frozen to test_data_set_0's values.
        rc, _, se = run([ember, "compile", model, "--emit=graph"] + shapes)
        if rc != 0 and b"must be known at compile time" in se:
            frozen = freeze_integer_inputs(case, os.path.join(tmp, "model.onnx"))
            if frozen:
                model = os.path.join(tmp, "model.onnx")
                status.append(b"frozen inputs: %s\n" %
                              ", ".join(frozen).encode())
                shapes = [x for x in _pairs(shapes) if not _names(x, frozen)]
                inputs = [x for x in _pairs(inputs) if not _names(x, frozen)]
                shapes = [a for pair in shapes for a in pair]
                inputs = [a for pair in inputs for a in pair]
        stages = [("graph.eir", ["--emit=graph"]),
                  ("lowered.eir", ["--emit=lowered"]),
                  ("lir.lir", ["--emit=lir"]),
                  ("partitions.txt", ["--emit=partitions", "--target=cpu"])]
        for fname, args in stages:
            rc, so, se = run([ember, "compile", model] + args + shapes)
            write_gz(os.path.join(d, fname + ".gz"), scrub(so, tmp))
            status.append(b"%s: exit %s\n%s" % (
                fname.encode(), str(rc).encode(), scrub(se, tmp)))
        cpu = os.path.join(d, "cpu")
        os.makedirs(cpu, exist_ok=True)
        dump = os.path.join(tmp, "dump")
        os.makedirs(dump)
        rc, so, se = run([ember, "run", model, "--target=cpu",
                          "--seed", "0", "--backend-opt",
                          "dump_dir=" + dump, "--save-outputs",
                          os.path.join(dump, "outputs")] + inputs)
        status.append(b"cpu: exit %s\n%s" % (str(rc).encode(), scrub(se, tmp)))
        files = []
        for n in sorted(os.listdir(dump)):
            p = os.path.join(dump, n)
            if os.path.isfile(p):
                files.append((n, p))
        od = os.path.join(dump, "outputs")
        if os.path.isdir(od):
            for n in sorted(os.listdir(od)):
                files.append((n, os.path.join(od, n)))
        for n, p in files:
            with open(p, "rb") as f:
                data = f.read()
            if n.endswith(".ll"):
                data = scrub(data, tmp)
            write_gz(os.path.join(cpu, n + ".gz"), data)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    with open(os.path.join(d, "status.txt"), "wb") as f:
        f.write(b"".join(status))
    return case.name


def _pairs(args):
    """["--input", "a=x", "--input", "b=y"] -> [("--input", "a=x"), ...]"""
    return [(args[i], args[i + 1]) for i in range(0, len(args), 2)]


def _names(pair, names):
    return any(pair[1].startswith(n + "=") for n in names)


def git(*args):
    try:
        return subprocess.run(["git", "-C", ROOT] + list(args),
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True).stdout.strip()
    except OSError:
        return "?"


def cmd_capture(a):
    ember = os.path.abspath(a.ember)
    if not os.access(ember, os.X_OK):
        sys.exit("error: %s is not an executable ember (build first, or "
                 "pass --ember)" % ember)
    if os.path.exists(a.out) and os.listdir(a.out):
        sys.exit("error: %s exists and is not empty" % a.out)
    os.makedirs(a.out, exist_ok=True)
    npu = a.set == "npu"
    target = a.target or ("npu-sim" if npu else None)
    if target and target.startswith("plugin:") and "/" in target:
        target = "plugin:" + os.path.abspath(target[len("plugin:"):])
    cases = (collect_npu_cases(a.npu_inputs, a.only) if npu
             else collect_cases(a.set, a.only))
    if tensor_info(os.path.join(ROOT, "examples", "mnist", "test_data_set_0",
                                "input_0.pb")) is None:
        print("warning: no python onnx module: test-case inputs are not "
              "used (seeded random inputs, static shapes only)")
    done = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=a.jobs) as ex:
        if npu:
            futs = [ex.submit(capture_npu_case, ember, target, a.out, c)
                    for c in cases]
        else:
            futs = [ex.submit(capture_case, ember, a.out, c) for c in cases]
        for f in concurrent.futures.as_completed(futs):
            f.result()
            done += 1
            if done % 100 == 0 or done == len(cases):
                print("captured %d/%d" % (done, len(cases)), flush=True)
    with open(os.path.join(a.out, "MANIFEST.txt"), "w") as f:
        f.write("commit %s%s\n" % (git("rev-parse", "HEAD"),
                                   " (dirty)" if git("status", "--porcelain",
                                                     "--untracked-files=no")
                                   else ""))
        f.write("ember %s\n" % ember)
        f.write("host %s %s\n" % (platform.node(), platform.machine()))
        cpuinfo = ""
        if os.path.exists("/proc/cpuinfo"):
            with open("/proc/cpuinfo") as ci:
                for line in ci:
                    if line.startswith("model name"):
                        cpuinfo = line.split(":", 1)[1].strip()
                        break
        f.write("cpu %s\n" % cpuinfo)
        f.write("set %s only=%s%s\n" % (a.set, a.only or "",
                                         " target=" + target if npu else ""))
        f.write("cases %d\n" % len(cases))
        for c in cases:
            f.write("case %s\n" % c.name)
    print("wrote %d cases to %s" % (len(cases), a.out))


def files_of(root):
    out = set()
    for d, _, files in os.walk(root):
        for n in files:
            rel = os.path.relpath(os.path.join(d, n), root)
            if rel != "MANIFEST.txt":
                out.add(rel)
    return out


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    return gzip.decompress(data) if path.endswith(".gz") else data


# Wall times a command prints on stderr ("note: specialization #1: ...
# compiled in 8224.7 ms"): they differ from run to run, so status.txt is
# compared with them masked.
WALL_TIME = re.compile(rb"\b\d+(?:\.\d+)? ms\b")


def first_difference(a, b):
    la, lb = a.split(b"\n"), b.split(b"\n")
    for i in range(min(len(la), len(lb))):
        if la[i] != lb[i]:
            return i + 1, la[i], lb[i]
    i = min(len(la), len(lb))
    return (i + 1, la[i] if i < len(la) else b"<end of file>",
            lb[i] if i < len(lb) else b"<end of file>")


def show(line):
    s = line.decode("utf-8", "replace")
    return s if len(s) <= 200 else s[:200] + "..."


def cmd_compare(a):
    for d in (a.before, a.after):
        if not os.path.isfile(os.path.join(d, "MANIFEST.txt")):
            sys.exit("error: %s is not a process-replay record (no "
                     "MANIFEST.txt)" % d)
    ex = re.compile(a.exclude) if a.exclude else None
    keep = lambda p: not (ex and ex.search(p))
    fb = {p for p in files_of(a.before) if keep(p)}
    fa = {p for p in files_of(a.after) if keep(p)}
    problems = 0
    for p in sorted(fb - fa):
        print("only in before: %s" % p)
        problems += 1
    for p in sorted(fa - fb):
        print("only in after: %s" % p)
        problems += 1
    first = None
    differing = []
    for p in sorted(fb & fa):
        x, y = read(os.path.join(a.before, p)), read(os.path.join(a.after, p))
        if p.endswith("status.txt"):
            x, y = WALL_TIME.sub(b"<t> ms", x), WALL_TIME.sub(b"<t> ms", y)
        if x != y:
            differing.append(p)
            if first is None:
                first = (p,) + first_difference(x, y)
            if not a.all:
                break
    if first:
        p, line, x, y = first
        print("first difference: %s line %d" % (p, line))
        print("  before: %s" % show(x))
        print("  after:  %s" % show(y))
    for p in differing[1:]:
        print("differs: %s" % p)
    problems += len(differing)
    cases = {p.split(os.sep + "status.txt")[0] for p in fb & fa
             if p.endswith("status.txt")}
    if problems:
        print("process replay: DIFFERENT (%d file%s%s)" %
              (problems, "s" if problems != 1 else "",
               "" if a.all or not differing else "; --all lists every one"))
        return 1
    print("process replay: identical (%d cases, %d files)" %
          (len(cases), len(fb)))
    return 0


def main():
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.split("\n")[2:]))
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("capture", help="record every stage for the set")
    c.add_argument("out")
    c.add_argument("--ember", default=os.path.join(ROOT, "build", "bin",
                                                   "ember"))
    c.add_argument("--set", choices=["quick", "full", "npu"], default="full")
    c.add_argument("--target", help="--set npu: the NPU target (npu-sim, or "
                   "plugin:PATH of another build)")
    c.add_argument("--npu-inputs", default="/tmp/ember-replay-npu-inputs",
                   help="--set npu: where the generated cases are made once")
    c.add_argument("--only", help="regular expression over case names")
    c.add_argument("-j", "--jobs", type=int, default=2)
    k = sub.add_parser("compare", help="compare two records byte for byte")
    k.add_argument("before")
    k.add_argument("after")
    k.add_argument("--exclude", help="regular expression over <case>/<file> "
                   "for intended changes")
    k.add_argument("--all", action="store_true",
                   help="list every differing file, not just the first")
    a = ap.parse_args()
    if a.cmd == "capture":
        cmd_capture(a)
        return 0
    return cmd_compare(a)


if __name__ == "__main__":
    sys.exit(main())
