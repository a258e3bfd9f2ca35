import json
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from mpp import (MPP_RUNTIME, RUNTIMES, Env, fix_crun_cgroups, make_rootfs,  # noqa: E402
                 remove_bundle_cgroups, unique_id)


@pytest.fixture
def env(tmp_path):
    os.chmod(tmp_path, 0o755)
    e = Env(tmp_path)
    yield e
    e.stop_all()
    remove_bundle_cgroups()


@pytest.fixture
def cid():
    """A container ID of this test alone (see unique_id): for tests that run real containers."""
    return unique_id("c1")


@pytest.fixture(scope="session")
def rootfs(tmp_path_factory):
    fix_crun_cgroups()
    p = tmp_path_factory.mktemp("rootfs") / "rootfs"
    make_rootfs(p)
    return p


@pytest.fixture(params=sorted(RUNTIMES))
def rt(request, env):
    """The real runtime under test, and how to call it bare or through mpp-runtime."""
    name = request.param
    root = env.root / f"{name}-state"

    class RT:
        real = RUNTIMES[name]

        def cmd(self, via_mpp, *args, config=None):
            if via_mpp:
                cfg = config or env.root / "noplugins.json"
                if not config:
                    cfg.write_text(json.dumps({"runtime": self.real, "plugins": [],
                                               "state_dir": str(env.state_dir)}))
                return [MPP_RUNTIME, f"--mpp-config={cfg}", "--root", str(root)] + list(args)
            return [self.real, "--root", str(root)] + list(args)

        def run(self, via_mpp, *args, config=None, **kw):
            kw.setdefault("capture_output", True)
            kw.setdefault("text", True)
            kw.setdefault("timeout", 60)
            r = subprocess.run(self.cmd(via_mpp, *args, config=config), **kw)
            assert r.returncode not in (86, 87), f"sanitizer report: {r.stderr}"
            return r

        def state(self, cid):
            r = self.run(False, "state", cid)
            return json.loads(r.stdout)["status"] if r.returncode == 0 else None

    return RT()


