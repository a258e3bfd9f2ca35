"""Which binds mpp keeps from plugins, through mpp-runtime under crun and runc: only the engine's
own files of this very container, told by their source as the runtime will mount it. A user's bind
at a destination where the runtime or the engine puts things (/dev, /dev/shm, /run/secrets) reaches
the plugins, and so does a source that only looks like an engine file or reaches one through `..`
or a symbolic link. The engine's per-container directory is made under the default Docker root
with a name no engine uses, and removed after the test."""
import os
import shutil
import uuid
from pathlib import Path

import pytest

from mpp import make_bundle, oci_bind

DOCKER_ROOT = Path("/var/lib/docker")


@pytest.fixture
def engine_dirs():
    """Docker-like per-container directories (hosts, hostname, resolv.conf, mounts/shm) for fresh
    container IDs; removed when the test ends."""
    made = []
    containers = DOCKER_ROOT / "containers"
    # What this fixture creates above the containers' directories, if anything.
    top = next((p for p in [DOCKER_ROOT, containers] if not p.exists()), None)

    def make():
        cid = f"mpp-excl-{uuid.uuid4().hex[:16]}"
        d = containers / cid
        (d / "mounts/shm").mkdir(parents=True)
        made.append(d)
        for name in ("hosts", "hostname", "resolv.conf"):
            (d / name).write_text(f"{name} of {cid}\n")
        return cid, d

    yield make
    for d in made:
        shutil.rmtree(d)
    if top:
        shutil.rmtree(top)


def protected(env):
    p = env.root / "protected"
    (p / "sub").mkdir(parents=True)
    (p / "secret").write_text("s\n")
    return p


def attempt(env, rt, rootfs, cid, mounts):
    """Run with a plugin that denies whatever reaches it; the Destinations that reached it."""
    env.plugin("deny", "--attach", "deny:refused by test")
    env.write_config(["deny"], runtime=rt.real)
    b = make_bundle(env.root / f"b-{cid}", rootfs, ["/bin/true"], mounts)
    r = rt.run(True, "run", "--bundle", str(b), cid, config=env.config)
    rt.run(False, "delete", "--force", cid)
    reqs = env.records("attach")
    dsts = [m["Destination"] for req in reqs for m in req["request"]["Mounts"]]
    return r, dsts


@pytest.mark.parametrize("dst", ["/dev/hostetc", "/dev/shm/x", "/run/secrets/x", "/etc/hosts",
                                 "/proc/x", "/sys/x"])
def test_a_user_bind_at_a_runtime_destination_reaches_plugins(env, rootfs, rt, engine_dirs, dst):
    cid, _ = engine_dirs()
    prot = protected(env)
    r, dsts = attempt(env, rt, rootfs, cid, [oci_bind(prot, dst)])
    assert dsts == [dst], r.stderr
    assert r.returncode != 0
    assert f'mount point plugin "deny" denied {prot} -> {dst}: refused by test' in r.stderr, \
        r.stderr


def test_the_engine_files_of_this_container_stay_excluded(env, rootfs, rt, engine_dirs):
    cid, d = engine_dirs()
    src = env.root / "src"
    src.mkdir()
    mounts = [oci_bind(d / "hosts", "/etc/hosts"), oci_bind(d / "hostname", "/etc/hostname"),
              oci_bind(d / "resolv.conf", "/etc/resolv.conf"), oci_bind(d / "mounts/shm", "/dev/shm"),
              # Told by the source, not the destination.
              oci_bind(d / "hostname", "/elsewhere/hostname"),
              oci_bind(src, "/data")]
    r, dsts = attempt(env, rt, rootfs, cid, mounts)
    assert dsts == ["/data"], r.stderr


def test_what_only_looks_like_an_engine_file_reaches_plugins(env, rootfs, rt, engine_dirs):
    cid, d = engine_dirs()
    other_cid, other = engine_dirs()
    prot = protected(env)
    # A link in a directory a user owns, to this container's own file.
    link = env.root / "hosts-link"
    os.symlink(d / "hosts", link)
    # A link planted inside the container's directory, to elsewhere; and a ".." through it.
    os.symlink(prot / "sub", d / "planted")
    mounts = [oci_bind(other / "hosts", "/other"),                       # another container's
              oci_bind(f"{d}/../{other_cid}/hostname", "/dotdot"),       # .. to another's
              oci_bind(f"{d}/../../../../..{prot}", "/dotdot-etc"),      # .. out of it
              oci_bind(link, "/link"),
              oci_bind(d / "planted", "/planted"),
              oci_bind(f"{d}/planted/..", "/planted-up"),                # is prot, not d
              oci_bind(d / "missing", "/missing")]
    r, dsts = attempt(env, rt, rootfs, cid, mounts)
    assert sorted(dsts) == sorted(m["destination"] for m in mounts), r.stderr
    assert r.returncode != 0
    reqs = env.records("attach")
    srcs = {m["Destination"]: m["Source"] for m in reqs[0]["request"]["Mounts"]}
    # The plugins judge what the runtime would mount.
    assert srcs["/planted-up"] == str(prot), srcs
    assert srcs["/planted"] == str(prot / "sub"), srcs
