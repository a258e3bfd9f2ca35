"""Source pinning (docs/security.md): a path swapped for a symbolic link after mpp and its plugins
judged it does not change what the container gets. Real containers, crun and runc; the swap is
made by the real runtime's wrapper (after mpp's checks, before the runtime mounts) or while a
plugin is still answering."""
import json
import os
import subprocess
import threading
from pathlib import Path

import pytest

from mpp import (BUILD, MPP_RUNTIME, bind_mount, make_bundle, mount_changes, mount_table, oci_bind,
                 unique_id, wait_for)

HOOK = BUILD / "src/hook/mpp-hook"


def tree(path, text):
    path.mkdir()
    (path / "f").write_text(text)
    return path


def swapping_runtime(env, rt, victim, target):
    """A runtime that swaps victim for a symlink to target, then runs the real one."""
    w = env.root / "swap-runtime"
    w.write_text(f"#!/bin/sh\nif [ ! -L '{victim}' ] && [ \"$1\" != delete ]; then "
                 f"mv '{victim}' '{victim}.orig' && ln -s '{target}' '{victim}'; fi\n"
                 f"exec {rt.real} \"$@\"\n")
    w.chmod(0o755)
    return w


def run_cat(env, rt, rootfs, src, cid=None):
    cid = cid or unique_id("c1")
    b = make_bundle(env.root / f"b-{cid}", rootfs, ["/bin/cat", "/data/f"], [oci_bind(src, "/data")])
    return rt.run(True, "run", "--bundle", str(b), cid, config=env.config)


def test_source_swapped_after_the_check_is_not_followed(env, rootfs, rt):
    src = tree(env.root / "src", "judged\n")
    secret = tree(env.root / "secret", "secret\n")
    env.plugin("p0")
    before = mount_table()
    env.write_config(["p0"], runtime=str(swapping_runtime(env, rt, src, secret)))
    r = run_cat(env, rt, rootfs, src)
    assert os.path.islink(src), "the wrapper did not swap: the test proves nothing"
    assert (r.returncode, r.stdout) == (0, "judged\n"), r.stderr
    assert env.calls() == ["p0:properties", "p0:attach", "p0:detach"]
    assert mount_changes(before, mount_table(), roots=(env.root,)) == (set(), set())
    assert list((env.state_dir / "pins").iterdir()) == []


def test_the_same_swap_without_plugins_is_the_runtimes_business(env, rootfs, rt):
    """The control: no plugin is consulted, mpp stays out of the way and the runtime follows the
    link it finds. (This is what the test above would see without pinning.)"""
    src = tree(env.root / "src", "judged\n")
    secret = tree(env.root / "secret", "secret\n")
    env.plugin("p0", "--patterns", "[]")
    env.write_config(["p0"], runtime=str(swapping_runtime(env, rt, src, secret)))
    r = run_cat(env, rt, rootfs, src)
    assert (r.returncode, r.stdout) == (0, "secret\n"), r.stderr


def test_policy_only_consulted_mount_is_pinned_too(env, rootfs, rt):
    """A plugin that judges without attaching (Attach: false, like the policy plugin) still
    pins: nothing is held afterwards, but the judged object is what is mounted."""
    cid = unique_id("c1")
    src = tree(env.root / "src", "judged\n")
    secret = tree(env.root / "secret", "secret\n")
    env.plugin("p0", "--attach", "no")
    env.write_config(["p0"], runtime=str(swapping_runtime(env, rt, src, secret)))
    r = run_cat(env, rt, rootfs, src, cid)
    assert (r.returncode, r.stdout) == (0, "judged\n"), r.stderr
    assert not env.cstate(cid).exists()


def test_effective_source_swapped_after_the_check_is_not_followed(env, rootfs, rt):
    src = tree(env.root / "src", "original\n")
    red = tree(env.root / "red", "redirected\n")
    secret = tree(env.root / "secret", "secret\n")
    env.plugin("p0", "--attach", f"redirect:{red}")
    env.write_config(["p0"], runtime=str(swapping_runtime(env, rt, red, secret)))
    r = run_cat(env, rt, rootfs, src)
    assert os.path.islink(red)
    assert (r.returncode, r.stdout) == (0, "redirected\n"), r.stderr


def swap_during_attach(env, victim, target):
    """Swap victim for a link while the plugin (slow) is answering the attach call."""
    def swap():
        wait_for(lambda: "p0:attach" in env.calls(), what="attach call")
        os.rename(victim, f"{victim}.orig")
        os.symlink(target, victim)
    t = threading.Thread(target=swap)
    t.start()
    return t


def test_source_swapped_while_the_plugin_answers(env, rootfs, rt):
    src = tree(env.root / "src", "judged\n")
    secret = tree(env.root / "secret", "secret\n")
    env.plugin("p0", "--fault", "attach:slow:700")
    env.write_config(["p0"], runtime=rt.real, call_timeout_ms=5000)
    t = swap_during_attach(env, src, secret)
    r = run_cat(env, rt, rootfs, src)
    t.join()
    assert os.path.islink(src)
    sent = env.records("attach")[0]["request"]["Mounts"][0]
    assert sent["Source"] == str(src)
    assert (r.returncode, r.stdout) == (0, "judged\n"), r.stderr


def test_hook_refuses_a_source_swapped_while_the_plugin_answers(env, rootfs, rt):
    """mpp-hook cannot hold the objects until the runtime mounts them: it refuses instead."""
    cid = unique_id("c1")
    src = tree(env.root / "src", "judged\n")
    secret = tree(env.root / "secret", "secret\n")
    env.plugin("p0", "--fault", "attach:slow:700")
    env.write_config(["p0"], call_timeout_ms=5000)
    b = make_bundle(env.root / "b", rootfs, ["/bin/true"], [oci_bind(src, "/data")])
    cfg = (b / "config.json").read_text()
    t = swap_during_attach(env, src, secret)
    r = subprocess.run([str(HOOK), f"--mpp-config={env.config}", "precreate", cid], input=cfg,
                       capture_output=True, text=True)
    t.join()
    assert r.returncode != 0
    assert f"mount /data: source {src} was replaced while the plugins were consulted" in r.stderr
    assert env.calls() == ["p0:properties", "p0:attach", "p0:detach"]
    assert not env.cstate(cid).exists()


def test_hook_writes_the_canonical_source(env, rootfs, rt):
    cid = unique_id("c1")
    real = tree(env.root / "real", "x\n")
    link = env.root / "link"
    os.symlink(real, link)
    env.plugin("p0")
    env.write_config(["p0"])
    b = make_bundle(env.root / "b", rootfs, ["/bin/true"], [oci_bind(link, "/data")])
    r = subprocess.run([str(HOOK), f"--mpp-config={env.config}", "precreate", cid],
                       input=(b / "config.json").read_text(), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert [m["source"] for m in out["mounts"] if m["destination"] == "/data"] == [str(real)]
    assert env.records("attach")[0]["request"]["Mounts"][0]["Source"] == str(real)


def test_magic_link_source_is_refused(env, rootfs, rt):
    cid = unique_id("c1")
    env.plugin("p0")
    env.write_config(["p0"], runtime=rt.real)
    before = mount_table()
    r = run_cat(env, rt, rootfs, f"/proc/{os.getpid()}/root/etc", cid)
    assert r.returncode == 1
    assert f"mount /data: cannot open source /proc/{os.getpid()}/root/etc: Too many levels of " \
        "symbolic links" in r.stderr, r.stderr
    # Judged, then refused: the plugin that attached is detached.
    assert env.calls() == ["p0:properties", "p0:attach", "p0:detach"]
    assert not env.cstate(cid).exists()
    assert mount_changes(before, mount_table(), roots=(env.root,)) == (set(), set())


def test_magic_link_source_no_plugin_selects_is_left_to_the_runtime(env, rootfs, rt):
    """mpp stays out of the way of a mount no plugin selects, even one it would not pin: what
    happens to it is the runtime's business (here, its own refusal to mount a magic link)."""
    cid_m1 = unique_id("m1")
    cid_m2 = unique_id("m2")
    env.plugin("p0", "--patterns", json.dumps([{"Destination": [{"Exactly": "/other"}]}]))
    env.write_config(["p0"], runtime=rt.real)
    host = env.root / "host"
    tree(host, "x\n")
    b = make_bundle(env.root / "b-m", rootfs, ["/bin/cat", "/data/f"],
                    [oci_bind(f"/proc/{os.getpid()}/root{host}", "/data")])
    r = rt.run(True, "run", "--bundle", str(b), cid_m1, config=env.config)
    bare = rt.run(False, "run", "--bundle", str(b), cid_m2)
    assert r.returncode == bare.returncode != 0
    assert "mpp-runtime:" not in r.stderr, r.stderr
    assert env.calls(("attach",)) == []


def test_one_bundle_for_several_containers_at_once(env, rootfs, rt):
    """Engines give each container its bundle, but runc allows one bundle for many: each
    mpp-runtime rewrites it for its runtime, and none is misled by another's pins."""
    src = tree(env.root / "src", "judged\n")
    env.plugin("p0")
    env.write_config(["p0"], runtime=rt.real)
    b = make_bundle(env.root / "b", rootfs, ["/bin/cat", "/data/f"], [oci_bind(src, "/data")],
                    own_cgroup=False)
    tag = unique_id("shared")
    procs = [subprocess.Popen(rt.cmd(True, "run", "--bundle", str(b), f"{tag}-{i}",
                                     config=env.config),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(6)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [(p.returncode, o) for p, (o, _) in zip(procs, outs)] == [(0, "judged\n")] * 6, outs
    assert len(env.records("detach")) == 6
    # The bundle is given back naming the real source: the bare runtime runs it too.
    mounts = json.loads((b / "config.json").read_text())["mounts"]
    assert [m["source"] for m in mounts if m["destination"] == "/data"] == [str(src)]
    r = rt.run(False, "run", "--bundle", str(b), unique_id("bare"))
    assert (r.returncode, r.stdout) == (0, "judged\n"), r.stderr
    assert run_cat(env, rt, rootfs, src, unique_id("again")).stdout == "judged\n"


def test_one_bundle_is_given_back_after_every_round(env, rootfs, rt):
    """Rounds of containers started at once from one bundle: after each round the bundle is the
    one written, byte for byte, and nothing of mpp's is left in it. (Remembering files by inode
    number once let a rewrite that reused a freed number pass for the original.)"""
    src = tree(env.root / "src", "judged\n")
    env.plugin("p0")
    env.write_config(["p0"], runtime=rt.real)
    b = make_bundle(env.root / "b", rootfs, ["/bin/cat", "/data/f"], [oci_bind(src, "/data")],
                    own_cgroup=False)
    original = (b / "config.json").read_bytes()
    tag = unique_id("r")
    for rnd in range(10):
        procs = [subprocess.Popen(rt.cmd(True, "run", "--bundle", str(b), f"{tag}-{rnd}-{i}",
                                         config=env.config),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for i in range(8)]
        outs = [p.communicate(timeout=120) for p in procs]
        assert [(p.returncode, o) for p, (o, _) in zip(procs, outs)] == [(0, "judged\n")] * 8, \
            (rnd, outs)
        assert (b / "config.json").read_bytes() == original, f"round {rnd}"
        assert sorted(p.name for p in b.iterdir()) == ["config.json"], f"round {rnd}"


def test_a_bundle_left_pinned_runs_again(env, rootfs, rt):
    """A bundle an mpp-runtime could not give back (killed before the runtime returned) names
    pins that exist nowhere: the next start goes back to the sources they stood for."""
    cid = unique_id("c1")
    src = tree(env.root / "src", "judged\n")
    env.plugin("p0")
    env.write_config(["p0"], runtime=rt.real)
    b = make_bundle(env.root / "b-c1", rootfs, ["/bin/cat", "/data/f"],
                    [oci_bind(env.state_dir / "pins/0", "/data")],
                    annotations={"mpp.pinned-source.0": "/nonexistent"})
    cfg = json.loads((b / "config.json").read_text())
    i = next(k for k, m in enumerate(cfg["mounts"]) if m["destination"] == "/data")
    cfg["annotations"] = {f"mpp.pinned-source.{i}": str(src)}
    (b / "config.json").write_text(json.dumps(cfg))
    r = rt.run(True, "run", "--bundle", str(b), cid, config=env.config)
    assert (r.returncode, r.stdout) == (0, "judged\n"), r.stderr
    assert env.records("attach")[0]["request"]["Mounts"][0]["Source"] == str(src)


def test_file_and_socket_sources_are_pinned_too(env, rootfs, rt):
    """A bind mount of a single file, and of a unix socket, through a consulted plugin."""
    cid = unique_id("c1")
    import socket
    f = env.root / "settings.conf"
    f.write_text("pinned file\n")
    sock_path = env.root / "app.sock"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(sock_path))
    try:
        env.plugin("p0")
        env.write_config(["p0"], runtime=rt.real)
        b = make_bundle(env.root / "b", rootfs,
                        ["/bin/sh", "-c", "cat /etc/settings.conf; test -S /run/app.sock && "
                                          "echo socket"],
                        [oci_bind(f, "/etc/settings.conf"), oci_bind(sock_path, "/run/app.sock")])
        r = rt.run(True, "run", "--bundle", str(b), cid, config=env.config)
        assert (r.returncode, r.stdout) == (0, "pinned file\nsocket\n"), r.stderr
        sent = env.records("attach")[0]["request"]["Mounts"]
        assert sorted(m["Source"] for m in sent) == sorted([str(f), str(sock_path)])
    finally:
        s.close()


def test_submounts_of_a_source_come_with_rbind(env, rootfs, rt):
    """The clone is recursive: an rbind of a pinned source still carries its submounts."""
    cid = unique_id("c1")
    src = tree(env.root / "src", "top\n")
    (src / "sub").mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "mpp-test-sub", str(src / "sub")],
                   check=True)
    try:
        (src / "sub/f").write_text("submount\n")
        env.plugin("p0")
        env.write_config(["p0"], runtime=rt.real)
        b = make_bundle(env.root / "b", rootfs, ["/bin/cat", "/data/f", "/data/sub/f"],
                        [oci_bind(src, "/data")])
        r = rt.run(True, "run", "--bundle", str(b), cid, config=env.config)
        assert (r.returncode, r.stdout) == (0, "top\nsubmount\n"), r.stderr
    finally:
        subprocess.run(["umount", str(src / "sub")], check=True)


# Races at each step of the chain. A plugin's --run-on-attach makes the racer's move while that
# plugin is answering, i.e. after the plugins before it judged the mount and before mpp goes on:
# deterministic, not timing-based. The protected directory is a fake /etc under the test's
# directory (with a MARKER file) or the real /etc (with its shadow file); a policy-like plugin
# refuses any mount whose source or effective source lies under it.

PEEK = ["/bin/sh", "-c", "test -e /data/MARKER && echo LEAK-marker; "
                         "test -e /data/shadow && echo LEAK-shadow; cat /data/f"]


def protected(env, target):
    if target == "etc":
        assert os.path.exists("/etc/shadow")
        return Path("/etc")
    t = env.root / "prot" / "etc"
    t.mkdir(parents=True)
    (t / "MARKER").write_text("protected\n")
    (t / "shadow").write_text("secret\n")
    return t


def policy(env, target):
    pats = [{"Source": [{"PathPrefix": str(target)}]},
            {"EffectiveSource": [{"PathPrefix": str(target)}]}]
    env.plugin("policy", "--patterns", json.dumps(pats), "--attach", f"deny:{target} is protected")


def run_peek(env, rt, rootfs, src, cid):
    b = make_bundle(env.root / f"b-{cid}", rootfs, PEEK, [oci_bind(src, "/data")])
    return rt.run(True, "run", "--bundle", str(b), cid, config=env.config)


def nothing_left(env, before, cid):
    # The pins live under the test's state directory: other tests on the machine mount too.
    assert mount_changes(before, mount_table(), roots=(env.root,)) == (set(), set())
    assert not env.cstate(cid).exists()
    pins = env.state_dir / "pins"
    assert not pins.exists() or list(pins.iterdir()) == []


@pytest.mark.parametrize("target", ["fake", "etc"])
@pytest.mark.parametrize("where", ["source", "redirect"])
def test_missing_path_planted_while_a_later_plugin_answers(env, rootfs, rt, where, target):
    """A source (or a plugin's EffectiveSource) that does not exist when it is judged stays
    missing: a link planted there while a later plugin answers is never opened."""
    prot = protected(env, target)
    src = tree(env.root / "src", "original\n")
    missing = env.root / "missing"
    plugins = []
    if where == "redirect":
        env.plugin("p0", "--attach", f"redirect:{missing}")
        plugins.append("p0")
    policy(env, prot)
    env.plugin("late", "--run-on-attach", f"ln -s '{prot}' '{missing}'")
    env.write_config(plugins + ["policy", "late"], runtime=rt.real)
    before = mount_table()
    cid = unique_id("pin")
    r = run_peek(env, rt, rootfs, missing if where == "source" else src, cid)
    assert os.path.islink(missing), "nothing was planted: the test proves nothing"
    assert "LEAK" not in r.stdout, r.stdout
    assert r.returncode == 1
    by = ' given by plugin "p0"' if where == "redirect" else ""
    orig = missing if where == "source" else src
    assert f"mount /data: effective source {missing}{by} does not exist (original source " \
        f"{orig}), and this mount does not create a missing source" in r.stderr, r.stderr
    sent = env.records("attach")[-1]["request"]["Mounts"][0]
    assert sent["EffectiveSource"] == str(missing)
    assert env.calls(("attach", "detach")) == \
        (["p0:attach"] if plugins else []) + ["late:attach", "late:detach"] + \
        (["p0:detach"] if plugins else [])
    nothing_left(env, before, cid)


def swap_command(victim, target):
    return f"mv '{victim}' '{victim}.orig' && ln -s '{target}' '{victim}'"


@pytest.mark.parametrize("target", ["fake", "etc"])
@pytest.mark.parametrize("part", ["whole", "parent"])
def test_redirect_target_swapped_after_the_policy_judged_it(env, rootfs, rt, part, target):
    """A plugin's EffectiveSource is pinned when it is handed on: swapping it (or one of its
    parent directories) for a link once the policy judged it changes nothing."""
    prot = protected(env, target)
    src = tree(env.root / "src", "original\n")
    if part == "whole":
        red = tree(env.root / "red", "redirected\n")
        victim, link_to = red, prot
    else:
        (env.root / "red").mkdir()
        red = tree(env.root / "red" / "etc", "redirected\n")
        victim, link_to = env.root / "red", prot.parent
    env.plugin("p0", "--attach", f"redirect:{red}")
    policy(env, prot)
    env.plugin("late", "--run-on-attach", swap_command(victim, link_to))
    env.write_config(["p0", "policy", "late"], runtime=rt.real)
    before = mount_table()
    cid = unique_id("pin")
    r = run_peek(env, rt, rootfs, src, cid)
    assert os.path.islink(victim), "nothing was swapped: the test proves nothing"
    assert os.path.realpath(red) == str(prot)
    assert "LEAK" not in r.stdout, r.stdout
    assert (r.returncode, r.stdout) == (0, "redirected\n"), r.stderr
    assert env.records("attach")[-1]["request"]["Mounts"][0]["EffectiveSource"] == str(red)
    assert env.calls(("attach", "detach")) == \
        ["p0:attach", "late:attach", "late:detach", "p0:detach"]
    nothing_left(env, before, cid)


@pytest.mark.parametrize("target", ["fake", "etc"])
def test_redirect_to_a_link_is_judged_where_it_leads(env, rootfs, rt, target):
    """The plugin after a redirect sees the canonical path of what was pinned: a redirect to a
    link to the protected directory is refused by the policy, as the protected path."""
    prot = protected(env, target)
    src = tree(env.root / "src", "original\n")
    link = env.root / "innocent"
    os.symlink(prot, link)
    env.plugin("p0", "--attach", f"redirect:{link}")
    policy(env, prot)
    env.write_config(["p0", "policy"], runtime=rt.real)
    before = mount_table()
    cid = unique_id("pin")
    r = run_peek(env, rt, rootfs, src, cid)
    assert "LEAK" not in r.stdout, r.stdout
    assert r.returncode == 1
    assert f'mount point plugin "policy" denied {src} -> /data: {prot} is protected' in r.stderr, \
        r.stderr
    assert env.records("attach")[-1]["request"]["Mounts"][0]["EffectiveSource"] == str(prot)
    assert env.calls(("attach", "detach")) == ["p0:attach", "policy:attach", "p0:detach"]
    nothing_left(env, before, cid)


def test_hook_refuses_a_redirect_target_swapped_while_a_later_plugin_answers(env, rootfs, rt):
    """mpp-hook's final check covers a plugin's EffectiveSource too: it must still name the
    object pinned when the plugin gave it."""
    cid = unique_id("c1")
    prot = protected(env, "fake")
    src = tree(env.root / "src", "original\n")
    red = tree(env.root / "red", "redirected\n")
    env.plugin("p0", "--attach", f"redirect:{red}")
    env.plugin("late", "--run-on-attach", swap_command(red, prot))
    env.write_config(["p0", "late"])
    b = make_bundle(env.root / "b", rootfs, ["/bin/true"], [oci_bind(src, "/data")])
    r = subprocess.run([str(HOOK), f"--mpp-config={env.config}", "precreate", cid],
                       input=(b / "config.json").read_text(), capture_output=True, text=True)
    assert r.returncode not in (86, 87), r.stderr
    assert os.path.islink(red)
    assert r.returncode != 0, r.stdout
    assert f"mount /data: effective source {red} was replaced while the plugins were " \
        "consulted" in r.stderr, r.stderr
    assert env.calls(("attach", "detach")) == \
        ["p0:attach", "late:attach", "late:detach", "p0:detach"]
    assert not env.cstate(cid).exists()


# CreateSourceIfMissing comes from the engine: mpp-runtime is run as Docker runs it (a --root
# under .../moby, and Docker's records of the container in /var/lib/docker), in a private mount
# namespace where /var/lib/docker is the test's own directory.

def run_as_docker(env, rt, rootfs, src, args, cid):
    droot = env.root / "docker"
    rec = droot / "containers" / cid
    rec.mkdir(parents=True)
    (rec / "config.v2.json").write_text("{}")
    (rec / "hostconfig.json").write_text(json.dumps({"Binds": [f"{src}:/data"]}))
    b = make_bundle(env.root / f"b-{cid}", rootfs, args, [oci_bind(src, "/data")])
    cmd = [MPP_RUNTIME, f"--mpp-config={env.config}", "--root",
           str(env.root / "moby" / os.path.basename(rt.real)), "run", "--bundle", str(b), cid]
    r = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                        'mount --bind "$0" /var/lib/docker && exec "$@"', str(droot)] + cmd,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode not in (86, 87), f"sanitizer report: {r.stderr}"
    return r


def test_missing_source_is_created_before_any_plugin_judges_it(env, rootfs, rt):
    new = env.root / "vol" / "new"
    env.plugin("p0", "--run-on-attach", f"test -d '{new}' && echo seen > '{new}/f'")
    env.write_config(["p0"], runtime=rt.real)
    before = mount_table()
    cid = unique_id("pin")
    r = run_as_docker(env, rt, rootfs, new, ["/bin/cat", "/data/f"], cid)
    assert (r.returncode, r.stdout) == (0, "seen\n"), r.stderr
    sent = env.records("attach")[0]["request"]["Mounts"][0]
    assert (sent["Source"], sent.get("CreateSourceIfMissing")) == (str(new), True)
    for d in (new, new.parent):
        assert os.lstat(d).st_mode & 0o7777 == 0o755
    nothing_left(env, before, cid)


@pytest.mark.parametrize("where", ["source", "redirect"])
def test_missing_source_is_not_created_through_a_link(env, rootfs, rt, where):
    """A link planted in a parent of a missing source (or of a plugin's missing EffectiveSource)
    before the chain: nothing is created where it points, and the start is refused."""
    prot = protected(env, "fake")
    os.symlink(prot, env.root / "vol")
    new = env.root / "vol" / "new"
    src = new
    plugins = []
    if where == "redirect":
        src = tree(env.root / "src", "original\n")
        env.plugin("p0", "--attach", f"redirect:{new}")
        plugins.append("p0")
    policy(env, prot)
    env.plugin("late")
    env.write_config(plugins + ["policy", "late"], runtime=rt.real)
    before = mount_table()
    cid = unique_id("pin")
    r = run_as_docker(env, rt, rootfs, src, PEEK, cid)
    assert not (prot / "new").exists(), "created through the link"
    assert "LEAK" not in r.stdout, r.stdout
    assert r.returncode == 1
    assert f"cannot create directory {new}: {env.root / 'vol'} is a symbolic link" in r.stderr, \
        r.stderr
    if where == "redirect":
        # Refused as p0 answered: no later plugin was asked.
        assert f'mount /data: effective source {new} given by plugin "p0": ' in r.stderr
        assert env.calls(("attach", "detach")) == ["p0:attach", "p0:detach"]
    else:
        assert env.calls(("attach", "detach")) == ["late:attach", "late:detach"]
    nothing_left(env, before, cid)


# The chain's system tests run mpp-chain-driver: it pins as mpp-runtime does, so that they test
# the path a real start takes.

def test_chain_driver_shows_plugins_the_canonical_source(env):
    target = tree(env.root / "target", "x\n")
    os.symlink(target, env.root / "link")
    env.plugin("p0")
    env.write_config(["p0"])
    r = env.attach("c1", [bind_mount(env.root / "link", "/data")], check=True)
    [rec] = env.records("attach")
    assert [(m["Source"], m["EffectiveSource"]) for m in rec["request"]["Mounts"]] == \
        [(str(target), str(target))]
    assert [m["Source"] for m in json.loads(r.stdout)] == [str(target)]
    assert env.detach("c1", 0)["complete"]


def test_chain_driver_refuses_a_magic_link_source_it_judged(env):
    env.plugin("p0")
    env.write_config(["p0"])
    src = f"/proc/{os.getpid()}/root{env.root}"
    before = mount_table()
    r = env.attach("c1", [bind_mount(src, "/data")])
    assert r.returncode == 1
    assert f"cannot open source {src}: Too many levels of symbolic links" in r.stderr, r.stderr
    # Judged, then refused: the plugin that attached is detached, nothing is left.
    assert env.calls() == ["p0:properties", "p0:attach", "p0:detach"]
    assert not env.cstate("c1").exists()
    assert mount_changes(before, mount_table(), roots=(env.root,)) == (set(), set())
