"""The cost of the start path (issue 17): a container that no plugin could be shown costs no
plugin call and no state; the start and the delete make no sync call; a busy plugin whose listen
backlog overflows still serves every start, through the client's connect retries."""
import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor

from mpp import MPP_RUNTIME, make_bundle, oci_bind

# Container IDs name host-wide cgroups: keep them apart from other test runs on the machine.
TAG = f"{os.getpid()}"
SYNC_CALLS = ("fsync", "fdatasync", "syncfs", "sync", "sync_file_range", "msync")


def test_no_interposable_mount_costs_no_plugin_call(env, rootfs, rt):
    # Only what `runc spec` gives: /proc, /dev, /dev/pts, /dev/shm, /dev/mqueue, /sys, cgroup.
    env.plugin("p0")
    env.write_config(["p0"], runtime=rt.real)
    b = make_bundle(env.root / "b", rootfs, ["/bin/true"])
    cid = f"none-{TAG}"
    r = rt.run(True, "run", "--bundle", str(b), cid, config=env.config)
    assert r.returncode == 0, r.stderr
    assert env.records() == []  # not even Plugin.Activate
    assert not env.cstate(cid).exists()
    assert not (env.state_dir / "containers").exists()
    assert rt.run(True, "delete", "--force", cid, config=env.config).returncode == 0
    assert env.records() == []


def strace_run(env, rt, tag, *args):
    """mpp-runtime ARGS under strace, its own process only (not the real runtime it forks)."""
    log = env.root / f"strace-{tag}.log"
    cmd = ["strace", "-qq", "-o", str(log), "-e",
           "trace=" + ",".join(SYNC_CALLS + ("open", "openat"))] + \
        rt.cmd(True, *args, config=env.config)
    # LeakSanitizer cannot run under ptrace; the other tests check leaks on these paths.
    e = dict(os.environ)
    e["ASAN_OPTIONS"] = e.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
    # The container's stdio is a file, as an engine's would be, not a pipe to wait on.
    with open(env.root / f"strace-{tag}.out", "w+") as out:
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out, timeout=60,
                           env=e)
        out.seek(0)
        r.stderr = out.read()
    assert r.returncode not in (86, 87), f"sanitizer report: {r.stderr}"
    return r, log.read_text()


def sync_calls(trace):
    return [line for line in trace.splitlines()
            if re.match(r"(%s)\(" % "|".join(SYNC_CALLS), line)
            or re.search(r"open(at)?\(.*O_D?SYNC", line)]


def test_start_and_delete_make_no_sync_call(env, rootfs, rt):
    src = env.root / "src"
    src.mkdir()
    env.plugin("p0")
    env.write_config(["p0"], runtime=rt.real)
    b = make_bundle(env.root / "b", rootfs, ["/bin/true"], [oci_bind(src, "/data")])
    cid = f"sync-{TAG}"
    r, create = strace_run(env, rt, "create", "create", "--bundle", str(b), cid)
    assert r.returncode == 0, r.stderr
    # The journal was written (the plugin attached) and the bundle rewritten: without syncs.
    assert (env.cstate(cid) / "journal").exists()
    assert "journal" in create and "config.json" in create
    assert env.calls() == ["p0:properties", "p0:attach"]
    assert rt.run(True, "start", cid, config=env.config).returncode == 0
    r, delete = strace_run(env, rt, "delete", "delete", "--force", cid)
    assert r.returncode == 0, r.stderr
    assert env.calls()[-1] == "p0:detach"
    assert not env.cstate(cid).exists()
    assert sync_calls(create) == [] and sync_calls(delete) == []


def test_fifty_concurrent_starts_on_a_busy_plugin(env, rootfs, rt):
    # One connection accepted every 2 ms into a backlog of 1: most connects find it full.
    src = env.root / "src"
    src.mkdir()
    env.plugin("py", "--backlog", "1", "--accept-delay-ms", "2", python=True)
    env.write_config(["py"], runtime=rt.real, call_timeout_ms=20000, detach_timeout_ms=20000)
    b = make_bundle(env.root / "b", rootfs, ["/bin/true"], [oci_bind(src, "/data")],
                    own_cgroup=False)
    n = 50

    def start(i):
        return subprocess.run([MPP_RUNTIME, f"--mpp-config={env.config}", "--root",
                               str(env.root / f"{rt.real.split('/')[-1]}-state"), "run",
                               "--bundle", str(b), f"busy{i}-{TAG}"],
                              capture_output=True, text=True, timeout=120)

    with ThreadPoolExecutor(max_workers=n) as pool:
        results = list(pool.map(start, range(n)))
    failed = [(i, r.returncode, r.stderr) for i, r in enumerate(results) if r.returncode != 0]
    assert failed == [], failed[:3]
    attached = sorted(x["request"]["ID"] for x in env.records("attach"))
    detached = sorted(x["request"]["ID"] for x in env.records("detach"))
    # Each start's attach and detach reached the plugin exactly once.
    assert attached == sorted(f"busy{i}-{TAG}" for i in range(n))
    assert detached == attached
    assert not (env.state_dir / "containers").exists() or \
        list((env.state_dir / "containers").iterdir()) == []
