"""An Attach that was sent and got no valid answer (timeout, connection closed, garbage, an answer
over the size limit) may have been acted on: the plugin counts as possibly attached and gets
exactly one Detach, in reverse order, during the unwind of the failed start, or from `mppctl
recover` after a crash. A request that never left (no socket) gets none. Real crun and runc."""
import subprocess

from mpp import BUILD, bind_mount, make_bundle, oci_bind, unique_id

MPPCTL = BUILD / "src/ctl/mppctl"
CALL_MS = 500
MAX_RESPONSE = 1 << 16
EP = "/MountPointPlugin.MountPointAttach"


def make_scenario(env, rt, rootfs, bad_args):
    src = env.root / "src"
    src.mkdir()
    (src / "marker").write_text("original\n")
    env.plugin("p0")
    env.plugin("bad", *bad_args)
    env.write_config(["p0", "bad"], runtime=rt.real, call_timeout_ms=CALL_MS,
                     detach_timeout_ms=1500, max_response_bytes=MAX_RESPONSE)
    return make_bundle(env.root / "bundle", rootfs, ["/bin/cat", "/data/marker"],
                       [oci_bind(src, "/data")]), src


def run(env, rt, bundle, cid):
    r = rt.run(True, "run", "--bundle", str(bundle), cid, config=env.config)
    return r


def detaches(env, plugin):
    return [r["request"] for r in env.records("detach") if r["plugin"] == plugin]


def check_one_detach_each(env, rt, cid, r, why):
    assert r.returncode == 1, r.stderr
    assert f'mount point plugin "bad" failed on {env.root / "src"} -> /data: ' in r.stderr, r.stderr
    assert why in r.stderr, r.stderr
    assert "teardown" not in r.stderr, r.stderr  # bad answered its detach: the unwind is clean
    calls = [c for c in env.calls(("detach",))]
    # bad (the highest clock) first, then p0: one each, for this container, no exit status.
    assert calls == ["bad:detach", "p0:detach"], calls
    for d in detaches(env, "bad") + detaches(env, "p0"):
        assert d["ID"] == cid and "ExitStatus" not in d
    # bad is told which mounts it may hold: all it was sent.
    assert [m["Destination"] for m in detaches(env, "bad")[0]["Mounts"]] == ["/data"]
    assert not env.cstate(cid).exists()
    assert rt.state(cid) is None


def test_attach_timed_out_after_the_plugin_acted(env, rt, rootfs):
    cid = unique_id("ua-slow")
    # bad records the attach (its log) and then sleeps past the call timeout.
    b, _ = make_scenario(env, rt, rootfs, ["--fault", f"attach:slow:{CALL_MS * 3}"])
    r = run(env, rt, b, cid)
    check_one_detach_each(env, rt, cid, r, f'did not answer {EP} within {CALL_MS} ms')


def test_connection_closed_without_an_answer(env, rt, rootfs):
    cid = unique_id("ua-drop")
    b, _ = make_scenario(env, rt, rootfs, ["--fault", "attach:drop"])
    r = run(env, rt, b, cid)
    check_one_detach_each(env, rt, cid, r, f"closed the connection without an answer to {EP}")


def test_garbage_answer(env, rt, rootfs):
    cid = unique_id("ua-garbage")
    b, _ = make_scenario(env, rt, rootfs, ["--fault", "attach:garbage"])
    r = run(env, rt, b, cid)
    check_one_detach_each(env, rt, cid, r, "invalid JSON")


def test_oversized_answer(env, rt, rootfs):
    cid = unique_id("ua-huge")
    b, _ = make_scenario(env, rt, rootfs, ["--fault", f"attach:huge:{MAX_RESPONSE * 4}"])
    r = run(env, rt, b, cid)
    check_one_detach_each(env, rt, cid, r, f"is larger than {MAX_RESPONSE} bytes")


def test_a_request_that_never_left_gets_no_detach(env, rt, rootfs):
    cid_ua_gone = unique_id("ua-gone")
    cid_ua_warm = unique_id("ua-warm")
    b, _ = make_scenario(env, rt, rootfs, [])
    # Properties are cached by a first container; then bad dies and leaves its socket file,
    # so that the next attach is the first call, and its connect is refused.
    assert run(env, rt, b, cid_ua_warm).returncode == 0
    env.clear_log()
    bad = [p for p in env.plugins if p.name == "bad"][0]
    bad.kill()
    assert bad.socket.exists()
    r = run(env, rt, b, cid_ua_gone)
    assert r.returncode == 1, r.stderr
    assert f'mount point plugin "bad" failed on {env.root / "src"} -> /data: ' in r.stderr
    assert "Connection refused" in r.stderr, r.stderr
    assert env.calls(("detach",)) == ["p0:detach"]
    assert not env.cstate(cid_ua_gone).exists()


def test_recover_after_a_crash_detaches_it_once(env):
    """The process is killed right after journaling the failed call: the next teardown (mppctl
    recover) detaches bad, then p0, once each."""
    src = env.root / "src"
    src.mkdir()
    env.plugin("p0")
    env.plugin("bad", "--fault", "attach:garbage")
    env.write_config(["p0", "bad"])
    mounts = [bind_mount(src, "/data")]
    log = env.root / "points.log"
    r = env.attach("c1", mounts, env={"MPP_FAULT_LOG": str(log)})
    assert r.returncode == 1
    points = [l.split()[1] for l in log.read_text().splitlines()]
    assert "attach-unanswered" in points, points
    k = points.index("attach-unanswered") + 1
    # Again, killed right after the journal says "unanswered".
    env.clear_log()
    r = env.attach("c2", mounts, env={"MPP_FAULT_KILL_AT": str(k)})
    assert r.returncode == -9, r.stderr
    assert env.calls(("detach",)) == []
    rec = subprocess.run([str(MPPCTL), f"--mpp-config={env.config}", "recover",
                                        "c2"], capture_output=True, text=True, timeout=60)
    assert rec.returncode == 0, rec.stdout + rec.stderr
    assert env.calls(("detach",)) == ["bad:detach", "p0:detach"]
    assert not env.cstate("c2").exists()
    # Nothing more to do.
    subprocess.run([str(MPPCTL), f"--mpp-config={env.config}", "recover", "c2"],
                   capture_output=True, text=True, timeout=60)
    assert env.calls(("detach",)) == ["bad:detach", "p0:detach"]
