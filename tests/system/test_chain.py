"""The chain (protocol §6 and the reference sequences of §7), with real plugin processes on real
unix sockets, driven by mpp-chain-driver as mpp-runtime drives the library."""
import json
import os
import stat
import time

import pytest

from mpp import bind_mount


def mounts_one(tmp):
    src = tmp / "src"
    src.mkdir(exist_ok=True)
    return [bind_mount(src, "/data")]


def test_two_plugins_attach_in_order_detach_in_reverse(env):
    env.plugin("p0")
    env.plugin("p1")
    env.write_config(["p0", "p1"])
    r = env.attach("c1", mounts_one(env.root), check=True)
    assert env.calls() == ["p0:properties", "p1:properties", "p0:attach", "p1:attach"]
    out = env.detach("c1", 0)
    assert out["status"] == 0 and not out["failed"] and out["complete"]
    assert env.calls()[4:] == ["p1:detach", "p0:detach"]
    # Teardown left no state behind.
    assert not (env.cstate("c1")).exists()


def test_duplicate_in_chain_is_dropped(env):
    env.plugin("p0")
    env.plugin("p1")
    env.write_config(["p0", "p1", "p0"])
    env.attach("c1", mounts_one(env.root), check=True)
    env.detach("c1", 0)
    assert env.calls() == ["p0:properties", "p1:properties", "p0:attach", "p1:attach",
                           "p1:detach", "p0:detach"]


def test_deny_unwinds_earlier_plugins_and_names_the_plugin(env):
    env.plugin("p1")
    env.plugin("p2")
    env.plugin("p4", "--attach", "deny:path /etc is protected")
    env.write_config(["p1", "p2", "p4"])
    r = env.attach("c1", [bind_mount("/etc", "/host-etc")])
    assert r.returncode == 1
    assert 'mount point plugin "p4" denied /etc -> /host-etc: path /etc is protected' in r.stderr
    calls = [c for c in env.calls() if not c.endswith(":properties")]
    assert calls == ["p1:attach", "p2:attach", "p4:attach", "p2:detach", "p1:detach"]
    assert not (env.cstate("c1")).exists()
    # Nothing left to tear down.
    assert env.detach("c1", 0).get("none")


def test_deny_after_attach_false_detaches_only_attached(env):
    env.plugin("p1")
    env.plugin("p2", "--attach", "no")
    env.plugin("p4", "--attach", "deny:no")
    env.write_config(["p1", "p2", "p4"])
    r = env.attach("c1", mounts_one(env.root))
    assert r.returncode == 1
    calls = [c for c in env.calls() if not c.endswith(":properties")]
    assert calls == ["p1:attach", "p2:attach", "p4:attach", "p1:detach"]


def test_redirect_is_seen_by_later_plugins_and_in_the_result(env):
    d = env.root / "redirected"
    d.mkdir()
    env.plugin("p1", "--attach", f"redirect:{d}")
    env.plugin("p2", "--attach", "no")
    env.plugin("p3")
    env.write_config(["p1", "p2", "p3"])
    r = env.attach("c1", mounts_one(env.root), check=True)
    result = json.loads(r.stdout)
    assert result[0]["EffectiveSource"] == str(d)
    assert result[0]["Source"] == str(env.root / "src")
    p3 = [rec for rec in env.records("attach") if rec["plugin"] == "p3"][0]
    m = p3["request"]["Mounts"][0]
    assert m["EffectiveSource"] == str(d)
    assert [a["Name"] for a in m["AppliedMiddleware"]] == ["plugin:p1"]
    assert m["AppliedMiddleware"][0]["Changes"]["EffectiveSource"] == str(d)
    assert [a["Name"] for a in result[0]["AppliedMiddleware"]] == ["plugin:p1", "plugin:p3"]
    env.detach("c1", 0)
    assert env.calls()[-2:] == ["p3:detach", "p1:detach"]


def test_consistency_change(env):
    env.plugin("p1", "--attach", "consistency:cached")
    env.plugin("p2")
    env.write_config(["p1", "p2"])
    r = env.attach("c1", mounts_one(env.root), check=True)
    assert json.loads(r.stdout)[0]["EffectiveConsistency"] == "cached"
    p2 = [rec for rec in env.records("attach") if rec["plugin"] == "p2"][0]
    assert p2["request"]["Mounts"][0]["EffectiveConsistency"] == "cached"
    env.detach("c1", 0)


def test_three_mounts_teardown_in_reverse_clock_order(env):
    for d in "abc":
        (env.root / d).mkdir()
    mounts = [bind_mount(env.root / "a", "/A"), bind_mount(env.root / "b", "/B"),
              bind_mount(env.root / "c", "/C")]
    env.plugin("p0", "--attach-only", "/A")
    env.plugin("p1", "--attach-only", "/A", "--attach-only", "/B")
    env.plugin("p2", "--attach-only", "/C")
    env.write_config(["p0", "p1", "p2"])
    env.attach("c1", mounts, check=True)
    env.detach("c1", 0)
    assert [c for c in env.calls() if c.endswith(":detach")] == \
        ["p2:detach", "p1:detach", "p0:detach"]
    # The [mpp extension] detach request carries the mounts each plugin attached.
    det = {r["plugin"]: r["request"] for r in env.records("detach")}
    assert [m["Destination"] for m in det["p1"]["Mounts"]] == ["/A", "/B"]
    assert [m["Destination"] for m in det["p2"]["Mounts"]] == ["/C"]
    assert det["p2"]["ExitStatus"] == 0 and det["p2"]["ID"] == "c1"


def test_attach_is_one_call_with_all_selected_mounts(env):
    for d in "ab":
        (env.root / d).mkdir()
    env.plugin("p0", "--patterns", json.dumps([{"Destination": [{"Prefix": "/sel"}]}]))
    env.write_config(["p0"])
    env.attach("c1", [bind_mount(env.root / "a", "/sel1"), bind_mount(env.root / "b", "/other"),
                      bind_mount(env.root / "b", "/sel2")], check=True)
    att = env.records("attach")
    assert len(att) == 1
    assert [m["Destination"] for m in att[0]["request"]["Mounts"]] == ["/sel1", "/sel2"]
    env.detach("c1", 0)


def test_recoverable_detach_failure_gives_129_and_continues(env):
    env.plugin("p0")
    env.plugin("p1", "--detach", "recoverable:disk full")
    env.write_config(["p0", "p1"])
    env.attach("c1", mounts_one(env.root), check=True)
    out = env.detach("c1", 0)
    assert out["status"] == 129 and out["failed"] and out["complete"]
    assert any('"p1"' in e and "disk full" in e for e in out["errors"])
    assert env.calls()[-2:] == ["p1:detach", "p0:detach"]


def test_non_zero_exit_status_is_kept(env):
    env.plugin("p0", "--detach", "recoverable:x")
    env.write_config(["p0"])
    env.attach("c1", mounts_one(env.root), check=True)
    out = env.detach("c1", 137)
    assert out["status"] == 137 and out["failed"]


def test_fatal_detach_stops_unwinding_until_resumed(env):
    env.plugin("p0")
    env.plugin("p1", "--detach", "fatal:cannot flush")
    env.plugin("p2")
    env.write_config(["p0", "p1", "p2"])
    env.attach("c1", mounts_one(env.root), check=True)
    out = env.detach("c1", 0)
    assert out["status"] == 129 and not out["complete"]
    assert [c for c in env.calls() if c.endswith(":detach")] == ["p2:detach", "p1:detach"]
    # A second delete does not detach the plugins below the halt.
    out = env.detach("c1", 0)
    assert not out["complete"]
    assert [c for c in env.calls() if c.endswith(":detach")] == ["p2:detach", "p1:detach"]
    # An administrator's recover resumes it.
    out = env.detach("c1", 0, "--resume")
    assert out["complete"] and out["failed"]
    assert [c for c in env.calls() if c.endswith(":detach")] == \
        ["p2:detach", "p1:detach", "p0:detach"]
    assert not (env.cstate("c1")).exists()


def test_plugin_selecting_nothing_costs_no_round_trip(env):
    env.plugin("p0", "--patterns", json.dumps([{"Destination": [{"Exactly": "/never"}]}]))
    env.plugin("p1", "--patterns", "[]")
    env.write_config(["p0", "p1"])
    mounts = mounts_one(env.root)
    env.attach("c1", mounts, check=True)
    # The first process ever asks for the properties; none attaches.
    assert env.calls(("activate", "properties", "attach")) == \
        ["p0:activate", "p0:properties", "p1:activate", "p1:properties"]
    env.clear_log()
    for i in range(2, 6):
        env.attach(f"c{i}", mounts, check=True)
        assert env.detach(f"c{i}", 0).get("none")
    assert env.calls(("activate", "properties", "attach", "detach")) == []
    # No journal was written for containers no plugin selected.
    assert not (env.state_dir / "containers").exists() or \
        list((env.state_dir / "containers").iterdir()) == []


def test_restarted_plugin_and_changed_config_are_asked_again(env):
    p0 = env.plugin("p0", "--patterns", json.dumps([{"Destination": [{"Exactly": "/never"}]}]))
    env.write_config(["p0"])
    mounts = mounts_one(env.root)
    env.attach("c1", mounts, check=True)
    env.attach("c2", mounts, check=True)
    assert env.calls(("properties",)) == ["p0:properties"]
    p0.stop()
    time.sleep(0.01)  # a new socket inode and time
    p0.start()
    env.attach("c3", mounts, check=True)
    assert env.calls(("properties",)) == ["p0:properties", "p0:properties"]
    env.write_config(["p0"], call_timeout_ms=2000)
    env.attach("c4", mounts, check=True)
    assert env.calls(("properties",)) == ["p0:properties"] * 3


def test_python_plugin_in_the_chain(env):
    env.plugin("p0")
    env.plugin("py", python=True)
    env.plugin("p2", "--attach", "deny:from c")
    env.write_config(["p0", "py"])
    env.attach("c1", mounts_one(env.root), check=True)
    env.detach("c1", 0)
    assert env.calls() == ["p0:properties", "py:properties", "p0:attach", "py:attach",
                           "py:detach", "p0:detach"]


def test_python_plugin_deny_and_redirect(env):
    d = env.root / "r"
    d.mkdir()
    env.plugin("py", "--attach", f"redirect:{d}", python=True)
    env.plugin("pyd", "--attach", "deny:python says no", python=True)
    env.write_config(["py", "pyd"])
    r = env.attach("c1", mounts_one(env.root))
    assert r.returncode == 1 and 'plugin "pyd" denied' in r.stderr and "python says no" in r.stderr
    req = [x for x in env.records("attach") if x["plugin"] == "pyd"][0]["request"]
    assert req["Mounts"][0]["EffectiveSource"] == str(d)
    assert env.calls()[-1] == "py:detach"


# Failure paths: each fails the start with an error naming the plugin, and detaches what was
# attached before it.

@pytest.mark.parametrize("fault,expect", [
    ("attach:hang", "did not answer"),
    # A crash mid-call: the request went out, so bad may have acted on it (see below).
    ("attach:crash", "without an answer"),
    ("attach:garbage", "answer to /MountPointPlugin.MountPointAttach"),
    ("attach:http500:quota exceeded", "quota exceeded"),
    ("attach:huge:8000000", "larger than"),
    ("properties:garbage", "answer to /MountPointPlugin.MountPointProperties"),
    ("properties:http500:broken", "broken"),
    ("activate:not-mountpoint", 'does not implement "mountpoint"'),
])
def test_attach_failures(env, fault, expect):
    env.plugin("p0")
    env.plugin("bad", "--fault", fault)
    env.write_config(["p0", "bad"])
    t0 = time.monotonic()
    r = env.attach("c1", mounts_one(env.root), timeout=30)
    assert time.monotonic() - t0 < 10, "a bad plugin must not hang the start"
    assert r.returncode == 1
    expect = expect if isinstance(expect, tuple) else (expect,)
    assert '"bad"' in r.stderr and any(e in r.stderr for e in expect), r.stderr
    # Properties are asked before any attach: a plugin that cannot give them fails the start
    # before anything is attached. Otherwise p0 attached and got its detach.
    p0 = [c for c in env.calls() if c.startswith("p0:") and not c.endswith("properties")]
    if fault.startswith(("properties", "activate")):
        assert p0 == []
    elif fault == "attach:crash":
        # Possibly attached, so bad is due a detach before p0; it is gone and left no
        # emergency actions: the unwind halts above p0 until an administrator recovers it.
        assert p0 == ["p0:attach"]
        assert "mppctl recover c1" in r.stderr, r.stderr
        env.plugins[-1].args = []
        env.plugins[-1].start()
        out = env.detach("c1", -1, "--resume")
        assert out["complete"], out
        assert [c for c in env.calls() if c.endswith(":detach")] == ["bad:detach", "p0:detach"]
    else:
        assert p0 == ["p0:attach", "p0:detach"]
    assert not (env.cstate("c1")).exists()


def test_too_few_attachments_means_not_attached(env):
    (env.root / "a").mkdir()
    (env.root / "b").mkdir()
    env.plugin("p0", "--fault", "attach:too-few")
    env.write_config(["p0"])
    r = env.attach("c1", [bind_mount(env.root / "a", "/A"), bind_mount(env.root / "b", "/B")],
                   check=True)
    res = json.loads(r.stdout)
    assert [len(m["AppliedMiddleware"]) for m in res] == [1, 0]
    env.detach("c1", 0)
    det = env.records("detach")
    assert [m["Destination"] for m in det[0]["request"]["Mounts"]] == ["/A"]


def test_too_many_attachments_are_ignored(env):
    env.plugin("p0", "--fault", "attach:too-many")
    env.write_config(["p0"])
    r = env.attach("c1", mounts_one(env.root), check=True)
    assert len(json.loads(r.stdout)) == 1
    assert env.detach("c1", 0)["status"] == 0


@pytest.mark.parametrize("src", ["relative/path", "/a/../etc", "/a//b"])
def test_invalid_effective_source_is_refused_and_detached(env, src):
    env.plugin("p0", "--attach", f"redirect:{src}")
    env.write_config(["p0"])
    r = env.attach("c1", mounts_one(env.root))
    assert r.returncode == 1
    assert 'plugin "p0" answered an invalid EffectiveSource' in r.stderr
    assert env.calls()[-1] == "p0:detach"


def test_emergency_actions_run_when_plugin_is_gone(env):
    victim = env.root / "victim-file"
    victim.write_text("x")
    vdir = env.root / "victim-dir"
    vdir.mkdir()
    actions = [{"Warning": "flush skipped"}, {"Remove": str(victim)}, {"Remove": str(vdir)}]
    # Its actions act below the StateDir it declares (they may act nowhere else).
    p0 = env.plugin("p0", "--emergency", json.dumps(actions), "--state-dir", str(env.root))
    env.write_config(["p0"])
    env.attach("c1", mounts_one(env.root), check=True)
    p0.kill()
    t0 = time.monotonic()
    out = env.detach("c1", 0)
    assert time.monotonic() - t0 < 10
    assert not victim.exists() and not vdir.exists()
    assert out["complete"] and not out["failed"] and out["status"] == 0


def test_emergency_error_marks_container_failed(env):
    p0 = env.plugin("p0", "--emergency", json.dumps([{"Error": "data may be lost"}]))
    env.write_config(["p0"])
    env.attach("c1", mounts_one(env.root), check=True)
    p0.kill()
    out = env.detach("c1", 0)
    assert out["status"] == 129 and out["complete"]
    assert any("data may be lost" in e for e in out["errors"])


def test_emergency_fatal_and_missing_actions_stop_the_unwind(env):
    env.plugin("low")
    mid = env.plugin("mid")  # no emergency actions
    env.write_config(["low", "mid"])
    env.attach("c1", mounts_one(env.root), check=True)
    mid.kill()
    out = env.detach("c1", 0)
    assert out["status"] == 129 and not out["complete"]
    assert any("no emergency actions" in e for e in out["errors"])
    assert "low:detach" not in env.calls()


def test_detach_retries_a_plugin_that_comes_back(env):
    p0 = env.plugin("p0", "--fault", "detach:http500:busy")
    env.write_config(["p0"], detach_timeout_ms=5000)
    env.attach("c1", mounts_one(env.root), check=True)
    p0.stop()
    p0.args = []
    p0.start()
    out = env.detach("c1", 0)
    assert out["status"] == 0 and out["complete"]


def test_hung_detach_is_bounded(env):
    env.plugin("p0", "--fault", "detach:hang",
               "--emergency", json.dumps([{"Warning": "gave up"}]))
    env.write_config(["p0"], call_timeout_ms=300, detach_timeout_ms=1000)
    env.attach("c1", mounts_one(env.root), check=True)
    t0 = time.monotonic()
    out = env.detach("c1", 0)
    assert time.monotonic() - t0 < 5
    assert out["complete"]


def test_plugin_socket_with_bad_permissions_is_refused(env):
    p0 = env.plugin("p0")
    os.chmod(p0.socket, 0o666)
    env.write_config(["p0"])
    r = env.attach("c1", mounts_one(env.root))
    assert r.returncode == 1
    assert "p0" in r.stderr and "writable by group or others" in r.stderr
    assert env.calls() == []
    os.chmod(p0.socket, 0o600)
    os.chown(p0.socket, 1000, 0)
    r = env.attach("c1", mounts_one(env.root))
    assert r.returncode == 1 and "owned by" in r.stderr


def test_missing_plugin_fails_closed(env):
    env.write_config(["ghost"])
    r = env.attach("c1", mounts_one(env.root))
    assert r.returncode == 1 and 'plugin "ghost" not found' in r.stderr


def test_leftover_state_is_refused(env):
    env.plugin("p0")
    env.write_config(["p0"])
    env.attach("c1", mounts_one(env.root), check=True)
    r = env.attach("c1", mounts_one(env.root))
    assert r.returncode == 1 and "mppctl recover c1" in r.stderr
    env.detach("c1", 0)


def test_state_is_private(env):
    env.plugin("p0")
    env.write_config(["p0"])
    env.attach("c1", mounts_one(env.root), check=True)
    for p in [env.state_dir, env.state_dir / "containers", env.cstate("c1")]:
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o700
    for p in [env.cstate("c1") / "journal", env.state_dir / "plugins/p0.json"]:
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o600
    env.detach("c1", 0)


def test_container_named_like_a_state_subdirectory(env):
    env.plugin("p0")
    env.write_config(["p0"])
    for cid in ("plugins", "containers", "gates"):
        env.attach(cid, mounts_one(env.root), check=True)
        assert env.detach(cid, 0)["complete"]


def test_detach_of_unknown_container(env):
    env.write_config([])
    assert env.detach("nothing-here", 0).get("none")


@pytest.mark.parametrize("cid", ["../x", "a/b", ".", "x y", "-" * 1025])
def test_invalid_container_id(env, cid):
    env.plugin("p0")
    env.write_config(["p0"])
    r = env.attach(cid, mounts_one(env.root))
    assert r.returncode == 1 and "invalid container ID" in r.stderr
    assert env.calls(("attach",)) == []


def test_plugin_answered_by_a_non_root_process_is_refused(env):
    """The socket file is root's (discovery is satisfied), but the process that listens on it is
    not: mpp checks the peer's credentials on connect and never sends it a request."""
    import socket
    path = env.plugin_dir / "p0.sock"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(path))
    os.chmod(path, 0o600)
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(rfd)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            s.listen(8)  # the peer's credentials are those of the process that listens
            s.settimeout(10)
            for _ in range(3):
                c, _ = s.accept()
                try:
                    os.write(wfd, c.recv(65536))
                    c.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 32\r\n\r\n'
                              b'{"Success":true,"Patterns":[{}]}')
                except OSError:
                    pass
                c.close()
        finally:
            os._exit(0)
    s.close()
    os.close(wfd)
    try:
        wait_until_listening = time.monotonic() + 5
        while time.monotonic() < wait_until_listening:
            c = socket.socket(socket.AF_UNIX)
            try:
                c.connect(str(path))
                break
            except OSError:
                time.sleep(0.02)
            finally:
                c.close()
        env.write_config(["p0"])
        r = env.attach("c1", mounts_one(env.root))
        assert r.returncode == 1
        assert f'plugin "p0": the process listening on {path}' in r.stderr, r.stderr
        assert "runs as uid 65534, not root: refused" in r.stderr, r.stderr
        assert not env.cstate("c1").exists()
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    with os.fdopen(rfd, "rb") as f:
        assert f.read() == b"", "a request reached the impostor"

