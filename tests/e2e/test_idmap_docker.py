"""mpp-plugin-idmap under dockerd: `docker run -v SRC:DST` with SRC under a configured prefix
shows the host's uid 1000 as root in the container, and root's new files land as 1000."""
import json
import os

import engines
from engines import IMAGE
from mpp import BUILD

IDMAP = BUILD / "plugins/idmap/mpp-plugin-idmap"


def test_idmap_under_docker(docker, case):
    src = case.env.root / "src"
    src.mkdir()
    (src / "mine").write_text("x\n")
    for p in (src, src / "mine"):
        os.chown(p, 1000, 1000)
    state = case.env.root / "idmap-state"
    cfg = case.env.root / "idmap.json"
    cfg.write_text(json.dumps({"mappings": [{"match": {"source_prefix": str(src)},
                                             "uid": [{"host": 1000, "container": 0}]}]}))
    case.env.daemon("idmap", [IDMAP, "--socket", case.env.plugin_dir / "idmap.sock",
                              "--state-dir", state, "--config", cfg])
    case.use(["idmap"])
    r = docker.run(case.name, "-v", f"{src}:/d", IMAGE, "sh", "-c",
                   "stat -c '%u %g' /d/mine && echo new > /d/new")
    assert (r.returncode, r.stdout) == (0, "0 0\n"), r.stderr
    st = os.stat(src / "new")
    assert (st.st_uid, st.st_gid) == (1000, 1000)
    # Docker deletes the task around the time run returns: the detach may come just after.
    engines.poll(lambda: not any(state.iterdir()) and
                 not [l for l in open("/proc/self/mountinfo") if f" {state}/" in l], 30,
                 "the idmap teardown")
