"""The exit gate (protocol §6: teardown blocks the report of the container's exit) under the real
engines: mpp-init is the container's PID 1, the gate daemon that mpp-runtime's create leaves
behind runs the teardown when the workload exits, and a failed teardown turns exit 0 into 129.
tests/system/test_gate.py checks the same with bare crun/runc; here it is what `docker run`,
`docker wait`, `podman run` and `ctr run` report. Podman's hook mode has no gate (mpp-hook does
not start the workload) and is not tested here."""
import os
import pty
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

import engines
from engines import IMAGE, LABEL

INIT = engines.BUILD / "src/init/mpp-init"


@pytest.fixture
def gated(case):
    """Turns the gate on for the test's chain. The state directory is short: the gate's socket,
    state_dir/gates/ID/gate.sock, must fit a unix socket's path with a 64-character ID. Tests
    ask for it before their engine, so that the engine's cleanup (the runtime's delete, which
    needs the state directory) runs before the directory is removed."""
    short = Path(tempfile.mkdtemp(prefix="mppg-", dir="/tmp"))
    case.env.state_dir = short / "s"

    def setup(plugins, **extra):
        extra.setdefault("exit_gate", True)
        extra.setdefault("init_path", str(INIT))
        case.use(plugins, **extra)
        src = case.env.root / "src"
        src.mkdir(exist_ok=True)
        return src
    yield setup
    shutil.rmtree(short, ignore_errors=True)


def detach_statuses(case):
    """ExitStatus of each detach the plugins recorded; None when the request had none."""
    return [r["request"].get("ExitStatus") for r in case.env.records("detach")]


def no_gate_left(case):
    d = case.env.state_dir / "gates"
    return not d.exists() or list(d.iterdir()) == []


# ---- Docker ----

def docker_run_d(docker, case, *args):
    """`docker run -d` through mpp, without --rm (the test inspects the stopped container)."""
    r = docker.docker("run", "-d", "--network", "none", "--runtime", "mpp",
                      "--label", f"{LABEL}={case.name}", *args, check=True)
    return r.stdout.strip()


def docker_wait(docker, cid):
    r = docker.docker("wait", cid, check=True)
    return int(r.stdout.strip())


def exit_code(docker, cid):
    r = docker.docker("inspect", "-f", "{{.State.ExitCode}}", cid, check=True)
    return int(r.stdout.strip())


def test_docker_run_reports_129_after_a_failed_teardown(gated, docker, case):
    case.plugin("p0", "--detach", "recoverable:flush failed")
    src = gated(["p0"])
    r = docker.run(case.name, "-v", f"{src}:/data", IMAGE, "true")
    assert r.returncode == 129, r.stderr
    # The gate did the teardown, once, with the workload's status; the runtime's delete that
    # followed had nothing left to do.
    assert detach_statuses(case) == [0]
    assert case.journals() == [] and no_gate_left(case)


def test_docker_wait_reports_129_and_the_detach_is_done_when_it_returns(gated, docker, case):
    # p1 is detached first and takes its time: without the gate, `docker wait` would return
    # while p0 is still attached.
    case.plugin("p0", "--detach", "recoverable:flush failed")
    case.plugin("p1", "--fault", "detach:slow:700")
    src = gated(["p0", "p1"])
    cid = docker_run_d(docker, case, "-v", f"{src}:/data", IMAGE, "sh", "-c", "sleep 0.3")
    status = docker_wait(docker, cid)
    calls = case.calls()  # at once, no polling
    assert status == 129
    assert calls == ["p0:attach", "p1:attach", "p1:detach", "p0:detach"]
    assert detach_statuses(case) == [0, 0]
    assert exit_code(docker, cid) == 129
    assert case.journals() == []


def test_docker_run_passes_the_status_and_output_through(gated, docker, case):
    case.plugin("p0")
    src = gated(["p0"])
    r = docker.run(case.name, "-v", f"{src}:/data", IMAGE, "sh", "-c", "echo out; exit 5")
    assert (r.returncode, r.stdout) == (5, "out\n"), r.stderr
    assert detach_statuses(case) == [5]


def test_docker_stop_tears_down_with_143(gated, docker, case):
    case.plugin("p0")
    src = gated(["p0"])
    cid = docker_run_d(docker, case, "-v", f"{src}:/data", IMAGE, "sleep", "1000")
    r = docker.docker("stop", "-t", "20", cid)
    calls = case.calls()  # at once, no polling
    assert r.returncode == 0, r.stderr
    assert calls == ["p0:attach", "p0:detach"]
    assert detach_statuses(case) == [143]
    assert exit_code(docker, cid) == 143


def test_docker_stop_reaches_a_trap(gated, docker, case):
    case.plugin("p0")
    src = gated(["p0"])
    cid = docker_run_d(docker, case, "-v", f"{src}:/data", IMAGE, "sh", "-c",
                       "trap 'exit 7' TERM; echo ready; sleep 1000 & wait")
    engines.poll(lambda: "ready" in docker.docker("logs", cid).stdout, 10, "the trap")
    assert docker.docker("stop", "-t", "20", cid).returncode == 0
    assert detach_statuses(case) == [7]
    assert exit_code(docker, cid) == 7


def test_docker_kill_tears_down_at_delete(gated, docker, case):
    case.plugin("p0")
    src = gated(["p0"])
    cid = docker_run_d(docker, case, "-v", f"{src}:/data", IMAGE, "sleep", "1000")
    daemon = int((case.env.state_dir / "gates" / cid / "daemon.pid").read_text())
    assert engines.pid_alive(daemon)
    assert docker.docker("kill", cid).returncode == 0
    assert docker_wait(docker, cid) == 137
    # mpp-init died with the workload: nothing reached the gate, and the teardown is the
    # runtime delete's, which carries no exit status. Docker deletes the task (the runtime's
    # delete) as soon as it has exited, not at `docker rm`.
    case.wait_calls(["p0:attach", "p0:detach"])
    assert detach_statuses(case) == [None]
    assert docker.docker("rm", cid).returncode == 0
    time.sleep(0.2)
    assert detach_statuses(case) == [None]
    assert case.journals() == [] and no_gate_left(case)
    engines.poll(lambda: not os.path.exists(f"/proc/{daemon}") or
                 Path(f"/proc/{daemon}/stat").read_text().split()[2] == "Z", 10,
                 "the gate daemon to end")


def test_docker_kill_signals_reach_the_workload(gated, docker, case):
    case.plugin("p0")
    src = gated(["p0"])
    cid = docker_run_d(docker, case, "-v", f"{src}:/data", IMAGE, "sh", "-c",
                       "trap 'exit 9' USR1; echo ready; sleep 1000 & wait")
    engines.poll(lambda: "ready" in docker.docker("logs", cid).stdout, 10, "the trap")
    assert docker.docker("kill", "-s", "USR1", cid).returncode == 0
    assert docker_wait(docker, cid) == 9
    assert detach_statuses(case) == [9]


def test_docker_zombies_are_reaped(gated, docker, case):
    case.plugin("p0")
    src = gated(["p0"])
    # The grandchild is orphaned to PID 1 and exits: mpp-init must reap it.
    script = "sh -c 'sleep 0.2 &'; sleep 0.8; ps -o stat,comm"
    r = docker.run(case.name, "-v", f"{src}:/data", IMAGE, "sh", "-c", script)
    assert r.returncode == 0, r.stderr
    rows = [line.split() for line in r.stdout.splitlines()[1:] if line.strip()]
    assert rows and not any(row[0].startswith("Z") for row in rows), r.stdout
    assert rows[0][1] == "init", r.stdout  # PID 1 is mpp-init
    assert detach_statuses(case) == [0]


def run_in_pty(argv, timeout=60):
    """argv with a terminal as its stdin/stdout/stderr: (exit code, everything it printed)."""
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the other side is closed
            break
        if not chunk:
            break
        out += chunk
    os.close(fd)
    _, ws = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(ws), out.decode(errors="replace")


def test_docker_run_with_a_tty(gated, docker, case):
    case.plugin("p0")
    src = gated(["p0"])
    argv = [docker.cli, "run", "--rm", "-t", "--network", "none", "--runtime", "mpp",
            "--label", f"{LABEL}={case.name}", "-v", f"{src}:/data", IMAGE,
            "sh", "-c", "tty; exit 3"]
    status, out = run_in_pty(argv)
    assert status == 3, out
    assert "/dev/pts/" in out or "/dev/console" in out, out
    assert detach_statuses(case) == [3]


def test_docker_container_cannot_trigger_teardown_early(gated, docker, case):
    case.plugin("p0")
    src = gated(["p0"])
    # A process of the workload (not PID 1) asks the gate for teardown: refused.
    script = ("/.mpp/init --gate /.mpp/gate/gate.sock -- /bin/true; "
              "sleep 0.3; echo still-running; exit 4")
    r = docker.run(case.name, "-v", f"{src}:/data", IMAGE, "sh", "-c", script)
    assert r.returncode == 4 and "still-running" in r.stdout, r.stdout + r.stderr
    assert detach_statuses(case) == [4]
    assert "gave no verdict" in r.stderr, (r.stdout, r.stderr)


# ---- Podman (runtime mode) ----

# In hook mode the workload is started by the real runtime, with no mpp-init in front of it,
# and mpp-hook's poststop runs after the exit has been reported: there is no gate to test.
podman_modes = pytest.mark.parametrize("mode", [
    "runtime",
    pytest.param("hook", marks=pytest.mark.skip(reason="mpp-hook has no exit gate")),
])


@podman_modes
def test_podman_run_reports_129_after_a_failed_teardown(gated, podman, case, mode):
    case.plugin("p0", "--detach", "recoverable:flush failed")
    src = gated(["p0"])
    r = podman.run(mode, case.name, "-v", f"{src}:/data", IMAGE, "true")
    assert r.returncode == 129, r.stderr
    case.wait_calls(["p0:attach", "p0:detach"])
    assert detach_statuses(case) == [0]


def test_podman_run_passes_the_status_through(gated, podman, case):
    case.plugin("p0")
    src = gated(["p0"])
    r = podman.run("runtime", case.name, "-v", f"{src}:/data", IMAGE, "sh", "-c",
                   "echo out; exit 5")
    assert (r.returncode, r.stdout) == (5, "out\n"), r.stderr
    assert detach_statuses(case) == [5]


def test_podman_annotation_turns_the_gate_on(gated, podman, case):
    case.plugin("p0", "--detach", "recoverable:flush failed")
    src = gated(["p0"], exit_gate=False)
    r = podman.run("runtime", case.name, "--annotation", "mpp.exit-gate=true",
                   "-v", f"{src}:/data", IMAGE, "true")
    assert r.returncode == 129, r.stderr


def test_podman_stop_tears_down_with_143(gated, podman, case):
    case.plugin("p0")
    src = gated(["p0"])
    r = engines.run(podman.cmd("runtime", "run", "-d", "--network", "none",
                               "--label", f"{LABEL}={case.name}", "-v", f"{src}:/data",
                               IMAGE, "sleep", "1000"), env=podman.env, check=True)
    cid = r.stdout.strip()
    r = engines.run(podman.cmd("runtime", "stop", "-t", "20", cid), env=podman.env)
    calls = case.calls()  # at once, no polling
    assert r.returncode == 0, r.stderr
    assert calls == ["p0:attach", "p0:detach"]
    assert detach_statuses(case) == [143]
    r = podman.podman("inspect", "-f", "{{.State.ExitCode}}", cid, check=True)
    assert r.stdout.strip() == "143"


# ---- containerd (ctr) ----

def bind(src, dst):
    return f"type=bind,src={src},dst={dst},options=rbind:rw"


def test_ctr_run_reports_129_after_a_failed_teardown(gated, containerd, case):
    case.plugin("p0", "--detach", "recoverable:flush failed")
    src = gated(["p0"])
    cid = containerd.new_id("gate-129")
    r = containerd.run(cid, [bind(src, "/data")], "true")
    assert r.returncode == 129, r.stderr
    case.wait_calls(["p0:attach", "p0:detach"])
    assert detach_statuses(case) == [0]


def test_ctr_run_passes_the_status_through(gated, containerd, case):
    case.plugin("p0")
    src = gated(["p0"])
    cid = containerd.new_id("gate-status")
    r = containerd.run(cid, [bind(src, "/data")], "sh", "-c", "echo out; exit 5")
    assert (r.returncode, r.stdout) == (5, "out\n"), r.stderr
    assert detach_statuses(case) == [5]



def test_ctr_annotation_turns_the_gate_on(gated, containerd, case):
    case.plugin("p0", "--detach", "recoverable:flush failed")
    src = gated(["p0"], exit_gate=False)
    cid = containerd.new_id("gate-annotation")
    r = containerd.ctr("run", "--rm", "--runc-binary", engines.MPP_RUNTIME,
                       "--label", f"{LABEL}=1", "--annotation", "mpp.exit-gate=true",
                       "--mount", bind(src, "/data"), containerd.IMAGE_REF, cid, "true")
    assert r.returncode == 129, r.stderr
