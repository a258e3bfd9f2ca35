"""Fixtures of the end-to-end tests: one session of each real engine (engines.py), the shared
mpp configuration that each test rewrites, and per-test plugins (tests/system/mpp.py)."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "system"))
sys.path.insert(0, os.path.dirname(__file__))
from mpp import Env, make_rootfs  # noqa: E402

import engines  # noqa: E402


def write_atomically(path: Path, text: str):
    """A runtime call may read the configuration at any moment (an engine's delete can come
    after the command returned): it must never see a half-written file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


NO_PLUGINS = json.dumps({"runtime": engines.REAL_RUNTIME, "plugins": []})


@pytest.fixture(scope="session")
def workdir(tmp_path_factory):
    for prog in (engines.MPP_RUNTIME, engines.MPP_HOOK):
        if not prog.exists():
            pytest.fail(f"{prog} is not built: run `ninja -C {engines.BUILD}` (or set MPP_BUILD)")
    d = tmp_path_factory.mktemp("e2e")
    os.chmod(d, 0o755)
    return d


@pytest.fixture(scope="session")
def shared_config(workdir):
    """The one configuration file every engine is pointed at, at start."""
    path = workdir / "mpp.json"
    write_atomically(path, NO_PLUGINS)
    return path


@pytest.fixture(scope="session")
def rootfs_tar(workdir):
    rootfs = workdir / "rootfs"
    make_rootfs(rootfs)
    out = workdir / "bb.tar"
    subprocess.run(["tar", "-C", str(rootfs), "-cf", str(out), "."], check=True)
    return out


def engine_session(cls, workdir, shared_config, rootfs_tar):
    reason = cls.unavailable()
    if reason:
        pytest.skip(f"{cls.name}: {reason}")
    e = cls(workdir, shared_config)
    try:
        e.start(rootfs_tar)
    except BaseException:
        e.stop()
        raise
    return e


@pytest.fixture(scope="session")
def docker_session(workdir, shared_config, rootfs_tar):
    e = engine_session(engines.Docker, workdir, shared_config, rootfs_tar)
    yield e
    e.stop()


@pytest.fixture(scope="session")
def podman_session(workdir, shared_config, rootfs_tar):
    e = engine_session(engines.Podman, workdir, shared_config, rootfs_tar)
    yield e
    e.stop()


@pytest.fixture(scope="session")
def containerd_session(workdir, shared_config, rootfs_tar):
    e = engine_session(engines.Containerd, workdir, shared_config, rootfs_tar)
    yield e
    e.stop()


class Case:
    """One test: its plugins (started in its own directory) and the chain it writes into the
    shared configuration."""

    def __init__(self, env: Env, shared: Path, name: str):
        self.env = env
        self.shared = shared
        self.name = name

    def plugin(self, name, *args):
        return self.env.plugin(name, *args)

    def use(self, plugins, **extra):
        extra.setdefault("runtime", engines.REAL_RUNTIME)
        self.env.write_config(plugins, **extra)
        write_atomically(self.shared, self.env.config.read_text())

    def calls(self, kinds=("attach", "detach")):
        return self.env.calls(kinds)

    def attach_requests(self):
        return [r["request"] for r in self.env.records("attach")]

    def journals(self):
        """Container journals left in the state directory."""
        d = self.env.state_dir / "containers"
        return sorted(p.name for p in d.iterdir()) if d.exists() else []

    def wait_calls(self, expected, timeout=30, kinds=("attach", "detach")):
        """Bounded wait until the plugins have logged exactly `expected` (engines may delete a
        container after their command returned)."""
        try:
            engines.poll(lambda: len(self.calls(kinds)) >= len(expected), timeout,
                         f"calls {expected}")
        except engines.EngineError:
            pass
        assert self.calls(kinds) == expected


@pytest.fixture
def case(request, tmp_path, shared_config):
    os.chmod(tmp_path, 0o755)
    env = Env(tmp_path)
    name = re.sub(r"[^A-Za-z0-9_.-]", "-", request.node.name)[:60]
    c = Case(env, shared_config, name)
    yield c
    write_atomically(shared_config, NO_PLUGINS)
    env.stop_all()


# Function-scoped engine fixtures depend on `case`, so their teardown (removing what the test
# left, which calls the runtime's delete and so the plugins) runs before the plugins stop.

@pytest.fixture
def docker(docker_session, case):
    yield docker_session
    docker_session.cleanup()


@pytest.fixture
def podman(podman_session, case):
    yield podman_session
    podman_session.cleanup()


@pytest.fixture
def containerd(containerd_session, case):
    yield containerd_session
    containerd_session.cleanup()

