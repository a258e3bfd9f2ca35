"""mpp-runtime with the real crun and runc: transparent with no plugin, and the chain around
real containers with real plugins."""
import json
import os
import signal
import subprocess
import time

import pytest

from mpp import (BUILD, MPP_RUNTIME, make_bundle, mount_changes, mount_table, oci_bind, unique_id,
                 wait_for)


def test_run_output_and_exit_code_are_the_real_runtimes(env, rootfs, rt):
    cid_t_bare = unique_id("t-bare")
    cid_t_mpp = unique_id("t-mpp")
    b = make_bundle(env.root / "b", rootfs, ["/bin/sh", "-c", "echo out; echo err >&2; exit 3"])
    bare = rt.run(False, "run", "--bundle", str(b), cid_t_bare)
    mpp = rt.run(True, "run", "--bundle", str(b), cid_t_mpp)
    assert (bare.returncode, bare.stdout, bare.stderr) == (3, "out\n", "err\n")
    assert (mpp.returncode, mpp.stdout, mpp.stderr) == (bare.returncode, bare.stdout, bare.stderr)


def test_failing_command(env, rootfs, rt):
    cid_f_bare = unique_id("f-bare")
    cid_f_mpp = unique_id("f-mpp")
    b = make_bundle(env.root / "b", rootfs, ["/no/such/program"])
    bare = rt.run(False, "run", "--bundle", str(b), cid_f_bare)
    mpp = rt.run(True, "run", "--bundle", str(b), cid_f_mpp)
    assert bare.returncode != 0 and mpp.returncode == bare.returncode
    assert "no/such/program" in mpp.stderr
    rt.run(False, "delete", "--force", cid_f_bare)
    rt.run(False, "delete", "--force", cid_f_mpp)


def lifecycle(rt, via_mpp, bundle, cid, log):
    """create, start, state, exec, kill, delete: the calls an engine makes."""
    seen = []
    with open(log, "w") as out:
        r = rt.run(via_mpp, "create", "--bundle", str(bundle), "--pid-file",
                   str(bundle / f"{cid}.pid"), cid, stdout=out, stderr=out,
                   capture_output=False)
    seen.append(r.returncode)
    seen.append(rt.state(cid))
    assert (bundle / f"{cid}.pid").read_text().strip().isdigit()
    seen.append(rt.run(via_mpp, "start", cid).returncode)
    wait_for(lambda: rt.state(cid) == "running", what="running")
    ex = rt.run(via_mpp, "exec", cid, "/bin/echo", "from-exec")
    seen += [ex.returncode, ex.stdout]
    ps = rt.run(via_mpp, "ps", "--format", "json", cid)
    seen += [ps.returncode, len(json.loads(ps.stdout)) >= 1]
    seen.append(rt.run(via_mpp, "kill", cid, "KILL").returncode)
    wait_for(lambda: rt.state(cid) == "stopped", what="stopped")
    seen.append(rt.run(via_mpp, "delete", cid).returncode)
    seen.append(rt.state(cid))
    d = rt.run(via_mpp, "delete", "--force", cid)
    seen.append(d.returncode)
    return seen


def test_lifecycle_is_transparent(env, rootfs, rt):
    cid_l_bare = unique_id("l-bare")
    cid_l_mpp = unique_id("l-mpp")
    b = make_bundle(env.root / "b", rootfs, ["/bin/sleep", "1000"])
    bare = lifecycle(rt, False, b, cid_l_bare, env.root / "bare.out")
    mpp = lifecycle(rt, True, b, cid_l_mpp, env.root / "mpp.out")
    assert bare == [0, "created", 0, 0, "from-exec\n", 0, True, 0, 0, None, 0]
    assert mpp == bare


def test_signal_reaches_the_container(env, rootfs, rt):
    b = make_bundle(env.root / "b", rootfs,
                    ["/bin/sh", "-c", "trap 'exit 7' TERM; echo ready; sleep 1000 & wait"])
    results = []
    for via in (False, True):
        p = subprocess.Popen(rt.cmd(via, "run", "--bundle", str(b), unique_id(f"s-{int(via)}")),
                             stdout=subprocess.PIPE, text=True)
        assert p.stdout.readline() == "ready\n"
        p.send_signal(signal.SIGTERM)
        results.append(p.wait(timeout=30))
    assert results == [7, 7]


def test_version_and_help_pass_through(env, rt):
    bare = rt.run(False, "--version")
    mpp = rt.run(True, "--version")
    assert bare.returncode == 0 and mpp.stdout == bare.stdout


# The chain around real containers.

def chain_config(env, rt, plugins):
    env.write_config(plugins, runtime=rt.real)
    return env.config


def test_chain_sequence_through_run(env, rootfs, rt):
    cid = unique_id("c1")
    src = env.root / "src"
    src.mkdir()
    env.plugin("p0")
    env.plugin("p1")
    cfg = chain_config(env, rt, ["p0", "p1"])
    b = make_bundle(env.root / "b", rootfs, ["/bin/true"], [oci_bind(src, "/data")])
    r = rt.run(True, "run", "--bundle", str(b), cid, config=cfg)
    assert r.returncode == 0, r.stderr
    assert env.calls() == ["p0:properties", "p1:properties", "p0:attach", "p1:attach",
                           "p1:detach", "p0:detach"]
    det = env.records("detach")[0]["request"]
    assert det["ExitStatus"] == 0 and det["ID"] == cid
    assert not (env.cstate(cid)).exists()


def test_chain_sequence_through_create_start_delete(env, rootfs, rt):
    cid = unique_id("c1")
    src = env.root / "src"
    src.mkdir()
    env.plugin("p0")
    env.plugin("p1")
    cfg = chain_config(env, rt, ["p0", "p1"])
    b = make_bundle(env.root / "b", rootfs, ["/bin/true"], [oci_bind(src, "/data")])
    assert rt.run(True, "create", "--bundle", str(b), cid, config=cfg,
                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                  capture_output=False).returncode == 0
    assert env.calls() == ["p0:properties", "p1:properties", "p0:attach", "p1:attach"]
    assert rt.run(True, "start", cid, config=cfg).returncode == 0
    wait_for(lambda: rt.state(cid) == "stopped", what="stopped")
    assert rt.run(True, "delete", cid, config=cfg).returncode == 0
    assert env.calls()[4:] == ["p1:detach", "p0:detach"]
    # Docker deletes again with --force: quiet, no second detach.
    assert rt.run(True, "delete", "--force", cid, config=cfg).returncode == 0
    assert env.calls()[4:] == ["p1:detach", "p0:detach"]


def test_redirected_source_is_what_the_container_sees(env, rootfs, rt):
    cid_c1 = unique_id("c1")
    cid_c2 = unique_id("c2")
    src = env.root / "src"
    src.mkdir()
    (src / "f").write_text("original\n")
    red = env.root / "red"
    red.mkdir()
    (red / "f").write_text("redirected\n")
    env.plugin("p0", "--attach", f"redirect:{red}")
    cfg = chain_config(env, rt, ["p0"])
    b = make_bundle(env.root / "b", rootfs, ["/bin/cat", "/data/f"], [oci_bind(src, "/data")])
    given = (b / "config.json").read_bytes()
    r = rt.run(True, "run", "--bundle", str(b), cid_c1, config=cfg)
    assert (r.returncode, r.stdout) == (0, "redirected\n"), r.stderr
    # The runtime read a bundle naming where the effective source was pinned (a path only its
    # private mount namespace had); the bundle given is put back as it was, and the host
    # source is untouched.
    assert (b / "config.json").read_bytes() == given
    assert sorted(p.name for p in b.iterdir()) == ["config.json"]
    assert (src / "f").read_text() == "original\n"
    assert list((env.state_dir / "pins").iterdir()) == []
    # So the same bundle runs again.
    r = rt.run(True, "run", "--bundle", str(b), cid_c2, config=cfg)
    assert (r.returncode, r.stdout) == (0, "redirected\n"), r.stderr


def test_denied_mount_fails_the_start_and_leaves_nothing(env, rootfs, rt):
    cid = unique_id("c1")
    env.plugin("p0")
    env.plugin("policy", "--attach", "deny:path /etc is protected")
    cfg = chain_config(env, rt, ["p0", "policy"])
    b = make_bundle(env.root / "b", rootfs, ["/bin/true"], [oci_bind("/etc", "/host-etc")])
    log = env.root / "runtime-log.json"
    before = mount_table()
    r = rt.run(True, "--log", str(log), "--log-format", "json", "run", "--bundle", str(b), cid,
               config=cfg)
    assert r.returncode != 0
    msg = 'mount point plugin "policy" denied /etc -> /host-etc: path /etc is protected'
    assert msg in r.stderr
    lines = [json.loads(l) for l in log.read_text().splitlines()]
    assert any(l["level"] == "error" and msg in l["msg"] for l in lines)
    assert [c for c in env.calls() if not c.endswith("properties")] == \
        ["p0:attach", "policy:attach", "p0:detach"]
    assert rt.state(cid) is None
    assert not (env.cstate(cid)).exists()
    assert mount_changes(before, mount_table(), roots=(env.root,)) == (set(), set())


def test_missing_source_is_created_only_when_allowed(env, rootfs, rt):
    cid = unique_id("c1")
    env.plugin("p0", "--attach", f"redirect:{env.root / 'not-there'}")
    cfg = chain_config(env, rt, ["p0"])
    src = env.root / "src"
    src.mkdir()
    b = make_bundle(env.root / "b", rootfs, ["/bin/true"], [oci_bind(src, "/data")])
    r = rt.run(True, "run", "--bundle", str(b), cid, config=cfg)
    assert r.returncode != 0
    assert str(src) in r.stderr and str(env.root / "not-there") in r.stderr
    assert not (env.root / "not-there").exists()
    assert env.calls()[-1] == "p0:detach"


def test_real_runtime_failure_unwinds(env, rootfs, rt):
    cid = unique_id("c1")
    src = env.root / "src"
    src.mkdir()
    env.plugin("p0")
    cfg = chain_config(env, rt, ["p0"])
    b = make_bundle(env.root / "b", rootfs, ["/bin/true"], [oci_bind(src, "/data")])
    cfgj = json.loads((b / "config.json").read_text())
    cfgj["root"]["path"] = str(env.root / "no-rootfs")
    (b / "config.json").write_text(json.dumps(cfgj))
    r = rt.run(True, "create", "--bundle", str(b), cid, config=cfg)
    assert r.returncode != 0
    assert env.calls()[-2:] == ["p0:attach", "p0:detach"]
    assert not (env.cstate(cid)).exists()


def test_failed_teardown_turns_0_into_129(env, rootfs, rt):
    cid_c1 = unique_id("c1")
    cid_c2 = unique_id("c2")
    src = env.root / "src"
    src.mkdir()
    env.plugin("p0", "--detach", "recoverable:flush failed")
    cfg = chain_config(env, rt, ["p0"])
    b = make_bundle(env.root / "b", rootfs, ["/bin/true"], [oci_bind(src, "/data")])
    r = rt.run(True, "run", "--bundle", str(b), cid_c1, config=cfg)
    assert r.returncode == 129 and "flush failed" in r.stderr
    b2 = make_bundle(env.root / "b2", rootfs, ["/bin/sh", "-c", "exit 5"],
                     [oci_bind(src, "/data")])
    assert rt.run(True, "run", "--bundle", str(b2), cid_c2, config=cfg).returncode == 5


def test_bad_config_is_a_clear_error(env, rt):
    bad = env.root / "bad.json"
    bad.write_text('{"plugin": ["x"]}')
    r = subprocess.run([MPP_RUNTIME, f"--mpp-config={bad}", "--version"], capture_output=True,
                       text=True)
    assert r.returncode not in (86, 87), r.stderr
    assert r.returncode == 1 and 'unknown key "plugin"' in r.stderr


@pytest.mark.parametrize("finish", ["delete", "recover"])
def test_teardown_when_the_runtimes_state_is_gone(env, rootfs, rt, finish):
    """The real runtime lost the container (its state directory wiped by a reboot, or the
    container deleted behind mpp's back): the next delete through mpp-runtime, which the runtime
    refuses, or `mppctl recover ID`, still finishes the plugins' teardown."""
    cid = unique_id("c1")
    src = env.root / "src"
    src.mkdir()
    env.plugin("p0")
    env.plugin("p1")
    cfg = chain_config(env, rt, ["p0", "p1"])
    b = make_bundle(env.root / "b", rootfs, ["/bin/sleep", "1000"], [oci_bind(src, "/data")])
    assert rt.run(True, "create", "--bundle", str(b), cid, config=cfg,
                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                  capture_output=False).returncode == 0
    # Behind mpp's back: the container and the runtime's record of it are gone.
    assert rt.run(False, "delete", "--force", cid).returncode == 0
    assert rt.state(cid) is None and env.cstate(cid).exists()
    env.clear_log()
    if finish == "delete":
        r = rt.run(True, "delete", cid, config=cfg)
        assert r.returncode != 0  # the runtime's answer for a container it does not know
    else:
        r = subprocess.run([str(BUILD / "src/ctl/mppctl"), f"--mpp-config={cfg}",
                            "recover", cid], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
    assert env.calls() == ["p1:detach", "p0:detach"]
    assert not env.cstate(cid).exists()


def test_failed_delete_of_a_known_container_keeps_the_teardown_for_later(env, rootfs, rt):
    """delete without --force of a running container fails: the plugins stay attached."""
    cid = unique_id("c1")
    src = env.root / "src"
    src.mkdir()
    env.plugin("p0")
    cfg = chain_config(env, rt, ["p0"])
    b = make_bundle(env.root / "b", rootfs, ["/bin/sleep", "1000"], [oci_bind(src, "/data")])
    assert rt.run(True, "run", "-d", "--bundle", str(b), cid, config=cfg,
                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                  capture_output=False).returncode == 0
    try:
        wait_for(lambda: rt.state(cid) == "running", what="running")
        assert rt.run(True, "delete", cid, config=cfg).returncode != 0
        assert env.calls(("detach",)) == [] and env.cstate(cid).exists()
    finally:
        assert rt.run(True, "delete", "--force", cid, config=cfg).returncode == 0
    assert env.calls(("detach",)) == ["p0:detach"]
