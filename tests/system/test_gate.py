"""The exit gate (protocol §6): mpp-init as the container's PID 1 holds the exit until teardown is
done, and a failed teardown turns exit 0 into 129. Real containers, crun and runc."""
import json
import os
import pty
import signal
import subprocess
import time

import pytest

from mpp import BUILD, make_bundle, oci_bind, unique_id, wait_for

INIT = BUILD / "src/init/mpp-init"


@pytest.fixture
def gated(env, rt):
    """A chain of one plugin, with the exit gate on."""
    src = env.root / "src"
    src.mkdir()

    def setup(*plugin_args, gate=True):
        env.plugin("p0", *plugin_args)
        env.write_config(["p0"], runtime=rt.real, exit_gate=gate, init_path=str(INIT))
        return src
    return setup


def bundle(env, rootfs, src, args, **kw):
    return make_bundle(env.root / "b", rootfs, args, [oci_bind(src, "/data")], **kw)


def detaches(env):
    return env.records("detach")


def test_failed_teardown_turns_0_into_129_at_the_gate(env, rootfs, rt, gated):
    cid = unique_id("c1")
    src = gated("--detach", "recoverable:flush failed")
    b = bundle(env, rootfs, src, ["/bin/true"])
    r = rt.run(True, "run", "--bundle", str(b), cid, config=env.config)
    assert r.returncode == 129, r.stderr
    d = detaches(env)
    assert len(d) == 1 and d[0]["request"]["ExitStatus"] == 0
    # The gate did the teardown; nothing is left for delete, and the gate is gone.
    assert not env.cstate(cid).exists()
    assert not (env.state_dir / "gates" / cid).exists(), (list((env.state_dir / "gates" / cid).iterdir()), r.stderr)


def test_status_passes_through_the_gate(env, rootfs, rt, gated):
    cid = unique_id("c1")
    src = gated()
    b = bundle(env, rootfs, src, ["/bin/sh", "-c", "echo out; exit 5"])
    r = rt.run(True, "run", "--bundle", str(b), cid, config=env.config)
    assert (r.returncode, r.stdout) == (5, "out\n"), r.stderr
    assert [d["request"]["ExitStatus"] for d in detaches(env)] == [5]


def test_teardown_is_done_before_the_exit_is_visible(env, rootfs, rt, gated):
    cid = unique_id("c1")
    src = gated("--fault", "detach:slow:700")
    b = bundle(env, rootfs, src, ["/bin/true"])
    assert rt.run(True, "create", "--bundle", str(b), cid, config=env.config,
                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                  capture_output=False).returncode == 0
    assert rt.run(True, "start", cid, config=env.config).returncode == 0
    # The plugin logs the detach as it gets it, then takes 0.7 s to answer: from then on the
    # workload is gone, and only the gate keeps the container running.
    wait_for(lambda: detaches(env) != [], what="the detach")
    assert rt.state(cid) == "running", (rt.real, detaches(env), rt.run(False, "state", cid).stdout)
    assert env.cstate(cid).exists()
    wait_for(lambda: rt.state(cid) == "stopped", what="stopped")
    # By the time anyone can see the exit, the detach has been answered.
    assert len(detaches(env)) == 1
    assert not env.cstate(cid).exists(), (list(env.cstate(cid).iterdir()), rt.state(cid))
    assert rt.run(True, "delete", cid, config=env.config).returncode == 0
    assert len(detaches(env)) == 1


def test_signals_reach_the_workload(env, rootfs, rt, gated):
    cid = unique_id("c1")
    src = gated()
    b = bundle(env, rootfs, src,
               ["/bin/sh", "-c", "trap 'exit 7' TERM; echo ready; sleep 1000 & wait"])
    p = subprocess.Popen(rt.cmd(True, "run", "--bundle", str(b), cid, config=env.config),
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline() == "ready\n"
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=30) == 7
    assert [d["request"]["ExitStatus"] for d in detaches(env)] == [7]


def test_stop_with_sigterm_gives_143(env, rootfs, rt, gated):
    cid = unique_id("c1")
    src = gated()
    b = bundle(env, rootfs, src, ["/bin/sleep", "1000"])
    rt.run(True, "create", "--bundle", str(b), cid, config=env.config,
           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, capture_output=False)
    rt.run(True, "start", cid, config=env.config)
    wait_for(lambda: rt.state(cid) == "running", what="running")
    assert rt.run(True, "kill", cid, "TERM", config=env.config).returncode == 0
    wait_for(lambda: rt.state(cid) == "stopped", what="stopped")
    assert [d["request"]["ExitStatus"] for d in detaches(env)] == [143]
    rt.run(True, "delete", cid, config=env.config)


def test_sigkill_leads_to_teardown_at_delete(env, rootfs, rt, gated):
    cid = unique_id("c1")
    src = gated()
    b = bundle(env, rootfs, src, ["/bin/sleep", "1000"])
    rt.run(True, "create", "--bundle", str(b), cid, config=env.config,
           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, capture_output=False)
    rt.run(True, "start", cid, config=env.config)
    wait_for(lambda: rt.state(cid) == "running", what="running")
    daemon = int((env.state_dir / "gates" / cid / "daemon.pid").read_text())
    rt.run(True, "kill", cid, "KILL", config=env.config)
    wait_for(lambda: rt.state(cid) == "stopped", what="stopped")
    time.sleep(0.2)
    assert detaches(env) == []
    assert rt.run(True, "delete", cid, config=env.config).returncode == 0
    d = detaches(env)
    assert len(d) == 1 and "ExitStatus" not in d[0]["request"]
    assert not (env.state_dir / "gates" / cid).exists(), (list((env.state_dir / "gates" / cid).iterdir()), r.stderr)
    wait_for(lambda: not os.path.exists(f"/proc/{daemon}") or
             open(f"/proc/{daemon}/stat").read().split()[2] == "Z", what="gate daemon gone")


def test_zombies_are_reaped(env, rootfs, rt, gated):
    cid = unique_id("c1")
    src = gated()
    # The grandchild is orphaned to PID 1 and exits: mpp-init must reap it.
    script = "sh -c 'sleep 0.2 &'; sleep 0.8; ps -o stat,comm"
    b = bundle(env, rootfs, src, ["/bin/sh", "-c", script])
    r = rt.run(True, "run", "--bundle", str(b), cid, config=env.config)
    assert r.returncode == 0, r.stderr
    stats = [l.split()[0] for l in r.stdout.splitlines()[1:] if l.strip()]
    assert stats and not any(s.startswith("Z") for s in stats), r.stdout
    assert r.stdout.splitlines()[1].split()[1].startswith("init"), r.stdout


def test_container_cannot_trigger_teardown_early(env, rootfs, rt, gated):
    cid = unique_id("c1")
    src = gated()
    # A process of the workload (not PID 1) asks the gate for teardown: refused.
    script = ("/.mpp/init --gate /.mpp/gate/gate.sock -- /bin/true; "
              "sleep 0.3; echo still-running; exit 4")
    b = bundle(env, rootfs, src, ["/bin/sh", "-c", script])
    r = rt.run(True, "run", "--bundle", str(b), cid, config=env.config)
    assert r.returncode == 4 and "still-running" in r.stdout, r.stderr
    assert "gave no verdict" in r.stderr
    d = detaches(env)
    assert [x["request"]["ExitStatus"] for x in d] == [4]


def test_tty_container(env, rootfs, rt, gated):
    cid = unique_id("c1")
    src = gated()
    b = bundle(env, rootfs, src, ["/bin/sh", "-c", "tty; exit 3"], terminal=True)
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(rt.cmd(True, "run", "--bundle", str(b), cid, config=env.config)[0],
                 rt.cmd(True, "run", "--bundle", str(b), cid, config=env.config))
    out = b""
    while True:
        try:
            chunk = os.read(fd, 1024)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    _, ws = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(ws) == 3, out
    assert b"/dev/pts/" in out or b"/dev/console" in out, out
    assert [d["request"]["ExitStatus"] for d in detaches(env)] == [3]


def test_no_gate_without_attached_plugins(env, rootfs, rt):
    cid = unique_id("c1")
    src = env.root / "src"
    src.mkdir()
    env.plugin("p0", "--attach", "no")
    env.write_config(["p0"], runtime=rt.real, exit_gate=True, init_path=str(INIT))
    b = bundle(env, rootfs, src, ["/bin/sh", "-c", "cat /proc/1/cmdline"])
    r = rt.run(True, "run", "--bundle", str(b), cid, config=env.config)
    assert r.returncode == 0 and "init" not in r.stdout
    assert not (env.state_dir / "gates" / cid).exists(), (list((env.state_dir / "gates" / cid).iterdir()), r.stderr)


def test_annotation_turns_the_gate_on(env, rootfs, rt):
    cid = unique_id("c1")
    src = env.root / "src"
    src.mkdir()
    env.plugin("p0", "--detach", "recoverable:x")
    env.write_config(["p0"], runtime=rt.real, init_path=str(INIT))
    b = bundle(env, rootfs, src, ["/bin/true"], annotations={"mpp.exit-gate": "true"})
    assert rt.run(True, "run", "--bundle", str(b), cid, config=env.config).returncode == 129


def test_missing_init_is_a_clear_error(env, rootfs, rt):
    cid = unique_id("c1")
    src = env.root / "src"
    src.mkdir()
    env.plugin("p0")
    env.write_config(["p0"], runtime=rt.real, exit_gate=True, init_path="/nonexistent/init")
    b = bundle(env, rootfs, src, ["/bin/true"])
    r = rt.run(True, "run", "--bundle", str(b), cid, config=env.config)
    assert r.returncode == 1 and "/nonexistent/init" in r.stderr
    assert env.calls()[-1] == "p0:detach"
    assert not env.cstate(cid).exists() and not (env.state_dir / "gates" / cid).exists()


def test_long_state_dir_and_id(env, rootfs, rt):
    """A 64-character ID under a long state_dir: the socket path is longer than sun_path."""
    src = env.root / "src"
    src.mkdir()
    env.plugin("p0", "--detach", "recoverable:x")
    long_state = env.root / ("s" * 60) / "state"
    env.write_config(["p0"], runtime=rt.real, exit_gate=True, init_path=str(INIT),
                     state_dir=str(long_state))
    cid = (unique_id("f") * 5)[:64]  # as long as Docker's IDs, and this test's alone
    assert len(str(long_state / "gates" / cid / "gate.sock")) > 107
    b = bundle(env, rootfs, src, ["/bin/true"])
    r = rt.run(True, "run", "--bundle", str(b), cid, config=env.config)
    assert r.returncode == 129, r.stderr
    assert not (long_state / "gates" / cid).exists(), list((long_state / "gates" / cid).iterdir())
