"""The Python package's tests (docs/python.md). They import `ember` from
$EMBER_PYTHONPATH when set (the build tree's build/python), else from the
environment (an installed wheel), and compare with the `ember` command at
$EMBER_BIN on the same inputs."""

import os
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
if os.environ.get("EMBER_PYTHONPATH"):
    sys.path.insert(0, os.environ["EMBER_PYTHONPATH"])


def _ember_bin():
    b = os.environ.get("EMBER_BIN") or str(ROOT / "build" / "bin" / "ember")
    return b if os.path.exists(b) else None


@pytest.fixture(scope="session")
def root():
    return ROOT


@pytest.fixture(scope="session")
def ember_bin():
    b = _ember_bin()
    if b is None:
        pytest.skip("the ember command is not built (set EMBER_BIN)")
    return b


@pytest.fixture(scope="session")
def cli(ember_bin):
    """Runs `ember ARGS...`; returns the CompletedProcess."""

    def run(*args, check=True):
        r = subprocess.run([ember_bin, *map(str, args)], capture_output=True, text=True)
        if check and r.returncode != 0:
            raise AssertionError(f"ember {' '.join(map(str, args))} failed:\n{r.stderr}")
        return r

    return run


@pytest.fixture(scope="session")
def mnist(root):
    return root / "examples" / "mnist"


@pytest.fixture(scope="session")
def mnist_int8(root):
    return root / "examples" / "mnist-int8"


def read_pb(path):
    from onnx import TensorProto, numpy_helper
    t = TensorProto()
    t.ParseFromString(pathlib.Path(path).read_bytes())
    return numpy_helper.to_array(t)


@pytest.fixture(scope="session")
def pb():
    return read_pb


def has_plugin(name):
    import ember
    try:
        ember._ember.plugin_path(name)
        return True
    except ember.EmberError:
        return False
