"""ember.conform and `ember conform --shard/--merge-junit`: the same cases,
statuses and reasons as the command, the first differing element of a
failure, and an even, deterministic split whose shards merge back."""

import shutil
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import ember


def _case(src, dst, scale=None):
    """A copy of a test case; with `scale`, its expected output is wrong."""
    shutil.copytree(src, dst)
    if scale is not None:
        from onnx import numpy_helper
        from conftest import read_pb
        p = dst / "test_data_set_0" / "output_0.pb"
        want = read_pb(p)
        want = (want * scale).astype(want.dtype)
        p.write_bytes(numpy_helper.from_array(want, "Plus214_Output_0").SerializeToString())


@pytest.fixture(scope="module")
def suite(tmp_path_factory, mnist):
    d = tmp_path_factory.mktemp("suite")
    for i in range(7):
        _case(mnist, d / f"case{i}", scale=2.0 if i == 4 else None)
    return d


def _cli_lines(cli, *args):
    r = cli("conform", *args, check=False)
    return r.stdout.strip().splitlines()


def test_results_equal_the_command(suite, cli):
    rep = ember.conform(suite, "interp", rtol=1e-4, atol=1e-5)
    lines = _cli_lines(cli, "--target=interp", "--rtol=1e-4", "--atol=1e-5", suite)
    assert [r.line for r in rep] == lines[:-1]
    assert rep.summary == lines[-1]
    assert [r.status for r in rep].count("FAIL") == 1 and not rep.ok


def test_a_failure_names_the_first_differing_element(suite, mnist):
    from conftest import read_pb
    rep = ember.conform(suite / "case4", "interp", rtol=1e-4, atol=1e-5)
    (r,) = rep
    assert r.status == "FAIL"
    m = r.mismatch
    want = read_pb(mnist / "test_data_set_0" / "output_0.pb").ravel()
    first = int(np.argmax(np.abs(want * 2 - want) > 1e-5 + 1e-4 * np.abs(want * 2)))
    assert (m.output, m.output_name, m.data_set) == (0, "Plus214_Output_0", "test_data_set_0")
    assert m.element == first
    assert float(m.expected) == pytest.approx(float(want[first] * 2), rel=1e-5)
    assert f"element {first}: got {m.got}, expected {m.expected}" in r.reason


def test_in_process_equals_isolated(suite):
    a = ember.conform(suite, "interp", isolate=False)
    b = ember.conform(suite, "interp", jobs=2)
    assert [(r.name, r.status, r.reason) for r in a] == [(r.name, r.status, r.reason) for r in b]


def _cases(path):
    root = ET.parse(path).getroot()
    return [(c.get("name"), [e.tag for e in c]) for c in root.iter("testcase")]


def test_shards_split_evenly_and_merge_back(suite, cli, tmp_path):
    cli("conform", "--target=interp", suite, f"--junit={tmp_path / 'all.xml'}", check=False)
    n = 3
    names = []
    for i in range(1, n + 1):
        lines = _cli_lines(cli, "--target=interp", f"--shard={i}/{n}", suite,
                           f"--junit={tmp_path / f's{i}.xml'}")
        names.append([ln.split()[1] for ln in lines[:-1]])
        py = ember.conform(suite, "interp", shard=(i, n))
        assert [r.name for r in py] == names[-1]
        assert py.shard == (i, n) and py.total_cases == 7
    assert [len(x) for x in names] == [3, 2, 2]
    assert sorted(sum(names, [])) == [f"case{i}" for i in range(7)]
    assert names[0] == ["case0", "case3", "case6"]
    # merged in any order: the unsharded run's cases, in its order
    files = [tmp_path / f"s{i}.xml" for i in (3, 1, 2)]
    cli("conform", f"--merge-junit={tmp_path / 'merged.xml'}", *files)
    assert _cases(tmp_path / "merged.xml") == _cases(tmp_path / "all.xml")
    root = ET.parse(tmp_path / "merged.xml").getroot().find("testsuite")
    assert root.get("tests") == "7" and root.get("failures") == "1"
    xml = ember.merge_junit(tmp_path / "merged2.xml", files)
    assert _cases(tmp_path / "merged2.xml") == _cases(tmp_path / "all.xml")
    assert "<testsuite" in xml


def test_merge_refuses_an_incomplete_split(suite, cli, tmp_path):
    for i in (1, 2):
        cli("conform", "--target=interp", f"--shard={i}/3", suite,
            f"--junit={tmp_path / f's{i}.xml'}", check=False)
    r = cli("conform", f"--merge-junit={tmp_path / 'm.xml'}", tmp_path / "s1.xml",
            tmp_path / "s2.xml", check=False)
    assert r.returncode == 1 and "shards missing: 3/3" in r.stderr
    with pytest.raises(ember.InvalidError, match="shards missing: 3/3"):
        ember.merge_junit(tmp_path / "m.xml", [tmp_path / "s1.xml", tmp_path / "s2.xml"])
    r = cli("conform", f"--merge-junit={tmp_path / 'm.xml'}", tmp_path / "s1.xml",
            tmp_path / "s1.xml", tmp_path / "s2.xml", check=False)
    assert "given twice" in r.stderr
    (tmp_path / "broken.xml").write_text("<testsuites><testsuite name='x'><testcase")
    r = cli("conform", f"--merge-junit={tmp_path / 'm.xml'}", tmp_path / "broken.xml",
            check=False)
    assert r.returncode == 1 and r.stderr.startswith("error: ") and "broken.xml" in r.stderr


def test_bad_shard_specs(suite, cli):
    for spec in ("0/3", "4/3", "1/0", "x", "1/", "/2"):
        r = cli("conform", "--target=interp", f"--shard={spec}", suite, check=False)
        assert r.returncode == 1 and "--shard" in r.stderr, spec
        with pytest.raises(ember.InvalidError):
            ember.conform(suite, "interp", shard=spec)
