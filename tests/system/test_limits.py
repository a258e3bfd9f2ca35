"""Limits, files and the state directory (docs/security.md): many mounts against the file
descriptor limit, configuration files that are not regular files (or are links to secrets), and a
state directory whose ancestors someone else controls. Real crun and runc, real plugin processes,
every program that reads a configuration."""
import json
import os
import re
import resource
import subprocess
from pathlib import Path

import pytest

from mpp import BUILD, MPP_RUNTIME, make_bundle, mount_changes, mount_table, oci_bind, unique_id

MPPCTL = str(BUILD / "src/ctl/mppctl")
HOOK = str(BUILD / "src/hook/mpp-hook")
PLUGINS = ("policy", "audit", "cow", "idmap")
NOBODY = 65534


def nofile(soft, hard):
    """preexec_fn: the descriptor limit an engine would give the runtime."""
    def set_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return set_limit


def shared_source(env):
    src = env.root / "src"
    if not src.exists():
        src.mkdir()
        (src / "f").write_text("shared\n")
    return src


def many_binds(env, rootfs, n, cid, args=None):
    """A bundle with n binds of one directory, under a tmpfs so that the runtimes create the
    mount points there and not in the shared root filesystem."""
    src = shared_source(env)
    mounts = [{"destination": "/mnt", "type": "tmpfs", "source": "tmpfs",
               "options": ["nosuid", "nodev", "mode=755"]}]
    mounts += [oci_bind(src, f"/mnt/{i}", ro=True) for i in range(n)]
    b = make_bundle(env.root / f"b-{cid}", rootfs, args or ["/bin/cat", f"/mnt/{n - 1}/f"],
                    mounts)
    # The container inherits the runtime's limit (runc spec's 1024:1024 cannot be set under a
    # lower hard limit without CAP_SYS_RESOURCE).
    cfg = json.loads((b / "config.json").read_text())
    cfg["process"].pop("rlimits", None)
    (b / "config.json").write_text(json.dumps(cfg))
    return b


def recording_runtime(env, rt):
    """The real runtime behind a wrapper that records the soft limit it was started with."""
    w = env.root / "recording-runtime"
    w.write_text(f"#!/bin/sh\nulimit -Sn >> '{env.root / 'runtime-nofile'}'\n"
                 f"exec {rt.real} \"$@\"\n")
    w.chmod(0o755)
    return w


def assert_clean(env, cid, before):
    assert not env.cstate(cid).exists(), "the container's state was left behind"
    pins = env.state_dir / "pins"
    assert not pins.exists() or list(pins.iterdir()) == []
    assert mount_changes(before, mount_table(), roots=(env.root,)) == \
        (set(), set())


# 1. Many mounts against the file descriptor limit

@pytest.mark.parametrize("n", [200, 1000])
def test_many_binds_work_under_a_low_soft_limit(env, rootfs, rt, n):
    """The engine's soft limit (256) is far below its hard one: mpp raises its own, and the real
    runtime still starts with the engine's."""
    cid_c0 = unique_id("c0")
    cid_c1 = unique_id("c1")
    env.plugin("p0")
    env.write_config(["p0"], runtime=str(recording_runtime(env, rt)))
    b = many_binds(env, rootfs, n, cid_c1)
    before = mount_table()
    r = rt.run(True, "run", "--bundle", str(b), cid_c1, config=env.config,
               preexec_fn=nofile(256, 8192), timeout=300)
    if rt.real.endswith("crun") and n > 256:
        # crun holds a descriptor per mount: under the engine's limit it fails by itself, as it
        # does without mpp (below); the plugin is detached all the same.
        assert r.returncode != 0 and "Too many open files" in r.stderr, r.stderr[-3000:]
        bare = rt.run(False, "run", "--bundle", str(b), cid_c0, preexec_fn=nofile(256, 8192))
        assert bare.returncode != 0 and "Too many open files" in bare.stderr, bare.stderr
    else:
        assert (r.returncode, r.stdout) == (0, "shared\n"), r.stderr[-3000:]
    assert env.calls() == ["p0:properties", "p0:attach", "p0:detach"]
    assert len(env.records("attach")[0]["request"]["Mounts"]) >= n
    assert (env.root / "runtime-nofile").read_text().split() == ["256"]
    assert_clean(env, cid_c1, before)


@pytest.mark.parametrize("limit,n", [(256, 1000), (64, 200)])
def test_too_many_binds_are_refused_before_any_plugin_is_contacted(env, rootfs, rt, limit, n):
    cid = unique_id("c1")
    env.plugin("p0")
    env.plugin("p1")
    env.write_config(["p0", "p1"], runtime=rt.real)
    b = many_binds(env, rootfs, n, cid)
    before = mount_table()
    r = rt.run(True, "run", "--bundle", str(b), cid, config=env.config,
               preexec_fn=nofile(limit, limit), timeout=120)
    assert r.returncode != 0
    m = re.search(rf"container {cid}: (\d+) mounts: needs about (\d+) file descriptors .*over the "
                  rf"limit of {limit} \(RLIMIT_NOFILE, hard limit {limit}\)", r.stderr)
    assert m, r.stderr[-3000:]
    assert int(m.group(1)) > n and int(m.group(2)) > limit
    assert env.calls() == [], "a plugin was contacted"
    assert rt.state(cid) is None
    assert_clean(env, cid, before)

    # The ID is free: the same container with a few mounts starts under the same limit.
    b = many_binds(env, rootfs, 2, "c1-small")
    r = rt.run(True, "run", "--bundle", str(b), cid, config=env.config,
               preexec_fn=nofile(limit, limit))
    assert (r.returncode, r.stdout) == (0, "shared\n"), r.stderr[-3000:]
    assert env.calls(("attach", "detach")) == ["p0:attach", "p1:attach", "p1:detach",
                                               "p0:detach"]
    assert_clean(env, cid, before)


def test_delete_with_many_plugins_at_a_low_limit(env, rootfs, rt):
    """delete tears down a dozen plugins with descriptors for a few only: no plugin connection
    or per-mount descriptor is held across the chain."""
    cid = unique_id("c1")
    names = [f"p{i}" for i in range(12)]
    for name in names:
        env.plugin(name)
    env.write_config(names, runtime=rt.real)
    b = many_binds(env, rootfs, 20, cid, args=["/bin/true"])
    before = mount_table()
    r = rt.run(True, "create", "--bundle", str(b), cid, config=env.config,
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, capture_output=False)
    assert r.returncode == 0
    r = rt.run(True, "delete", "--force", cid, config=env.config, preexec_fn=nofile(16, 16))
    assert r.returncode == 0, r.stderr
    assert env.calls(("detach",)) == [f"{n}:detach" for n in reversed(names)], r.stderr
    assert_clean(env, cid, before)


# 2. Configuration files

# A shadow line: jansson quotes a short token it stopped at ("invalid token near 'hunterpass'").
SECRET = "hunterpass:$6$saltsalt$hash:19000:0:99999:7:::"
KINDS = {
    "fifo": "is a FIFO, not a regular file",
    "devnull": "is a character device, not a regular file",
    "directory": "is a directory, not a regular file",
    "link-to-valid": "is a symbolic link",
    "link-to-secret": "is a symbolic link",
    "secret": "line 1 column",
    "world-writable": "is owned by uid 0 with mode 0666: a configuration must be owned by root",
    "not-roots": "is owned by uid 65534 with mode 0644: a configuration must be owned by root",
}


def valid_config(env, program):
    if program == "policy":
        return {"rules": []}
    if program == "audit":
        return {"log_dir": str(env.root / "audit-logs")}
    if program == "cow":
        return {}
    if program == "idmap":
        return {"mappings": [{"match": {"source_prefix": "/srv"},
                              "uid": [{"host": 1000, "container": 0, "count": 1}]}]}
    return {"plugins": [], "state_dir": str(env.state_dir)}


def config_file(env, kind, program):
    d = env.root / "configs"
    d.mkdir(exist_ok=True)
    if kind == "fifo":
        p = d / "fifo.json"
        os.mkfifo(p)
    elif kind == "devnull":
        p = Path("/dev/null")
    elif kind == "directory":
        p = d / "dir.json"
        p.mkdir()
    elif kind == "link-to-valid":
        real = d / "real.json"
        real.write_text(json.dumps(valid_config(env, program)))
        p = d / "link.json"
        p.symlink_to(real)
    elif kind == "link-to-secret":
        shadow = d / "shadow"
        shadow.write_text(SECRET + "\n")
        shadow.chmod(0o600)
        p = d / "shadow-link.json"
        p.symlink_to(shadow)
    elif kind == "secret":
        p = d / "secret.json"
        p.write_text(SECRET + "\n")
    else:
        # Valid, but whoever can write it chooses what root runs.
        p = d / f"{kind}.json"
        p.write_text(json.dumps(valid_config(env, program)))
        p.chmod(0o644)
        if kind == "world-writable":
            p.chmod(0o666)
        else:
            os.chown(p, NOBODY, -1)
    return p


def command(env, program, path):
    """argv, stdin and extra environment of program reading path as its configuration."""
    if program == "mpp-runtime":
        return [MPP_RUNTIME, f"--mpp-config={path}", "--root", str(env.root / "rt"), "state",
                "c1"], None, {}
    if program == "mppctl":
        return [MPPCTL, f"--mpp-config={path}", "ps"], None, {}
    if program == "mppctl-check-config":
        return [MPPCTL, "check-config", str(path)], None, {}
    if program == "MPP_CONFIG":
        return [MPPCTL, "plugins"], None, {"MPP_CONFIG": str(path)}
    if program == "mpp-hook":
        return [HOOK, f"--mpp-config={path}", "poststop"], json.dumps({"id": "c1"}), {}
    return [str(BUILD / f"plugins/{program}/mpp-plugin-{program}"), "--config", str(path),
            "--socket", str(env.plugin_dir / f"{program}.sock"),
            "--state-dir", str(env.root / f"{program}-state")], None, {}


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("program", ["mpp-runtime", "mppctl", "mppctl-check-config",
                                     "MPP_CONFIG", "mpp-hook"] + list(PLUGINS))
def test_a_configuration_that_is_not_a_regular_file_is_refused(env, program, kind):
    path = config_file(env, kind, program)
    argv, stdin, extra = command(env, program, path)
    e = dict(os.environ)
    e.update(extra)
    # A hang (a FIFO waiting for a writer) fails the test through the timeout.
    r = subprocess.run(argv, input=stdin, capture_output=True, text=True, env=e, timeout=15)
    assert r.returncode not in (0, 86, 87), r.stdout + r.stderr
    out = r.stdout + r.stderr
    assert f"{path}: {KINDS[kind]}" in out, out
    if kind == "secret":
        assert re.search(r": line 1 column \d+: invalid JSON\n", out), out
    assert "hunterpass" not in out and "saltsalt" not in out, out
    assert not (env.plugin_dir / f"{program}.sock").exists()


# 3. The state directory and its ancestors

def user_owned(path, mode=0o755, uid=NOBODY):
    path.mkdir()
    os.chown(path, uid, -1)
    path.chmod(mode)
    return path


def run_one_bind(env, rt, rootfs, state_dir, cid=None, runtime=None):
    cid = cid or unique_id("c1")
    src = shared_source(env)
    env.write_config(["p0"], runtime=str(runtime or rt.real), state_dir=str(state_dir))
    b = make_bundle(env.root / f"b-{cid}", rootfs, ["/bin/cat", "/data/f"],
                    [oci_bind(src, "/data")])
    return rt.run(True, "run", "--bundle", str(b), cid, config=env.config)


@pytest.mark.parametrize("owner,mode,says", [
    (NOBODY, 0o755, "is owned by uid 65534 with mode 0755"),
    (0, 0o775, "is owned by uid 0 with mode 0775"),
    (0, 0o757, "is owned by uid 0 with mode 0757"),
])
def test_a_state_dir_under_another_users_directory_is_refused(env, rootfs, rt, owner, mode,
                                                              says):
    cid = unique_id("c1")
    parent = user_owned(env.root / "parent", mode, owner)
    env.plugin("p0")
    r = run_one_bind(env, rt, rootfs, parent / "state", cid=cid)
    assert r.returncode != 0
    assert f"state directory {parent}/state: its ancestor {parent} {says}" in r.stderr, r.stderr
    assert env.calls() == [], "a plugin was contacted"
    assert not (parent / "state").exists()
    assert rt.state(cid) is None

    # The hook refuses the same way, before any plugin contact.
    cfg = json.dumps({"ociVersion": "1.0.2", "process": {"args": ["/bin/true"]},
                      "root": {"path": "rootfs"},
                      "mounts": [oci_bind(shared_source(env), "/data")]})
    h = subprocess.run([HOOK, f"--mpp-config={env.config}", "precreate", cid], input=cfg,
                       capture_output=True, text=True, timeout=30)
    assert h.returncode == 1 and f"its ancestor {parent} {says}" in h.stderr, h.stderr
    assert env.calls() == []


def test_a_group_writable_or_linked_state_dir_is_refused(env, rootfs, rt):
    cid = unique_id("c2")
    env.plugin("p0")
    state = user_owned(env.root / "state", 0o770, 0)
    r = run_one_bind(env, rt, rootfs, state)
    assert r.returncode != 0
    assert f"state directory {state}: the state directory {state} is owned by uid 0 with mode " \
           "0770" in r.stderr, r.stderr
    real = user_owned(env.root / "real", 0o700, 0)
    link = env.root / "link"
    link.symlink_to(real)
    r = run_one_bind(env, rt, rootfs, link / "state", cid=cid)
    assert r.returncode != 0
    assert f"its ancestor {link} is a symbolic link" in r.stderr, r.stderr
    assert env.calls() == []


def test_a_state_dir_under_a_sticky_root_directory_works(env, rootfs, rt):
    """Like /tmp: others may create entries in a sticky directory but not replace root's."""
    sticky = user_owned(env.root / "sticky", 0o1777, 0)
    env.plugin("p0")
    before = mount_table()
    r = run_one_bind(env, rt, rootfs, sticky / "state")
    assert (r.returncode, r.stdout) == (0, "shared\n"), r.stderr
    assert env.calls() == ["p0:properties", "p0:attach", "p0:detach"]
    assert (sticky / "state").stat().st_mode & 0o777 == 0o700
    assert mount_changes(before, mount_table(), roots=(env.root,)) == \
        (set(), set())


def test_the_pins_swap_by_the_owner_of_the_parent_gets_nothing_mounted(env, rootfs, rt):
    """The attack: the user who owns state_dir's parent moves state_dir aside once mpp has pinned
    the sources and puts a state_dir of their own there, whose pins are links to a protected
    directory. The wrapper runtime makes the swap deterministic: it runs after mpp's checks and
    before the real runtime mounts."""
    parent = user_owned(env.root / "home")
    state = parent / "state"
    protected = env.root / "protected"
    protected.mkdir(mode=0o700)
    (protected / "f").write_text("protected\n")
    swap = env.root / "swap-runtime"
    swap.write_text(f"""#!/usr/bin/python3
import json, os, sys
args = sys.argv[1:]
if "--bundle" in args and os.path.isdir({str(state)!r}):
    bundle = args[args.index("--bundle") + 1]
    mounts = json.load(open(os.path.join(bundle, "config.json")))["mounts"]
    pins = [m["source"] for m in mounts if m["source"].startswith({str(state)!r} + "/pins/")]
    os.rename({str(state)!r}, {str(state)!r} + ".old")
    os.makedirs({str(state)!r} + "/pins")
    # Whatever else the runtime is given under state_dir (a copy of the bundle) follows along.
    for name in os.listdir({str(state)!r} + ".old"):
        if name != "pins":
            os.symlink({str(state)!r} + ".old/" + name, {str(state)!r} + "/" + name)
    for p in pins:
        os.symlink({str(protected)!r}, p)
os.execv({rt.real!r}, [{rt.real!r}] + args)
""")
    swap.chmod(0o755)
    env.plugin("p0")
    r = run_one_bind(env, rt, rootfs, state, runtime=swap)
    assert "protected" not in r.stdout
    assert r.returncode != 0 and f"its ancestor {parent} is owned by uid 65534" in r.stderr, \
        r.stdout + r.stderr
    assert env.calls() == []


def check_config(env):
    r = subprocess.run([MPPCTL, "--json", "check-config", str(env.config)], capture_output=True,
                       text=True, timeout=30)
    doc = json.loads(r.stdout)
    return r.returncode, {c["check"]: c for c in doc["checks"] if not c["ok"]}


def test_check_config_reports_what_others_can_write(env):
    env.plugin("p0")
    env.write_config(["p0"], runtime="/usr/bin/runc")
    rc, bad = check_config(env)
    assert (rc, bad) == (0, {})

    parent = user_owned(env.root / "parent")
    env.write_config(["p0"], runtime="/usr/bin/runc", state_dir=str(parent / "state"))
    rc, bad = check_config(env)
    assert rc == 1 and set(bad) == {"state_dir"}
    assert f"its ancestor {parent} is owned by uid 65534" in bad["state_dir"]["message"]

    loose = user_owned(env.root / "loose-plugins", 0o777, 0)
    theirs = user_owned(env.root / "their-plugins")
    env.write_config(["p0"], runtime="/usr/bin/runc",
                     plugin_dirs=[str(env.plugin_dir), str(loose), str(theirs)])
    rc, bad = check_config(env)
    msgs = [c["message"] for c in json.loads(subprocess.run(
        [MPPCTL, "--json", "check-config", str(env.config)], capture_output=True,
        text=True).stdout)["checks"] if c["check"] == "plugin_dirs" and not c["ok"]]
    assert rc == 1 and set(bad) == {"plugin_dirs"}
    assert any(f"{loose} is owned by uid 0 with mode 0777" in m for m in msgs), msgs
    assert any(f"{theirs} is owned by uid 65534 with mode 0755" in m for m in msgs), msgs

    env.write_config(["p0"], runtime="/usr/bin/runc")
    env.config.chmod(0o666)
    rc, bad = check_config(env)
    assert rc == 1 and set(bad) == {"config"}
    assert f"{env.config}: is owned by uid 0 with mode 0666" in bad["config"]["message"]
    env.config.chmod(0o644)
    os.chown(env.config, NOBODY, -1)
    rc, bad = check_config(env)
    assert rc == 1 and f"{env.config}: is owned by uid 65534" in bad["config"]["message"]


def test_state_files_are_private(env, rootfs, rt):
    """docs/security.md ("mpp's own files"): state files are 0600 in 0700 directories, while a
    container holds state."""
    cid = unique_id("c1")
    env.plugin("p0")
    env.write_config(["p0"], runtime=rt.real)
    b = make_bundle(env.root / "b-c1", rootfs, ["/bin/true"],
                    [oci_bind(shared_source(env), "/data")])
    r = rt.run(True, "create", "--bundle", str(b), cid, config=env.config,
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, capture_output=False)
    assert r.returncode == 0
    try:
        seen = []
        for top, dirs, files in os.walk(env.state_dir):
            for name in [top] + [os.path.join(top, f) for f in files]:
                st = os.lstat(name)
                seen.append(os.path.relpath(name, env.state_dir))
                assert st.st_uid == 0 and st.st_mode & 0o077 == 0, \
                    f"{name}: uid {st.st_uid} mode {st.st_mode & 0o7777:o}"
        assert {f"containers/{cid}/journal", "plugins/p0.json"} <= set(seen), seen
    finally:
        assert rt.run(True, "delete", "--force", cid, config=env.config).returncode == 0
    assert env.calls() == ["p0:properties", "p0:attach", "p0:detach"]


@pytest.mark.parametrize("limit,works", [((256, 8192), True), ((64, 64), False)])
def test_hook_with_many_binds(env, limit, works):
    """mpp-hook pins too (a descriptor per mount while the chain answers): it raises its soft
    limit like mpp-runtime, and refuses before any plugin contact what cannot fit."""
    env.plugin("p0")
    env.write_config(["p0"])
    src = shared_source(env)
    cfg = json.dumps({"ociVersion": "1.0.2", "process": {"args": ["/bin/true"]},
                      "root": {"path": "rootfs"},
                      "mounts": [oci_bind(src, f"/mnt/{i}") for i in range(300)]})
    r = subprocess.run([HOOK, f"--mpp-config={env.config}", "precreate", "c1"], input=cfg,
                       capture_output=True, text=True, timeout=60, preexec_fn=nofile(*limit))
    assert r.returncode not in (86, 87), r.stderr
    if works:
        assert r.returncode == 0, r.stderr
        assert len(json.loads(r.stdout)["mounts"]) == 300
        r = subprocess.run([HOOK, f"--mpp-config={env.config}", "poststop"],
                           input=json.dumps({"id": "c1"}), capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 0, r.stderr
        assert env.calls() == ["p0:properties", "p0:attach", "p0:detach"]
    else:
        assert r.returncode == 1 and "container c1: 300 mounts: needs about" in r.stderr, \
            r.stderr
        assert env.calls() == []
    assert not env.cstate("c1").exists()
