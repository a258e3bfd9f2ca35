"""A plugin's emergency actions (run by mpp when the plugin cannot be reached for its detach) act
only on what the plugin made for that container: the EffectiveSources it returned for the
container's mounts, the StateDir its attach answer declared, and what lies below them. Checked on
the answer at attach, and again when the actions run, where nothing below the root is followed.

A canary bind mount and a victim file outside the plugin's scope show what a wrong action would
have hit; these tests never aim an action that could run at a real host path."""
import json
import os
import subprocess

import pytest

from mpp import bind_mount, make_bundle, mount_table, oci_bind, unique_id, wait_for


def mount(src, dst):
    subprocess.run(["mount", "--bind", str(src), str(dst)], check=True)


def is_mounted(path):
    """A bind mount from the same filesystem: os.path.ismount cannot tell."""
    return any(point == str(path) for point, _, _ in mount_table())


def umount_all(path):
    for _ in range(10):
        if not is_mounted(path):
            break
        subprocess.run(["umount", "-l", str(path)], check=False)


@pytest.fixture
def outside(env):
    """ROOT/outside: a canary mount (outside/canary) and a victim file, neither the plugin's."""
    out = env.root / "outside"
    out.mkdir()
    src = env.root / "canary-src"
    src.mkdir()
    (src / "alive").write_text("yes\n")
    (out / "canary").mkdir()
    mount(src, out / "canary")
    (out / "victim").write_text("keep me\n")
    yield out
    umount_all(out / "canary")


@pytest.fixture
def inner(env):
    """A mount the test makes inside the plugin's effective source (in scope)."""
    made = []

    def make(effective):
        src = env.root / "inner-src"
        src.mkdir(exist_ok=True)
        (effective / "inner").mkdir()
        mount(src, effective / "inner")
        made.append(effective / "inner")
        return effective / "inner"
    yield make
    for m in made:
        umount_all(m)


def intact(out):
    assert is_mounted(out / "canary"), "the canary mount was unmounted"
    assert (out / "canary/alive").read_text() == "yes\n"
    assert (out / "victim").read_text() == "keep me\n"


def populate(effective, out):
    """The container's view of its effective source may hold symlinks to anywhere."""
    effective.mkdir(parents=True)
    (effective / "junk").write_text("x")
    os.symlink(out, effective / "link")


# At run time: the plugin dies before its detach, the actions run in its place.

SYMLINK_ACTIONS = [{"Unmount": "EFFECTIVE/link/canary"},  # through a symlink: refused
                   {"Unmount": "EFFECTIVE/link"},         # a symlink: refused
                   {"Remove": "EFFECTIVE/link/victim"},   # through a symlink: refused
                   {"Unmount": "EFFECTIVE/inner"},        # in scope: unmounted
                   {"Remove": "EFFECTIVE/junk"}]          # in scope: removed


def test_symlinks_below_the_effective_source_are_not_followed(env, rootfs, rt, outside, inner):
    cid = unique_id("es-link")
    base = env.root / "redirects"
    effective = base / cid
    populate(effective, outside)
    inner(effective)
    p0 = env.plugin("p0", "--attach", f"redirect-id:{base}",
                    "--emergency", json.dumps(SYMLINK_ACTIONS))
    src = env.root / "src"
    src.mkdir()
    env.write_config(["p0"], runtime=rt.real, detach_timeout_ms=500)
    b = make_bundle(env.root / "b", rootfs, ["/bin/ls", "/data"], [oci_bind(src, "/data")])
    c = rt.run(True, "create", "--bundle", str(b), cid, config=env.config,
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, capture_output=False)
    assert c.returncode == 0
    assert rt.run(True, "start", cid, config=env.config).returncode == 0
    wait_for(lambda: rt.state(cid) == "stopped", what="stopped")
    p0.kill()
    d = rt.run(True, "delete", cid, config=env.config)
    assert d.returncode == 0, d.stderr
    assert f'teardown of container {cid}: plugin "p0": emergency unmount of ' in d.stderr
    for path in ("link/canary", "link"):
        assert (f'plugin "p0": emergency unmount of {effective}/{path} refused: a symbolic link '
                f'is on the way below {effective}' in d.stderr), d.stderr
    assert (f'plugin "p0": emergency removal of {effective}/link/victim refused: a symbolic link '
            f'is on the way below {effective}') in d.stderr, d.stderr
    intact(outside)
    # What it may touch, it did.
    assert not is_mounted(effective / "inner")
    assert not (effective / "junk").exists()
    assert not env.cstate(cid).exists()


def test_a_tampered_journal_is_checked_again(env, outside):
    """The journal is root's, but the actions are checked again when they run: one naming a
    path outside the plugin's scope is refused then too."""
    base = env.root / "redirects"
    base.mkdir()
    p0 = env.plugin("p0", "--attach", f"redirect-id:{base}",
                    "--emergency", json.dumps([{"Unmount": "EFFECTIVE/placeholder"},
                                               {"Remove": "EFFECTIVE/placeholder"}]))
    env.write_config(["p0"], detach_timeout_ms=500)
    src = env.root / "src"
    src.mkdir()
    env.attach("c1", [bind_mount(src, "/data")], check=True)
    j = env.cstate("c1") / "journal"
    text = j.read_text()
    placeholder = f"{base}/c1/placeholder"
    assert text.count(placeholder) == 2
    text = text.replace(placeholder, str(outside / "canary"), 1)
    text = text.replace(placeholder, str(outside / "victim"), 1)
    j.write_text(text)
    p0.kill()
    out = env.detach("c1", 0)
    assert out["status"] == 129 and out["complete"], out
    errs = " ".join(out["errors"])
    for what, path in (("unmount", outside / "canary"), ("removal", outside / "victim")):
        assert (f'plugin "p0": emergency {what} of {path} refused: it is neither an '
                f'EffectiveSource the plugin returned for this container nor its StateDir, nor '
                f'below one') in errs, errs
    intact(outside)


def test_state_dir_declared_in_the_answer(env):
    """Without changing the source, a plugin may clean up below the StateDir it declared."""
    sd = env.root / "plugin-state"
    sd.mkdir()
    (sd / "c1.json").write_text("{}")
    (sd / "c1").mkdir()
    p0 = env.plugin("p0", "--state-dir", str(sd),
                    "--emergency", json.dumps([{"Remove": f"{sd}/c1.json"},
                                               {"Remove": f"{sd}/c1"}]))
    env.write_config(["p0"], detach_timeout_ms=500)
    src = env.root / "src"
    src.mkdir()
    env.attach("c1", [bind_mount(src, "/data")], check=True)
    p0.kill()
    out = env.detach("c1", 0)
    assert out["status"] == 0 and out["complete"] and not out["errors"], out
    assert not (sd / "c1.json").exists() and not (sd / "c1").exists()


# At attach: an answer with an action out of scope is refused (and still detached).

@pytest.mark.parametrize("action", [
    {"Unmount": "/proc"},
    {"Unmount": "OUTSIDE/canary"},
    {"Remove": "OUTSIDE/victim"},
    {"Remove": "EFFECTIVE/../.."},
    {"Unmount": "EFFECTIVE-sibling"},  # a prefix of the string, not of the path
], ids=["proc", "outside-mount", "outside-file", "dotdot", "sibling"])
def test_out_of_scope_actions_are_refused_at_attach(env, rootfs, rt, outside, action):
    cid = unique_id("es-attach")
    base = env.root / "redirects"
    base.mkdir()
    (kind, arg), = action.items()
    arg = arg.replace("OUTSIDE", str(outside))
    p0 = env.plugin("p0", "--attach", f"redirect-id:{base}",
                    "--emergency", json.dumps([{"Warning": "w"}, {kind: arg}]))
    src = env.root / "src"
    src.mkdir()
    env.write_config(["p0"], runtime=rt.real)
    b = make_bundle(env.root / "b", rootfs, ["/bin/true"], [oci_bind(src, "/data")])
    r = rt.run(True, "run", "--bundle", str(b), cid, config=env.config)
    assert r.returncode == 1, r.stderr
    shown = arg.replace("EFFECTIVE", f"{base}/{cid}")
    assert (f'mount point plugin "p0" answered an emergency {kind} of "{shown}" for {src} -> '
            f'/data: refused, emergency actions may only act on the EffectiveSources the plugin '
            f'returned for this container, on its StateDir, and below them') in r.stderr, r.stderr
    # It attached, so it is detached; nothing ran in its place.
    assert env.calls() == ["p0:properties", "p0:attach", "p0:detach"]
    assert not env.cstate(cid).exists()
    intact(outside)
    p0.stop()


def test_state_dir_must_be_clean_and_not_root(env):
    env.plugin("p0", "--state-dir", "/")
    env.write_config(["p0"])
    src = env.root / "src"
    src.mkdir()
    r = env.attach("c1", [bind_mount(src, "/data")])
    assert r.returncode == 1
    assert 'mount point plugin "p0" answered an invalid StateDir "/"' in r.stderr, r.stderr
    assert env.calls()[-1] == "p0:detach"
