"""mpp-plugin-cow under dockerd: `docker run --label mpp.cow=true -v SRC:DST` writes into an
overlay; SRC is unchanged afterwards, and nothing stays mounted."""
import hashlib
import os

import engines
from engines import IMAGE
from mpp import BUILD, mounts_under

COW = BUILD / "plugins/cow/mpp-plugin-cow"


def digest(root):
    out = []
    for dirpath, dirs, files in os.walk(root):
        for name in sorted(dirs + files):
            p = os.path.join(dirpath, name)
            data = open(p, "rb").read() if os.path.isfile(p) else b""
            out.append((os.path.relpath(p, root), os.lstat(p).st_mode,
                        hashlib.sha256(data).hexdigest()))
    return sorted(out)


def cow_mounts(state):
    """cow's overlays under this test's state directory (other tests on the machine run cow
    too)."""
    return [m for m in mounts_under(state) if m[1] == "mpp-cow"]


def test_cow_under_docker(docker, case):
    src = case.env.root / "src"
    (src / "sub").mkdir(parents=True)
    (src / "f").write_text("original\n")
    (src / "sub" / "g").write_text("g\n")
    before = digest(src)
    state = case.env.root / "cow-state"
    case.env.daemon("cow", [COW, "--socket", case.env.plugin_dir / "cow.sock", "--state-dir",
                            state])
    case.use(["cow"])
    script = ("echo changed > /d/f && rm -r /d/sub && echo new > /d/new && mv /d/new /d/moved "
              "&& cat /d/f /d/moved && ls /d")
    r = docker.run(case.name, "--label", "mpp.cow=true", "-v", f"{src}:/d", IMAGE,
                   "sh", "-c", script)
    assert (r.returncode, r.stdout) == (0, "changed\nnew\nf\nmoved\n"), r.stderr
    # Docker deletes the task around the time run returns: the detach may come just after.
    engines.poll(lambda: not any(state.iterdir()) and not cow_mounts(state), 30,
                 "the cow teardown")
    assert digest(src) == before
