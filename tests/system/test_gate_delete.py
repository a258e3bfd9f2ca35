"""`delete --force` while the exit gate is detaching: the plugin gets exactly one detach (the
gate's, with the exit status); the delete waits for the gate's teardown instead of killing it and
detaching again. Real containers, crun and runc."""
import subprocess
import time

from mpp import BUILD, make_bundle, oci_bind, unique_id, wait_for

INIT = BUILD / "src/init/mpp-init"
SLOW_MS = 2000


def detaches(env):
    return [r["request"] for r in env.records("detach")]


def start_gated(env, rootfs, rt, cid, args):
    src = env.root / "src"
    src.mkdir()
    env.plugin("p0", "--fault", f"detach:slow:{SLOW_MS}")
    env.write_config(["p0"], runtime=rt.real, exit_gate=True, init_path=str(INIT),
                     detach_timeout_ms=SLOW_MS * 3, call_timeout_ms=SLOW_MS * 3)
    b = make_bundle(env.root / "b", rootfs, args, [oci_bind(src, "/data")])
    assert rt.run(True, "create", "--bundle", str(b), cid, config=env.config,
                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                  capture_output=False).returncode == 0
    assert rt.run(True, "start", cid, config=env.config).returncode == 0


def test_delete_force_during_the_gates_detach(env, rootfs, rt):
    cid = unique_id("gd1")
    start_gated(env, rootfs, rt, cid, ["/bin/sh", "-c", "exit 3"])
    # The workload exited; the gate is in the plugin's (slow) detach.
    wait_for(lambda: len(detaches(env)) == 1, what="the gate's detach")
    t0 = time.monotonic()
    r = rt.run(True, "delete", "--force", cid, config=env.config)
    assert r.returncode == 0, r.stderr
    d = detaches(env)
    assert len(d) == 1, d
    assert d[0]["ID"] == cid and d[0]["ExitStatus"] == 3
    # The delete returned only once the teardown was over: nothing is left.
    assert time.monotonic() - t0 > 0.3
    assert not env.cstate(cid).exists()
    assert not (env.state_dir / "gates" / cid).exists()
    assert rt.state(cid) is None
    assert "teardown" not in r.stderr, r.stderr
    # And nothing comes later.
    time.sleep(0.5)
    assert len(detaches(env)) == 1


def test_delete_force_of_a_running_gated_container_detaches_once(env, rootfs, rt):
    """Killed by the delete: the gate never got the exit, so the delete's teardown is the only
    one (no exit status)."""
    cid = unique_id("gd2")
    start_gated(env, rootfs, rt, cid, ["/bin/sleep", "1000"])
    wait_for(lambda: rt.state(cid) == "running", what="running")
    r = rt.run(True, "delete", "--force", cid, config=env.config)
    assert r.returncode == 0, r.stderr
    d = detaches(env)
    assert len(d) == 1 and d[0]["ID"] == cid and "ExitStatus" not in d[0], d
    assert not env.cstate(cid).exists()
    assert not (env.state_dir / "gates" / cid).exists()
    time.sleep(0.5)
    assert len(detaches(env)) == 1
