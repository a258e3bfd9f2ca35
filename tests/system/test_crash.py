"""Crash safety: the process running the chain is killed (SIGKILL) at every journal step in
turn, through the fault points of the test build; a later teardown must then detach each plugin
that may have attached exactly once, in reverse chain order."""
import json

import pytest

from mpp import bind_mount

CHAIN = ["a", "b", "c"]


def setup_chain(env):
    for name in CHAIN:
        env.plugin(name)
    env.write_config(CHAIN)
    src = env.root / "src"
    src.mkdir(exist_ok=True)
    return [bind_mount(src, "/data")]


def fault_points(env, mounts):
    """Run once without a kill and list the points crossed by attach and by detach."""
    log = env.root / "points.log"
    env.attach("probe", mounts, env={"MPP_FAULT_LOG": str(log)}, check=True)
    n_attach = len(log.read_text().splitlines())
    env.detach("probe", 0, env={"MPP_FAULT_LOG": str(log)})
    names = [l.split()[1] for l in log.read_text().splitlines()]
    env.clear_log()
    return names[:n_attach], names[n_attach:]


def detaches(env):
    return [c.split(":")[0] for c in env.calls(("detach",))]


def attached(env):
    return [c.split(":")[0] for c in env.calls(("attach",))]


def test_fault_points_exist(env):
    mounts = setup_chain(env)
    att, det = fault_points(env, mounts)
    # begin, then sent+answered for each plugin; sent+answered for each detach.
    assert att == ["begin"] + ["attach-sent", "attach-answered"] * 3
    assert det == ["detach-sent", "detach-answered"] * 3


@pytest.mark.parametrize("k", range(1, 8))
def test_killed_during_attach(env, k):
    mounts = setup_chain(env)
    r = env.attach("c1", mounts, env={"MPP_FAULT_KILL_AT": str(k)})
    assert r.returncode == -9, f"expected a kill at point {k}: {r.stderr}"
    got_attach = attached(env)
    out = env.detach("c1", 0)
    # The plugins whose attach was journaled get a detach, exactly once, highest clock first;
    # one killed between journaling and sending gets a detach for an ID it does not know.
    sent = (k - 1 + 1) // 2  # attach records written before the kill
    expected = list(reversed(CHAIN[:sent]))
    if k == 1:
        assert out.get("none") or detaches(env) == []
        expected = []
    assert detaches(env) == expected
    assert set(got_attach) <= set(expected)
    if expected:
        assert out["complete"] and out["status"] == 0
    assert not (env.cstate("c1")).exists()
    # And a further teardown has nothing left to do.
    assert env.detach("c1", 0).get("none")
    assert detaches(env) == expected


@pytest.mark.parametrize("k", range(1, 7))
def test_killed_during_detach(env, k):
    mounts = setup_chain(env)
    env.attach("c1", mounts, check=True)
    r = env.driver("detach", "c1", 0, env={"MPP_FAULT_KILL_AT": str(k)})
    assert r.returncode == -9
    out = env.detach("c1", 0)
    assert out["complete"] and out["status"] == 0
    assert detaches(env) == ["c", "b", "a"], "each plugin detached exactly once, in reverse"
    assert not (env.cstate("c1")).exists()


def test_torn_journal_tail_is_ignored(env):
    mounts = setup_chain(env)
    env.attach("c1", mounts, check=True)
    with open(env.cstate("c1") / "journal", "a") as f:
        f.write('{"op": "detach", "clo')  # a write cut short by a crash
    out = env.detach("c1", 0)
    assert out["complete"] and detaches(env) == ["c", "b", "a"]


def test_corrupt_journal_is_a_clear_error(env):
    mounts = setup_chain(env)
    env.attach("c1", mounts, check=True)
    j = env.cstate("c1") / "journal"
    lines = j.read_text().splitlines()
    lines[1] = "not json at all"
    j.write_text("\n".join(lines) + "\n")
    r = env.driver("detach", "c1", 0)
    assert r.returncode == 1 and "journal:2" in r.stderr
