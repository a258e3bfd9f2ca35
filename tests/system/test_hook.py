"""mpp-hook as an OCI hook, driven as Podman and CRI-O drive it: config.json on stdin for
precreate (rewritten on stdout), the OCI state on stdin for poststop."""
import json
import shutil
import subprocess
import uuid
from pathlib import Path

from mpp import BUILD, bind_mount  # noqa: F401

HOOK = str(BUILD / "src/hook/mpp-hook")


def hook(env, *args, stdin=""):
    r = subprocess.run([HOOK, f"--mpp-config={env.config}", *args], input=stdin,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode not in (86, 87), f"sanitizer report: {r.stderr}"
    return r


def config_json(src, dst="/data"):
    return json.dumps({"ociVersion": "1.0.2", "process": {"args": ["/bin/true"]},
                       "root": {"path": "rootfs"},
                       "mounts": [{"destination": dst, "type": "bind", "source": str(src),
                                   "options": ["rbind", "rw"]}]})


def test_precreate_rewrites_and_poststop_detaches(env):
    src, red = env.root / "src", env.root / "red"
    src.mkdir()
    red.mkdir()
    env.plugin("p0", "--attach", f"redirect:{red}")
    env.write_config(["p0"])
    r = hook(env, "precreate", "c1", stdin=config_json(src))
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert [m["source"] for m in out["mounts"]] == [str(red)]
    r = hook(env, "poststop", stdin=json.dumps({"ociVersion": "1.0.2", "id": "c1",
                                                  "status": "stopped"}))
    assert r.returncode == 0, r.stderr
    assert env.calls() == ["p0:properties", "p0:attach", "p0:detach"]
    assert not env.cstate("c1").exists()


def test_precreate_denial_fails_with_the_message(env):
    src = env.root / "src"
    src.mkdir()
    env.plugin("p0", "--attach", "deny:not here")
    env.write_config(["p0"])
    r = hook(env, "precreate", "c1", stdin=config_json(src))
    assert r.returncode == 1 and 'plugin "p0" denied' in r.stderr and "not here" in r.stderr
    assert r.stdout == ""


def test_precreate_finds_the_id_from_podman_userdata(env):
    src = env.root / "src"
    src.mkdir()
    env.plugin("p0")
    env.write_config(["p0"])
    cid = uuid.uuid4().hex * 2
    # Podman's own file for the container, as it exists when the hook runs (in the default
    # storage root: mpp-hook has no option to move it); removed after.
    storage = Path("/var/lib/containers/storage")
    containers = storage / "overlay-containers"
    top = next((p for p in [storage.parent, storage, containers] if not p.exists()),
               containers / cid)
    hostname = containers / cid / "userdata/hostname"
    hostname.parent.mkdir(parents=True)
    try:
        hostname.write_text("c\n")
        cfg = json.loads(config_json(src))
        cfg["mounts"].append({"destination": "/etc/hostname", "type": "bind",
                              "options": ["bind"], "source": str(hostname)})
        r = hook(env, "precreate", stdin=json.dumps(cfg))
        assert r.returncode == 0, r.stderr
        reqs = env.records("attach")
        assert reqs[0]["request"]["ID"] == cid
        # Podman's file of this container is not shown to plugins; the user's mount is.
        assert [m["Destination"] for m in reqs[0]["request"]["Mounts"]] == ["/data"]
        hook(env, "poststop", stdin=json.dumps({"id": cid}))
    finally:
        shutil.rmtree(top)


def test_precreate_that_cannot_write_its_output_detaches(env):
    """The engine gets no config.json, so it runs neither the container nor its poststop hook:
    the plugins attached must be detached by precreate itself."""
    src = env.root / "src"
    src.mkdir()
    env.plugin("p0")
    env.write_config(["p0"])
    with open("/dev/full", "w") as full:
        r = subprocess.run([HOOK, f"--mpp-config={env.config}", "precreate", "c1"],
                           input=config_json(src), stdout=full, stderr=subprocess.PIPE,
                           text=True, timeout=60)
    assert r.returncode == 1, r.stderr
    assert "cannot write the rewritten config.json: No space left on device" in r.stderr
    assert env.calls(("attach", "detach")) == ["p0:attach", "p0:detach"]
    assert not env.cstate("c1").exists()


def test_bad_input(env):
    src = env.root / "src"
    src.mkdir()
    env.plugin("p0")
    env.write_config(["p0"])
    cases = [
        (("precreate", "c1"), "{not json", "config.json on stdin"),
        (("precreate", "c1"), '{"mounts": 5}', "mounts"),
        (("precreate",), config_json(src), "cannot tell the container's ID"),
        (("precreate", "../x"), config_json(src), "invalid container ID"),
        (("poststop",), "garbage", "not JSON"),
        (("poststop",), "{}", 'no "id"'),
        (("poststop",), '{"id": "a/b"}', "invalid container ID"),
    ]
    for args, stdin, msg in cases:
        r = hook(env, *args, stdin=stdin)
        assert r.returncode == 1 and msg in r.stderr, (args, stdin, r.stderr)
    assert env.calls(("attach", "detach")) == []
    assert hook(env, "nonsense").returncode == 2
    assert hook(env).returncode == 2


def test_poststop_of_unknown_container_is_quiet(env):
    env.write_config([])
    r = hook(env, "poststop", stdin='{"id": "never-seen"}')
    assert r.returncode == 0 and r.stderr == ""
