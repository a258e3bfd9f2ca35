"""Helpers for mpp's system tests: real plugin processes on real sockets, and the programs of
the build under test (MPP_BUILD: a plain build or the ASan/UBSan one)."""
import json
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

BUILD = Path(os.environ.get("MPP_BUILD", Path(__file__).resolve().parents[2] / "build-check"))
SRC = Path(__file__).resolve().parents[2]
PYTHON = "/usr/bin/python3"

# Sanitized binaries must not hide a leak or UB behind an exit code of 0.
os.environ.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:exitcode=86")
os.environ.setdefault("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1:exitcode=87")


def wait_for(pred, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


class Plugin:
    """A running mpp-test-plugin (or the Python plugin) speaking the real protocol."""

    def __init__(self, env, name, *args, python=False, log=True):
        self.env = env
        self.name = name
        self.args = list(args)
        self.python = python
        self.socket = env.plugin_dir / f"{name}.sock"
        self.log = env.log if log else None
        self.proc = None

    def start(self):
        pidfile = self.env.root / f"{self.name}.pid"
        if pidfile.exists():
            pidfile.unlink()
        if self.python:
            cmd = [PYTHON, str(SRC / "tests/plugins/py_plugin.py")]
        else:
            cmd = [str(BUILD / "tests/mpp-test-plugin")]
        cmd += ["--socket", str(self.socket), "--name", self.name, "--pidfile", str(pidfile)]
        if self.log:
            cmd += ["--log", str(self.log)]
        cmd += self.args
        self.stderr = open(self.env.root / f"{self.name}.stderr", "ab")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.stderr)
        wait_for(lambda: pidfile.exists() and pidfile.read_text().strip() != ""
                 or self.proc.poll() is not None, what=f"plugin {self.name} to listen")
        assert self.proc.poll() is None, f"plugin {self.name} exited at start"
        return self

    def stop(self, sig=signal.SIGTERM):
        signalled = False
        if self.proc and self.proc.poll() is None:
            signalled = True
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc and signalled and sig == signal.SIGTERM and not self.python:
            # A sanitizer report makes the plugin exit non-zero.
            assert self.proc.returncode == 0, \
                f"plugin {self.name} exited {self.proc.returncode}: {self.stderr_text()}"
        self.proc = None

    def kill(self):
        self.stop(signal.SIGKILL)

    def stderr_text(self):
        p = self.env.root / f"{self.name}.stderr"
        return p.read_text(errors="replace") if p.exists() else ""


class Daemon:
    """A real plugin daemon of the suite (plugins/NAME), started with its own argv, serving on
    PLUGIN_DIR/NAME.sock. The argv must make it listen on self.socket."""

    def __init__(self, env, name, argv):
        self.env = env
        self.name = name
        self.argv = [str(a) for a in argv]
        self.socket = env.plugin_dir / f"{name}.sock"
        self.proc = None

    def start(self, timeout=10.0):
        self.stderr_path = self.env.root / f"{self.name}.stderr"
        self.stderr = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL, stderr=self.stderr)
        wait_for(lambda: self.socket.exists() or self.proc.poll() is not None, timeout,
                 what=f"{self.name} to listen")
        assert self.proc.poll() is None, \
            f"{self.name} exited at start: {self.stderr_path.read_text(errors='replace')}"
        return self

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                rc = self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rc = self.proc.wait()
            if sig == signal.SIGTERM:
                assert rc == 0, f"{self.name} exited {rc}: " + \
                    self.stderr_path.read_text(errors="replace")
        self.proc = None

    def kill(self):
        self.stop(signal.SIGKILL)


class Env:
    def __init__(self, root: Path):
        self.root = root
        self.plugin_dir = root / "plugins"
        self.plugin_dir.mkdir(mode=0o755)
        self.state_dir = root / "state"
        self.log = root / "calls.log"
        self.config = root / "mpp.json"
        self.plugins = []

    def plugin(self, name, *args, python=False, start=True, log=True):
        """log=False: a plugin that keeps no call log (the benchmarks' no-op plugins)."""
        p = Plugin(self, name, *args, python=python, log=log)
        self.plugins.append(p)
        return p.start() if start else p

    def daemon(self, name, argv, start=True):
        """A real plugin of the suite; stopped (and checked to exit 0) at the end of the test."""
        d = Daemon(self, name, argv)
        self.plugins.append(d)
        return d.start() if start else d

    def write_config(self, plugins, **extra):
        cfg = {"plugins": plugins, "plugin_dirs": [str(self.plugin_dir)],
               "state_dir": str(self.state_dir), "call_timeout_ms": 1000,
               "detach_timeout_ms": 1500}
        cfg.update(extra)
        self.config.write_text(json.dumps(cfg))

    def calls(self, kinds=("properties", "attach", "detach")):
        """The calls the plugins recorded, as 'name:call', in order."""
        if not self.log.exists():
            return []
        out = []
        for line in self.log.read_text().splitlines():
            rec = json.loads(line)
            if rec["call"] in kinds:
                out.append(f'{rec["plugin"]}:{rec["call"]}')
        return out

    def records(self, call=None):
        if not self.log.exists():
            return []
        recs = [json.loads(l) for l in self.log.read_text().splitlines()]
        return [r for r in recs if call is None or r["call"] == call]

    def clear_log(self):
        if self.log.exists():
            self.log.unlink()

    def driver(self, *args, env=None, check=False, timeout=60):
        e = dict(os.environ)
        e.update(env or {})
        r = subprocess.run([str(BUILD / "tests/mpp-chain-driver"), "--config", str(self.config)]
                           + [str(a) for a in args], capture_output=True, text=True, env=e,
                           timeout=timeout)
        assert r.returncode not in (86, 87), f"sanitizer report:\n{r.stderr}"
        if check:
            assert r.returncode == 0, f"driver {args} failed ({r.returncode}): {r.stderr}"
        return r

    def attach(self, cid, mounts, **kw):
        f = self.root / f"mounts-{abs(hash(cid))}.json"
        f.write_text(json.dumps(mounts))
        return self.driver("attach", cid, f, **kw)

    def detach(self, cid, status=0, *extra, **kw):
        r = self.driver("detach", cid, status, *extra, **kw)
        if r.returncode == 0:
            return json.loads(r.stdout)
        return r

    def cstate(self, cid):
        """Where the container's journal lives."""
        return self.state_dir / "containers" / cid

    def stop_all(self):
        for p in self.plugins:
            p.stop()


def bind_mount(src, dst, **kw):
    m = {"Source": str(src), "Destination": dst, "Type": "bind", "CreateSourceIfMissing": True,
         "Container": {}, "Image": {}, "Volume": {}}
    m.update(kw)
    return m


RUNTIMES = {"crun": "/usr/bin/crun", "runc": "/usr/bin/runc"}
MPP_RUNTIME = str(BUILD / "src/runtime/mpp-runtime")


def fix_crun_cgroups():
    """crun 1.8 refuses this machine's hybrid cgroup layout while the v2 tree has a controller;
    giving hugetlb a v1 hierarchy empties it (see shared notes). Idempotent."""
    if not os.path.isdir("/sys/fs/cgroup/unified"):
        return
    if os.path.ismount("/sys/fs/cgroup/hugetlb"):
        return
    os.makedirs("/sys/fs/cgroup/hugetlb", exist_ok=True)
    subprocess.run(["mount", "-t", "cgroup", "-o", "hugetlb", "cgroup",
                    "/sys/fs/cgroup/hugetlb"], check=False)


def make_rootfs(path: Path):
    """A busybox root filesystem: every applet linked, except busybox itself (a loop)."""
    (path / "bin").mkdir(parents=True)
    import shutil
    shutil.copy("/bin/busybox", path / "bin/busybox")
    applets = subprocess.run(["/bin/busybox", "--list"], capture_output=True, text=True,
                             check=True).stdout.split()
    for a in applets:
        if a != "busybox":
            os.symlink("busybox", path / "bin" / a)
    for d in ("proc", "sys", "dev", "tmp", "etc", "data"):
        (path / d).mkdir(exist_ok=True)


def unique_id(prefix="c"):
    """A container ID no other test run on the machine uses at the same time: crun and runc name
    a container's cgroups after its ID, machine-wide."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


# The cgroups make_bundle named; Env's teardown removes those left behind (empty).
BUNDLE_CGROUPS = []


def remove_bundle_cgroups():
    """Remove the cgroups of our bundles that no runtime removed (a container never deleted);
    one still in use stays (rmdir of a cgroup with processes fails)."""
    while BUNDLE_CGROUPS:
        name = BUNDLE_CGROUPS.pop()
        for hierarchy in Path("/sys/fs/cgroup").iterdir():
            try:
                os.rmdir(hierarchy / name)
            except OSError:
                pass


def make_bundle(path: Path, rootfs: Path, args, mounts=(), terminal=False, annotations=None,
                own_cgroup=True):
    """An OCI bundle like `runc spec` makes, with our process and extra mounts.

    own_cgroup: the bundle names a cgroup of its own. Without one, both runtimes put the
    container in the cgroup /ID, shared by every container of that ID under any --root, and
    crun's delete SIGKILLs every process in it: a concurrent test's `delete c1` would kill this
    test's c1 (and `crun state` says "stopped" once the cgroup is gone). A bundle that runs
    several containers at once must not name one (one delete would kill them all): give those
    containers IDs of their own instead."""
    path.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["/usr/bin/runc", "spec", "--bundle", str(path)], capture_output=True)
    assert r.returncode == 0, r.stderr
    cfg = json.loads((path / "config.json").read_text())
    cfg["root"] = {"path": str(rootfs), "readonly": True}
    cfg["process"]["terminal"] = terminal
    cfg["process"]["args"] = list(args)
    cfg["process"]["capabilities"] = {k: v + ["CAP_DAC_OVERRIDE"] for k, v in
                                      cfg["process"]["capabilities"].items()}
    cfg["mounts"] += list(mounts)
    if own_cgroup:
        cgroup = f"mpp-test-{uuid.uuid4().hex}"
        BUNDLE_CGROUPS.append(cgroup)
        cfg["linux"]["cgroupsPath"] = "/" + cgroup
    if annotations:
        cfg["annotations"] = annotations
    (path / "config.json").write_text(json.dumps(cfg, indent=1))
    return path


def oci_bind(src, dst, ro=False):
    opts = ["rbind", "rprivate"] + (["ro"] if ro else ["rw"])
    return {"destination": dst, "type": "bind", "source": str(src), "options": opts}


# Mount tables and resource use, for the fault matrix and the load test.

def _unescape_mountinfo(field):
    """mountinfo writes space, tab, newline and backslash in paths as octal escapes."""
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and i + 3 < len(field) and field[i + 1:i + 4].isdigit():
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def mount_table():
    """This mount namespace's mounts, as a set of (mount point, source, fstype)."""
    table = set()
    with open("/proc/self/mountinfo") as f:
        for line in f:
            before, _, after = line.rstrip("\n").partition(" - ")
            fields, tail = before.split(" "), after.split(" ")
            table.add((_unescape_mountinfo(fields[4]), _unescape_mountinfo(tail[1]), tail[0]))
    return table


def mount_changes(before, after, roots=(), words=()):
    """The mounts that appeared and those that vanished between two mount_table()s. With roots
    or words, only those whose mount point or source lies under one of roots or contains one of
    words: other people's tests mount and unmount on this machine at the same time."""
    def ours(entry):
        if not roots and not words:
            return True
        point, source, _ = entry
        for p in (point, source):
            if any(p == str(r) or p.startswith(str(r).rstrip("/") + "/") for r in roots):
                return True
            if any(w in p for w in words):
                return True
        return False
    return ({e for e in after - before if ours(e)}, {e for e in before - after if ours(e)})


def mounts_under(*roots):
    """This mount namespace's mounts whose mount point or source lies under one of roots (the
    test's own directories), as (mount point, source, fstype): never the whole machine's."""
    assert roots, "name the test's own directories"
    return mount_changes(set(), mount_table(), roots=roots)[0]


class Measured:
    """The outcome of run_measured()."""

    def __init__(self, returncode, stdout, stderr, maxrss_kb):
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.maxrss_kb = maxrss_kb


def run_measured(cmd, out_dir, tag, timeout=60):
    """Run cmd with its output in files (a container may keep them open after `create`) and
    return its exit status, output and peak resident set size (of it or of any descendant it
    waited for, in KiB)."""
    out_path, err_path = out_dir / f"{tag}.stdout", out_dir / f"{tag}.stderr"
    with open(out_path, "w") as out, open(err_path, "w") as err:
        p = subprocess.Popen([str(c) for c in cmd], stdin=subprocess.DEVNULL, stdout=out,
                             stderr=err)
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(p.pid, os.WNOHANG)
        if pid == p.pid:
            break
        if time.monotonic() > deadline:
            p.kill()
            os.wait4(p.pid, 0)
            raise AssertionError(f"{cmd} did not end within {timeout} s")
        time.sleep(0.005)
    p.returncode = os.waitstatus_to_exitcode(status)  # already reaped: keep Popen from waiting
    r = Measured(p.returncode, out_path.read_text(errors="replace"),
                 err_path.read_text(errors="replace"), usage.ru_maxrss)
    assert r.returncode not in (86, 87), f"sanitizer report:\n{r.stderr}"
    return r
