#!/usr/bin/env python3
"""The shape options of `ember` as a user meets them (docs/onnx-import.md,
"Symbolic dims").

  check_shape_cli.py EMBER TARGET MNIST_DIR [MODELS_DIR]

- Messages name the option the user gave: `--input Nope=FILE` is reported
  as --input, never as --input-shape; an unknown --dim lists the model's
  named dims. (MNIST_DIR: examples/mnist, always present.)
- With MODELS_DIR (../shared/models, skipped when absent): every model
  compiles, runs and benches with no shape option, exit 0, and prints one
  `note: dim 'NAME' defaults to 1` line for each symbolic dim name its
  inputs declare; a model with symbolic dims prints one specialization
  line on `ember run`.
Prints `N passed, N failed` last; exits 1 on any failure.
"""
import os
import re
import subprocess
import sys

passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print("ok   " + name)
    else:
        failed += 1
        print("FAIL %s %s" % (name, detail))


def ember(*args, timeout=600):
    p = subprocess.run([EMBER] + list(args), capture_output=True, text=True,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def symbolic_dims(model):
    import onnx
    m = onnx.load(model, load_external_data=False)
    inits = {i.name for i in m.graph.initializer}
    names = set()
    for i in m.graph.input:
        if i.name in inits:
            continue
        for d in i.type.tensor_type.shape.dim:
            if d.HasField("dim_param"):
                names.add(d.dim_param)
    return names


def noted(stderr):
    return set(re.findall(r"^note: dim '([^']*)' defaults to 1", stderr, re.M))


def main():
    global EMBER
    EMBER = sys.argv[1]
    target = sys.argv[2]
    mnist = sys.argv[3]
    models = sys.argv[4] if len(sys.argv) > 4 else None
    model = os.path.join(mnist, "model.onnx")
    data = os.path.join(mnist, "test_data_set_0", "input_0.pb")

    rc, out, err = ember("run", model, "--input", "Nope=" + data)
    first = err.splitlines()[0] if err else ""
    check("wrong-input-name-names---input",
          rc == 1 and first.startswith("error: ") and
          "--input Nope=" in first and "--input-shape" not in first, first)
    rc, out, err = ember("run", model, "--input-shape", "Nope=1x1x28x28")
    first = err.splitlines()[0] if err else ""
    check("wrong-input-shape-name-names---input-shape",
          rc == 1 and "--input-shape Nope=1x1x28x28 names 'Nope'" in first,
          first)
    rc, out, err = ember("run", model, "--dim", "batch=2")
    first = err.splitlines()[0] if err else ""
    check("unknown-dim-names---dim",
          rc == 1 and "--dim batch=2 names dim 'batch'" in first, first)
    rc, out, err = ember("run", model, "--dim", "batch")
    first = err.splitlines()[0] if err else ""
    check("malformed-dim", rc == 1 and first.startswith("error: --dim batch"),
          first)

    if not models or not os.path.isdir(models):
        print("note: %s is not present; skipped the model checks" % models)
    else:
        for name in sorted(os.listdir(models)):
            path = os.path.join(models, name, "model.onnx")
            if not os.path.isfile(path):
                continue
            want = symbolic_dims(path)
            rc, out, err = ember("compile", path, "--emit=lowered", "-o",
                                 os.devnull)
            check("compile " + name, rc == 0 and noted(err) == want,
                  "rc=%d notes=%s want=%s %s" % (rc, sorted(noted(err)),
                                                 sorted(want), err[-300:]))
            rc, out, err = ember("run", path, "--target=" + target)
            spec = re.findall(r"^note: specialization #1: ", err, re.M)
            check("run " + name,
                  rc == 0 and noted(err) == want and
                  len(spec) == (1 if want else 0) and
                  out.splitlines()[-1].startswith("target=" + target),
                  "rc=%d %s" % (rc, err[-300:]))
            rc, out, err = ember("bench", path, "--target=" + target, "--runs", "1",
                                 "--warmup", "0")
            check("bench " + name,
                  rc == 0 and noted(err) == want and
                  out.splitlines()[-1].startswith("median_ms="),
                  "rc=%d %s" % (rc, err[-300:]))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
