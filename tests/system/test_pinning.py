"""Source pinning (docs/security.md): a path swapped for a symbolic link after mpp and its plugins
judged it does not change what the container gets. Real containers, crun and runc; the swap is
made by the real runtime's wrapper (after mpp's checks, before the runtime mounts) or while a
plugin is still answering."""
import json
import os
import subprocess
import threading

from mpp import BUILD, make_bundle, mount_changes, mount_table, oci_bind, wait_for

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


def run_cat(env, rt, rootfs, src, cid="c1"):
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
    assert mount_changes(before, mount_table(), roots=(env.root,), words=("mpp",)) == \
        (set(), set())
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
    src = tree(env.root / "src", "judged\n")
    secret = tree(env.root / "secret", "secret\n")
    env.plugin("p0", "--attach", "no")
    env.write_config(["p0"], runtime=str(swapping_runtime(env, rt, src, secret)))
    r = run_cat(env, rt, rootfs, src)
    assert (r.returncode, r.stdout) == (0, "judged\n"), r.stderr
    assert not env.cstate("c1").exists()


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
    src = tree(env.root / "src", "judged\n")
    secret = tree(env.root / "secret", "secret\n")
    env.plugin("p0", "--fault", "attach:slow:700")
    env.write_config(["p0"], call_timeout_ms=5000)
    b = make_bundle(env.root / "b", rootfs, ["/bin/true"], [oci_bind(src, "/data")])
    cfg = (b / "config.json").read_text()
    t = swap_during_attach(env, src, secret)
    r = subprocess.run([str(HOOK), f"--mpp-config={env.config}", "precreate", "c1"], input=cfg,
                       capture_output=True, text=True)
    t.join()
    assert r.returncode != 0
    assert f"mount /data: source {src} was replaced while the plugins were consulted" in r.stderr
    assert env.calls() == ["p0:properties", "p0:attach", "p0:detach"]
    assert not env.cstate("c1").exists()


def test_hook_writes_the_canonical_source(env, rootfs, rt):
    real = tree(env.root / "real", "x\n")
    link = env.root / "link"
    os.symlink(real, link)
    env.plugin("p0")
    env.write_config(["p0"])
    b = make_bundle(env.root / "b", rootfs, ["/bin/true"], [oci_bind(link, "/data")])
    r = subprocess.run([str(HOOK), f"--mpp-config={env.config}", "precreate", "c1"],
                       input=(b / "config.json").read_text(), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert [m["source"] for m in out["mounts"] if m["destination"] == "/data"] == [str(real)]
    assert env.records("attach")[0]["request"]["Mounts"][0]["Source"] == str(real)


def test_magic_link_source_is_refused(env, rootfs, rt):
    env.plugin("p0")
    env.write_config(["p0"], runtime=rt.real)
    before = mount_table()
    r = run_cat(env, rt, rootfs, f"/proc/{os.getpid()}/root/etc")
    assert r.returncode == 1
    assert f"mount /data: cannot open source /proc/{os.getpid()}/root/etc: Too many levels of " \
        "symbolic links" in r.stderr, r.stderr
    # Judged, then refused: the plugin that attached is detached.
    assert env.calls() == ["p0:properties", "p0:attach", "p0:detach"]
    assert not env.cstate("c1").exists()
    assert mount_changes(before, mount_table(), roots=(env.root,), words=("mpp",)) == \
        (set(), set())


def test_magic_link_source_no_plugin_selects_is_left_to_the_runtime(env, rootfs, rt):
    """mpp stays out of the way of a mount no plugin selects, even one it would not pin: what
    happens to it is the runtime's business (here, its own refusal to mount a magic link)."""
    env.plugin("p0", "--patterns", json.dumps([{"Destination": [{"Exactly": "/other"}]}]))
    env.write_config(["p0"], runtime=rt.real)
    host = env.root / "host"
    tree(host, "x\n")
    b = make_bundle(env.root / "b-m", rootfs, ["/bin/cat", "/data/f"],
                    [oci_bind(f"/proc/{os.getpid()}/root{host}", "/data")])
    r = rt.run(True, "run", "--bundle", str(b), "m1", config=env.config)
    bare = rt.run(False, "run", "--bundle", str(b), "m2")
    assert r.returncode == bare.returncode != 0
    assert "mpp-runtime:" not in r.stderr, r.stderr
    assert env.calls(("attach",)) == []


def test_one_bundle_for_several_containers_at_once(env, rootfs, rt):
    """Engines give each container its bundle, but runc allows one bundle for many: each
    mpp-runtime rewrites it for its runtime, and none is misled by another's pins."""
    src = tree(env.root / "src", "judged\n")
    env.plugin("p0")
    env.write_config(["p0"], runtime=rt.real)
    b = make_bundle(env.root / "b", rootfs, ["/bin/cat", "/data/f"], [oci_bind(src, "/data")])
    procs = [subprocess.Popen(rt.cmd(True, "run", "--bundle", str(b), f"c{i}",
                                     config=env.config),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(6)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [(p.returncode, o) for p, (o, _) in zip(procs, outs)] == [(0, "judged\n")] * 6, outs
    assert len(env.records("detach")) == 6
    # The bundle is given back naming the real source: the bare runtime runs it too.
    mounts = json.loads((b / "config.json").read_text())["mounts"]
    assert [m["source"] for m in mounts if m["destination"] == "/data"] == [str(src)]
    r = rt.run(False, "run", "--bundle", str(b), "bare")
    assert (r.returncode, r.stdout) == (0, "judged\n"), r.stderr
    assert run_cat(env, rt, rootfs, src, "again").stdout == "judged\n"


def test_one_bundle_is_given_back_after_every_round(env, rootfs, rt):
    """Rounds of containers started at once from one bundle: after each round the bundle is the
    one written, byte for byte, and nothing of mpp's is left in it. (Remembering files by inode
    number once let a rewrite that reused a freed number pass for the original.)"""
    src = tree(env.root / "src", "judged\n")
    env.plugin("p0")
    env.write_config(["p0"], runtime=rt.real)
    b = make_bundle(env.root / "b", rootfs, ["/bin/cat", "/data/f"], [oci_bind(src, "/data")])
    original = (b / "config.json").read_bytes()
    for rnd in range(10):
        procs = [subprocess.Popen(rt.cmd(True, "run", "--bundle", str(b), f"r{rnd}-{i}",
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
    r = rt.run(True, "run", "--bundle", str(b), "c1", config=env.config)
    assert (r.returncode, r.stdout) == (0, "judged\n"), r.stderr
    assert env.records("attach")[0]["request"]["Mounts"][0]["Source"] == str(src)


def test_file_and_socket_sources_are_pinned_too(env, rootfs, rt):
    """A bind mount of a single file, and of a unix socket, through a consulted plugin."""
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
        r = rt.run(True, "run", "--bundle", str(b), "c1", config=env.config)
        assert (r.returncode, r.stdout) == (0, "pinned file\nsocket\n"), r.stderr
        sent = env.records("attach")[0]["request"]["Mounts"]
        assert sorted(m["Source"] for m in sent) == sorted([str(f), str(sock_path)])
    finally:
        s.close()


def test_submounts_of_a_source_come_with_rbind(env, rootfs, rt):
    """The clone is recursive: an rbind of a pinned source still carries its submounts."""
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
        r = rt.run(True, "run", "--bundle", str(b), "c1", config=env.config)
        assert (r.returncode, r.stdout) == (0, "top\nsubmount\n"), r.stderr
    finally:
        subprocess.run(["umount", str(src / "sub")], check=True)
