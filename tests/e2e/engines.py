"""The real container engines for mpp's end-to-end tests: Docker (dockerd), Podman (no daemon)
and containerd (a private containerd driven with ctr), each started once per session with mpp
registered as it would be on a real host, and stopped (containers removed) at the end.

Every engine reads the same mpp configuration file (Engines.config): its path is fixed when the
engine starts, and each test rewrites the file, which mpp-runtime and mpp-hook read at every call.
See docs/engines.md for what the set-up of each engine is and why."""
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import tarfile
import time
import uuid
from pathlib import Path

from mpp import BUILD, SRC

MPP_RUNTIME = BUILD / "src/runtime/mpp-runtime"
MPP_HOOK = BUILD / "src/hook/mpp-hook"
REAL_RUNTIME = "/usr/bin/runc"

# Every container of these tests carries this label, so cleanup removes ours and only ours.
LABEL = "mpp-e2e"
IMAGE = "mpp-e2e-bb"

CMD_TIMEOUT = 120
START_TIMEOUT = 60
STOP_TIMEOUT = 30


class EngineError(RuntimeError):
    pass


def run(argv, timeout=CMD_TIMEOUT, check=False, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    r = subprocess.run([str(a) for a in argv], timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise EngineError(f"{' '.join(map(str, argv))} failed ({r.returncode}):\n"
                          f"{r.stdout}{r.stderr}")
    return r


def poll(pred, timeout, what, interval=0.1):
    """pred() until true, at most timeout seconds; raises EngineError naming what."""
    deadline = time.monotonic() + timeout
    while True:
        if pred():
            return
        if time.monotonic() >= deadline:
            raise EngineError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def tail(path, n=30):
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_process(proc, what):
    """SIGTERM, a bounded wait, then SIGKILL: a daemon we started never outlives the session."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=STOP_TIMEOUT)
        raise EngineError(f"{what} did not stop within {STOP_TIMEOUT}s of SIGTERM; killed")


def unmount_under(root):
    """Lazily unmount whatever an aborted run left mounted below root (deepest first)."""
    root = str(root)
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    for p in sorted((p for p in points if p == root or p.startswith(root + "/")),
                    key=len, reverse=True):
        subprocess.run(["umount", "-l", p], capture_output=True)


def missing_binaries(*names):
    return [n for n in names if shutil.which(n) is None]


def not_installable_reason(package_binaries):
    """Why an engine cannot be used here: only when it is not installed (and cannot be), or when
    the tests are not root. None when it can run."""
    missing = missing_binaries(*package_binaries)
    if missing:
        return (f"not installed: {', '.join(missing)} (scripts/deps.sh installs docker.io, "
                f"containerd, podman and conmon from Debian; run it as root)")
    if os.geteuid() != 0:
        return "the engines need root"
    return None


# ---- images ----

def oci_archive(rootfs_tar: Path, out: Path, name: str):
    """An OCI image layout archive with one layer (the rootfs tar), for `ctr image import`: no
    registry is reachable from the test machines."""
    layer_tar = rootfs_tar.read_bytes()
    layer = gzip.compress(layer_tar, mtime=0)

    def digest(b):
        return "sha256:" + hashlib.sha256(b).hexdigest()

    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [digest(layer_tar)]},
    }).encode()
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": digest(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": digest(layer), "size": len(layer)}],
    }).encode()
    index = json.dumps({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": digest(manifest), "size": len(manifest),
                       "annotations": {"io.containerd.image.name": name,
                                       "org.opencontainers.image.ref.name": "latest"}}],
    }).encode()
    with tarfile.open(out, "w") as t:
        def add(member, data):
            ti = tarfile.TarInfo(member)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
        add("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        add("index.json", index)
        for b in (layer, config, manifest):
            add("blobs/sha256/" + digest(b)[7:], b)
    return out


# ---- Docker ----

class Docker:
    """dockerd as the shared notes start it, with mpp registered as the runtime "mpp"."""
    name = "docker"
    PIDFILE = Path("/var/run/docker.pid")

    def __init__(self, workdir: Path, config: Path):
        self.dir = workdir / "docker"
        self.dir.mkdir()
        self.config = config
        self.cli = "/usr/bin/docker" if os.path.exists("/usr/bin/docker") else "docker"
        self.proc = None
        self.volumes = set()

    @staticmethod
    def unavailable():
        return not_installable_reason(["dockerd", "docker"])

    def daemon_json(self):
        return {
            "iptables": False, "ip-masq": False, "bridge": "none",
            "storage-driver": "overlay2",
            "runtimes": {"mpp": {"path": str(MPP_RUNTIME),
                                 "runtimeArgs": [f"--mpp-config={self.config}"]}},
        }

    def docker(self, *args, **kw):
        return run([self.cli, *args], **kw)

    def start(self, rootfs_tar: Path):
        if self.PIDFILE.exists():
            try:
                pid = int(self.PIDFILE.read_text().strip() or 0)
            except ValueError:
                pid = 0
            if pid and pid_alive(pid):
                raise EngineError(f"a dockerd is already running (pid {pid}, {self.PIDFILE}); "
                                  "the e2e tests start their own with mpp registered: stop it")
            self.PIDFILE.unlink()  # stale: it would stop dockerd from starting
        cfg = self.dir / "daemon.json"
        cfg.write_text(json.dumps(self.daemon_json(), indent=1))
        self.log = self.dir / "dockerd.log"
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(["dockerd", "--config-file", str(cfg)],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         start_new_session=True)

        def ready():
            if self.proc.poll() is not None:
                raise EngineError(f"dockerd exited ({self.proc.returncode}):\n{tail(self.log)}")
            return self.docker("info", timeout=20).returncode == 0
        try:
            poll(ready, START_TIMEOUT, "dockerd to answer `docker info`", interval=0.2)
        except EngineError as e:
            if self.proc.poll() is not None:
                raise  # the message has the log already
            raise EngineError(f"{e}\n{tail(self.log)}") from None
        self.docker("import", rootfs_tar, IMAGE, check=True)

    def run(self, test, *args, cidfile=None, timeout=CMD_TIMEOUT):
        """`docker run --rm` through mpp; args are options, IMAGE, then the command."""
        opts = ["run", "--rm", "--network", "none", "--runtime", "mpp",
                "--label", f"{LABEL}={test}"]
        if cidfile:
            opts += ["--cidfile", cidfile]
        return self.docker(*opts, *args, timeout=timeout)

    def containers(self, test=None):
        flt = f"label={LABEL}" + (f"={test}" if test else "")
        r = self.docker("ps", "-aq", "--no-trunc", "--filter", flt, check=True)
        return r.stdout.split()

    def runc_state(self, cid):
        """The real runtime's view: the containers runc still knows (Docker's runc root)."""
        r = run([REAL_RUNTIME, "--root", "/run/docker/runtime-runc/moby", "list", "-q"])
        return cid in r.stdout.split()

    def volume(self, name):
        self.volumes.add(name)
        return name

    def cleanup(self):
        ids = self.containers()
        if ids:
            self.docker("rm", "-f", *ids)
        for v in sorted(self.volumes):
            self.docker("volume", "rm", "-f", v)
        self.volumes.clear()

    def stop(self):
        try:
            if self.proc and self.proc.poll() is None:
                self.cleanup()
                self.docker("rmi", "-f", IMAGE)
        finally:
            stop_process(self.proc, "dockerd")
            self.proc = None
            try:
                pid = int(self.PIDFILE.read_text().strip() or 0)
                if not pid or not pid_alive(pid):
                    self.PIDFILE.unlink()
            except (OSError, ValueError):
                pass


# ---- Podman ----

class Podman:
    """Podman (no daemon) with the two ways to put mpp in: `--runtime` (mpp-runtime) and the
    precreate/poststop hooks of deploy/hooks.d (mpp-hook).

    Podman gives the runtime neither its environment nor, in the `podman container cleanup`
    process that conmon starts when the container exits (the one that calls `delete`), the
    --runtime-flag options: only the default configuration path /etc/mpp/mpp.json reaches every
    call. So in "runtime" mode each podman command runs in a private mount namespace in which
    /etc is an overlay whose mpp/mpp.json is the test configuration: the host's /etc is not
    touched, and conmon and the cleanup process (podman's children) see the same file."""
    name = "podman"

    def __init__(self, workdir: Path, config: Path):
        self.dir = workdir / "podman"
        self.dir.mkdir()
        self.config = config
        self.env = None

    @staticmethod
    def unavailable():
        return not_installable_reason(["podman", "conmon"])

    def containers_conf(self):
        # No CAP_SYS_RESOURCE on the test machines: podman's default ulimits fail there.
        return "\n".join([
            "[containers]",
            'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]',
            "[engine]",
            # The runtime's name, not its path: podman passes --log-format=json --log to the
            # runtimes it knows to support them, and reads their errors from that log.
            'runtime_supports_json = ["crun", "runc", "mpp"]',
            "[engine.runtimes]",
            f'mpp = ["{MPP_RUNTIME}"]',
            "",
        ])

    def hooks_dir(self):
        """deploy/hooks.d as shipped, with the paths of this build and of the test config."""
        d = self.dir / "hooks.d"
        d.mkdir(exist_ok=True)
        for src in sorted((SRC / "deploy/hooks.d").glob("*.json")):
            hook = json.loads(src.read_text())
            hook["hook"]["path"] = str(MPP_HOOK)
            hook["hook"]["args"] = [f"--mpp-config={self.config}"
                                    if a.startswith("--mpp-config=") else a
                                    for a in hook["hook"]["args"]]
            (d / src.name).write_text(json.dumps(hook, indent=1))
        return d

    def podman(self, *args, **kw):
        return run(["podman", *args], env=self.env, **kw)

    def start(self, rootfs_tar: Path):
        conf = self.dir / "containers.conf"
        conf.write_text(self.containers_conf())
        self.env = dict(os.environ, CONTAINERS_CONF=str(conf))
        self.hooks = self.hooks_dir()
        self.podman("import", rootfs_tar, IMAGE, check=True)

    def etc_overlay(self):
        """Fresh upper and work directories for one command's /etc overlay: its mpp/mpp.json is
        a hard link to the shared configuration, which tests rewrite in place (mpp refuses a
        configuration that is a symbolic link)."""
        d = self.dir / f"etc-{uuid.uuid4().hex[:8]}"
        (d / "upper/mpp").mkdir(parents=True)
        (d / "work").mkdir()
        os.link(self.config, d / "upper/mpp/mpp.json")
        return d

    def cmd(self, mode, *args):
        if mode == "hook":
            return ["podman", "--runtime", REAL_RUNTIME, "--hooks-dir", str(self.hooks), *args]
        assert mode == "runtime", mode
        d = self.etc_overlay()
        script = ('mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1,workdir=$2" /etc '
                  '&& shift 2 && exec "$@"')
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
                str(d / "upper"), str(d / "work"), "podman", "--runtime", "mpp", *args]

    def run(self, mode, test, *args, cidfile=None, timeout=CMD_TIMEOUT):
        opts = ["run", "--rm", "--network", "none", "--label", f"{LABEL}={test}"]
        if cidfile:
            opts += ["--cidfile", str(cidfile)]
        return run(self.cmd(mode, *opts, *args), env=self.env, timeout=timeout)

    def containers(self, test=None):
        flt = f"label={LABEL}" + (f"={test}" if test else "")
        r = self.podman("ps", "-aq", "--no-trunc", "--filter", flt, check=True)
        return r.stdout.split()

    def runc_state(self, cid):
        r = run([REAL_RUNTIME, "list", "-q"])  # podman runs runc with its default root
        return cid in r.stdout.split()

    def cleanup(self):
        ids = self.containers()
        if ids:
            # Through the runtime mode's /etc: a container made with `--runtime mpp` is
            # stopped and deleted by mpp-runtime, which must find the same configuration.
            run(self.cmd("runtime", "rm", "-f", "--time", "0", *ids), env=self.env)

    def stop(self):
        if self.env is None:
            return
        self.cleanup()
        self.podman("rmi", "-f", IMAGE)


# ---- containerd ----

class Containerd:
    """A private containerd (its own config, root, state and socket: a system containerd, if
    any, is left alone), driven with `ctr run --runc-binary mpp-runtime`. ctr cannot give the
    runtime options, so containerd's environment names the configuration (MPP_CONFIG): the
    runc shim and the runtime inherit it."""
    name = "containerd"
    NAMESPACE = "mpp-e2e"
    IMAGE_REF = f"docker.io/library/{IMAGE}:latest"

    def __init__(self, workdir: Path, config: Path):
        self.dir = workdir / "containerd"
        self.dir.mkdir()
        self.config = config
        self.proc = None
        self.socket = self.dir / "containerd.sock"

    @staticmethod
    def unavailable():
        return not_installable_reason(["containerd", "ctr", "containerd-shim-runc-v2"])

    def config_toml(self):
        return "\n".join([
            "version = 2",
            f'root = "{self.dir / "root"}"',
            f'state = "{self.dir / "state"}"',
            # The CRI plugin wants CNI and more; ctr does not need it.
            'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
            "[grpc]",
            f'  address = "{self.socket}"',
            "[ttrpc]",
            f'  address = "{self.socket}.ttrpc"',
            "",
        ])

    def ctr(self, *args, **kw):
        return run(["ctr", "--address", self.socket, "--namespace", self.NAMESPACE, *args], **kw)

    def start(self, rootfs_tar: Path):
        cfg = self.dir / "config.toml"
        cfg.write_text(self.config_toml())
        self.log = self.dir / "containerd.log"
        env = dict(os.environ, MPP_CONFIG=str(self.config))
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(["containerd", "--config", str(cfg)], env=env,
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         start_new_session=True)

        def ready():
            if self.proc.poll() is not None:
                raise EngineError(f"containerd exited ({self.proc.returncode}):\n"
                                  f"{tail(self.log)}")
            return self.ctr("version", timeout=20).returncode == 0
        poll(ready, START_TIMEOUT, "containerd to answer `ctr version`")
        archive = oci_archive(rootfs_tar, self.dir / "bb-oci.tar", self.IMAGE_REF)
        self.ctr("image", "import", archive, check=True)

    def run(self, cid, mounts, *cmd, timeout=CMD_TIMEOUT):
        """`ctr run --rm` through mpp-runtime; mounts are --mount values."""
        args = ["run", "--rm", "--runc-binary", MPP_RUNTIME, "--label", f"{LABEL}=1"]
        for m in mounts:
            args += ["--mount", m]
        return self.ctr(*args, self.IMAGE_REF, cid, *cmd, timeout=timeout)

    @staticmethod
    def new_id(test):
        # ctr refuses "--" and a trailing "-": squeeze the test name into a valid stem.
        stem = re.sub(r"[^a-z0-9]+", "-", test.lower())[:40].strip("-") or "t"
        return f"{stem}-{uuid.uuid4().hex[:8]}"

    def containers(self):
        r = self.ctr("containers", "list", "-q", check=True)
        return r.stdout.split()

    def tasks(self):
        r = self.ctr("tasks", "list", "-q", check=True)
        return r.stdout.split()

    def runc_state(self, cid):
        r = run([REAL_RUNTIME, "--root", f"/run/containerd/runc/{self.NAMESPACE}", "list", "-q"])
        return cid in r.stdout.split()

    def cleanup(self):
        for cid in self.tasks():
            self.ctr("tasks", "kill", "--signal", "SIGKILL", cid)
            self.ctr("tasks", "delete", "--force", cid)
        for cid in self.containers():
            self.ctr("containers", "delete", cid)

    def stop(self):
        try:
            if self.proc and self.proc.poll() is None:
                self.cleanup()
        finally:
            stop_process(self.proc, "containerd")
            self.proc = None
            unmount_under(self.dir)
