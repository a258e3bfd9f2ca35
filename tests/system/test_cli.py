"""mpp-runtime reads the command line as the real runtime does: crun's --config FILE is the
document judged (the runtime reads mpp's copy of it), the container ID is the real one whatever
options precede it, crun's delete --regex tears down every container it deletes, runc's run
--keep keeps the teardown for the delete, and forms crun and runc read differently are refused."""
import json
import os
import subprocess

import pytest

from mpp import RUNTIMES, make_bundle, make_rootfs, oci_bind, wait_for


def chain_config(env, rt, plugins):
    env.write_config(plugins, runtime=rt.real)
    return env.config


def crun_only(rt):
    if not rt.real.endswith("crun"):
        pytest.skip("crun's option")


def other_document(path, rootfs, mounts, args):
    """A config.json written somewhere else than in the bundle."""
    make_bundle(path.parent / "scratch", rootfs, args, mounts)
    path.parent.mkdir(parents=True, exist_ok=True)
    (path.parent / "scratch" / "config.json").rename(path)
    (path.parent / "scratch").rmdir()
    return path


# ---- crun's --config FILE ----

@pytest.mark.parametrize("form", ["relative", "absolute", "attached"])
def test_config_file_is_the_document_judged_and_run(env, rootfs, rt, form):
    """The plugin redirects the bind of the --config document, not of BUNDLE/config.json (which
    has no bind): the container sees the redirected source, so the runtime read what mpp
    rewrote; the plugins see the real ID. A relative FILE is found in the working directory (as
    crun does), not in the bundle."""
    crun_only(rt)
    src, red = env.root / "src", env.root / "red"
    for d, text in ((src, "original\n"), (red, "redirected\n")):
        d.mkdir()
        (d / "f").write_text(text)
    env.plugin("p0", "--attach", f"redirect:{red}")
    cfg = chain_config(env, rt, ["p0"])
    b = make_bundle(env.root / "b", rootfs, ["/bin/echo", "bundle's own config.json"])
    work = env.root / "work"
    doc = other_document(work / "conf" / "alt.json", rootfs, [oci_bind(src, "/data")],
                         ["/bin/cat", "/data/f"])
    given = doc.read_bytes()
    arg = {"relative": ["--config", "conf/alt.json"], "absolute": ["--config", str(doc)],
           "attached": ["--config=conf/alt.json"]}[form]
    r = rt.run(True, "run", "--bundle", str(b), *arg, "c-conf", config=cfg, cwd=work)
    assert (r.returncode, r.stdout) == (0, "redirected\n"), r.stderr
    assert [rec["request"]["ID"] for rec in env.records("attach")] == ["c-conf"]
    assert [rec["request"]["ID"] for rec in env.records("detach")] == ["c-conf"]
    # The file is left as given, nothing of mpp's is beside it or in the bundle.
    assert doc.read_bytes() == given
    assert sorted(p.name for p in doc.parent.iterdir()) == ["alt.json"]
    assert sorted(p.name for p in b.iterdir()) == ["config.json"]
    assert not env.cstate("c-conf").exists()


def test_a_relative_root_in_the_config_file_is_the_bundles(env, rootfs, rt):
    """crun takes a relative root.path of a --config FILE kept elsewhere against the bundle
    directory, not FILE's: mpp's copy names the bundle's root file system (a decoy beside FILE
    is not what runs), as bare crun does."""
    crun_only(rt)
    src = env.root / "src"
    src.mkdir()
    (src / "f").write_text("data\n")
    env.plugin("p0")
    cfg = chain_config(env, rt, ["p0"])
    b = make_bundle(env.root / "b", rootfs, ["/bin/echo", "bundle's own config.json"])
    work = env.root / "work"
    doc = other_document(work / "conf" / "alt.json", rootfs, [oci_bind(src, "/data")],
                         ["/bin/sh", "-c", "cat /which /data/f"])
    for d, which in ((b / "rootfs", "bundle\n"), (doc.parent / "rootfs", "decoy\n")):
        make_rootfs(d)
        (d / "which").write_text(which)
    text = json.loads(doc.read_text())
    text["root"]["path"] = "rootfs"
    doc.write_text(json.dumps(text))
    given = doc.read_bytes()
    bare = rt.run(False, "run", "--bundle", str(b), "--config", "conf/alt.json", "c-bare",
                  cwd=work)
    assert (bare.returncode, bare.stdout) == (0, "bundle\ndata\n"), bare.stderr
    err = env.root / "create.err"
    with open(err, "w") as out:
        r = rt.run(True, "create", "--bundle", str(b), "--config", "conf/alt.json", "c-root",
                   config=cfg, cwd=work, stdout=out, stderr=out, capture_output=False)
    assert r.returncode == 0, err.read_text()
    try:
        copies = list((env.state_dir / "bundles" / "c-root").iterdir())
        assert len(copies) == 1
        copy = json.loads((copies[0] / "config.json").read_text())
        assert copy["root"]["path"] == str(b / "rootfs")
        assert (copies[0] / "origin").read_text() == str(b)
    finally:
        assert rt.run(True, "delete", "--force", "c-root", config=cfg).returncode == 0
    r = rt.run(True, "run", "--bundle", str(b), "--config", "conf/alt.json", "c-root",
               config=cfg, cwd=work)
    assert (r.returncode, r.stdout) == (0, "bundle\ndata\n"), r.stderr
    assert doc.read_bytes() == given
    assert [rec["request"]["ID"] for rec in env.records("detach")] == ["c-root", "c-root"]
    assert list((env.state_dir / "bundles").iterdir()) == []


def test_config_file_without_plugins_goes_to_crun_untouched(env, rootfs, rt):
    """No plugin configured: mpp-runtime is crun, --config FILE and all; no copy is made."""
    crun_only(rt)
    src = env.root / "src"
    src.mkdir()
    (src / "f").write_text("file's\n")
    b = make_bundle(env.root / "b", rootfs, ["/bin/echo", "bundle's own config.json"])
    work = env.root / "work"
    other_document(work / "conf" / "alt.json", rootfs, [oci_bind(src, "/data")],
                   ["/bin/cat", "/data/f"])
    r = rt.run(True, "run", "--bundle", str(b), "--config", "conf/alt.json", "c-none", cwd=work)
    assert (r.returncode, r.stdout) == (0, "file's\n"), r.stderr
    assert not env.state_dir.exists() or not (env.state_dir / "bundles").exists()


def test_config_json_is_the_bundles(env, rootfs, rt):
    """--config config.json (crun's own test suite starts every container so) is the bundle's
    file, not the one in the working directory: a decoy there binding /etc is not what runs."""
    crun_only(rt)
    src = env.root / "src"
    src.mkdir()
    (src / "f").write_text("bundle\n")
    env.plugin("p0")
    cfg = chain_config(env, rt, ["p0"])
    b = make_bundle(env.root / "b", rootfs, ["/bin/cat", "/data/f"], [oci_bind(src, "/data")])
    work = env.root / "work"
    other_document(work / "config.json", rootfs, [oci_bind("/etc", "/data")],
                   ["/bin/cat", "/data/hostname"])
    r = rt.run(True, "run", "--config", "config.json", "--bundle", str(b), "c-json", config=cfg,
               cwd=work)
    assert (r.returncode, r.stdout) == (0, "bundle\n"), r.stderr
    attach = env.records("attach")
    assert [a["request"]["ID"] for a in attach] == ["c-json"]
    assert [m["Source"] for m in attach[0]["request"]["Mounts"]] == [str(src)]


@pytest.mark.parametrize("where", ["config/config.json", "alt.json", "absolute"])
def test_config_file_with_a_denied_bind_is_refused(env, rootfs, rt, where):
    """BUNDLE/config.json is harmless; the --config file binds /etc, which the policy denies:
    the start is refused under the real ID, nothing is created, nothing is left. (Before, a
    FILE named like an ID, alt.json, was taken for the ID: the harmless file was judged and
    crun mounted /etc.)"""
    crun_only(rt)
    env.plugin("policy", "--attach", "deny:path /etc is protected")
    cfg = chain_config(env, rt, ["policy"])
    b = make_bundle(env.root / "b", rootfs, ["/bin/true"])
    name = "config/config.json" if where == "absolute" else where
    doc = other_document(b / name, rootfs, [oci_bind("/etc", "/data")],
                         ["/bin/cat", "/data/hostname"])
    arg = str(doc) if where == "absolute" else where
    before = sorted(p.name for p in doc.parent.iterdir())
    err = env.root / "create.err"
    try:
        # A container created would hold a pipe open: its output goes to a file.
        with open(err, "w") as out:
            r = rt.run(True, "create", "--config", arg, "c-deny", config=cfg, cwd=b,
                       stdout=out, stderr=out, capture_output=False)
        assert r.returncode != 0
        assert 'plugin "policy" denied /etc -> /data: path /etc is protected' in err.read_text()
        assert [a["request"]["ID"] for a in env.records("attach")] == ["c-deny"]
        assert rt.state("c-deny") is None
        assert not env.cstate("c-deny").exists()
        assert sorted(p.name for p in doc.parent.iterdir()) == before
    finally:
        rt.run(False, "delete", "--force", "c-deny")


def test_missing_config_file_is_a_clear_error(env, rootfs, rt):
    crun_only(rt)
    env.plugin("p0")
    cfg = chain_config(env, rt, ["p0"])
    b = make_bundle(env.root / "b", rootfs, ["/bin/true"])
    r = rt.run(True, "create", "--bundle", str(b), "--config", "nowhere.json", "c-miss",
               config=cfg, cwd=b)
    assert r.returncode != 0
    assert "c-miss" in r.stderr and "nowhere.json" in r.stderr
    assert rt.state("c-miss") is None and not env.cstate("c-miss").exists()


def test_config_file_that_is_a_symlink_is_refused(env, rootfs, rt):
    """As for BUNDLE/config.json, mpp does not judge a file through a symbolic link: the start
    is refused, the link's target untouched. A symlinked directory on the way is resolved, as
    crun does."""
    crun_only(rt)
    src = env.root / "src"
    src.mkdir()
    env.plugin("p0")
    cfg = chain_config(env, rt, ["p0"])
    b = make_bundle(env.root / "b", rootfs, ["/bin/true"])
    target = other_document(env.root / "elsewhere" / "target.json", rootfs,
                            [oci_bind(src, "/data")], ["/bin/true"])
    given = target.read_bytes()
    (b / "link.json").symlink_to(target)
    r = rt.run(True, "run", "--bundle", str(b), "--config", "link.json", "c-link", config=cfg,
               cwd=b)
    assert r.returncode == 1
    assert "c-link" in r.stderr and "symbolic link" in r.stderr
    assert env.calls() == [] and rt.state("c-link") is None
    assert target.read_bytes() == given
    assert sorted(p.name for p in target.parent.iterdir()) == ["target.json"]
    # Through a symlinked directory: judged, and run.
    (b / "dirlink").symlink_to(target.parent)
    r = rt.run(True, "run", "--bundle", str(b), "--config", "dirlink/target.json", "c-dir",
               config=cfg, cwd=b)
    assert r.returncode == 0, r.stderr
    assert [a["request"]["ID"] for a in env.records("attach")] == ["c-dir"]
    assert target.read_bytes() == given


def test_runc_refuses_config_and_nothing_is_left(env, rootfs, rt):
    """runc has no --config: its refusal stands, and a plugin attached meanwhile is detached."""
    if not rt.real.endswith("runc"):
        pytest.skip("runc's refusal")
    src = env.root / "src"
    src.mkdir()
    env.plugin("p0")
    cfg = chain_config(env, rt, ["p0"])
    b = make_bundle(env.root / "b", rootfs, ["/bin/true"], [oci_bind(src, "/data")])
    bare = rt.run(False, "create", "--bundle", str(b), "--config", "config.json", "c-bare")
    r = rt.run(True, "create", "--bundle", str(b), "--config", "config.json", "c-runc",
               config=cfg)
    assert bare.returncode != 0 and r.returncode == bare.returncode
    assert "config" in r.stderr
    assert rt.state("c-runc") is None and not env.cstate("c-runc").exists()
    assert env.calls(("attach", "detach")) in ([], ["p0:attach", "p0:detach"])


# ---- the ID behind every value-taking option ----

def test_id_is_the_real_one_behind_value_options(env, rootfs, rt, tmp_path):
    src = env.root / "src"
    src.mkdir()
    env.plugin("p0")
    cfg = chain_config(env, rt, ["p0"])
    b = make_bundle(env.root / "b", rootfs, ["/bin/true"], [oci_bind(src, "/data")])
    r = rt.run(True, "--log", str(tmp_path / "log.json"), "--log-format", "json", "run",
               "--pid-file", str(tmp_path / "pid"), "--preserve-fds", "0", "--bundle", str(b),
               "--no-new-keyring", "c-opts", config=cfg)
    assert r.returncode == 0, r.stderr
    assert [rec["request"]["ID"] for rec in env.records("attach") + env.records("detach")] == \
        ["c-opts", "c-opts"]


@pytest.mark.parametrize("words", [["-df", "x"], ["-bundle", "B"], ["--detach=false"],
                                   ["--frobnicate", "x"], ["--p", "x"]])
def test_forms_read_differently_are_refused(env, rootfs, rt, words):
    src = env.root / "src"
    src.mkdir()
    env.plugin("p0")
    cfg = chain_config(env, rt, ["p0"])
    b = make_bundle(env.root / "b", rootfs, ["/bin/true"], [oci_bind(src, "/data")])
    words = [str(b) if w == "B" else w for w in words]
    r = rt.run(True, "run", "--bundle", str(b), *words, "c-bad", config=cfg)
    assert r.returncode == 1
    assert words[0] in r.stderr
    assert env.calls() == [] and rt.state("c-bad") is None


# ---- crun's delete --regex ----

def create(rt, cfg, b, cid, root=None):
    args = ["create", "--bundle", str(b), cid]
    cmd = rt.cmd(True, *args, config=cfg)
    if root:
        cmd[cmd.index("--root") + 1] = str(root)
    # The container keeps what it inherits: no pipe, or reading it would wait for its end.
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    assert r.returncode == 0, f"{cid}: create failed"


def test_delete_regex_tears_down_every_container_deleted(env, rootfs, rt):
    """crun deletes every container of its root whose ID the POSIX extended regex matches
    (anywhere in the ID): each gets its teardown, once. A container it does not match, and one
    of another runtime root that it matches, stay attached."""
    crun_only(rt)
    src = env.root / "src"
    src.mkdir()
    env.plugin("p0")
    cfg = chain_config(env, rt, ["p0"])
    b = make_bundle(env.root / "b", rootfs, ["/bin/sleep", "1000"], [oci_bind(src, "/data")],
                    own_cgroup=False)  # several containers at once
    # No mount a plugin could be shown: no journal, only mpp's copy of the bundle.
    bare = make_bundle(env.root / "bare", rootfs, ["/bin/sleep", "1000"])
    other_root = env.root / "other-root"
    for cid in ("rx-a1", "rx-a22", "keep-b"):
        create(rt, cfg, b, cid)
    create(rt, cfg, bare, "rx-a4")
    create(rt, cfg, b, "rx-a3", root=other_root)
    env.clear_log()
    copies = env.state_dir / "bundles"
    try:
        assert not env.cstate("rx-a4").exists() and (copies / "rx-a4").exists()
        r = rt.run(True, "delete", "--force", "--regex", "^rx-a[0-9]+$", config=cfg)
        assert r.returncode == 0, r.stderr
        detached = sorted(rec["request"]["ID"] for rec in env.records("detach"))
        assert detached == ["rx-a1", "rx-a22"]
        assert rt.state("rx-a1") is None and rt.state("rx-a22") is None
        assert rt.state("rx-a4") is None
        assert not env.cstate("rx-a1").exists() and not env.cstate("rx-a22").exists()
        # Each deleted container's bundle copy goes with it; the others' stay.
        assert sorted(p.name for p in copies.iterdir()) == ["keep-b", "rx-a3"]
        assert rt.state("keep-b") == "created" and env.cstate("keep-b").exists()
        assert env.cstate("rx-a3").exists()
        # Again: nothing left to match, nothing detached twice.
        r = rt.run(True, "delete", "--force", "-r", "rx-a", config=cfg)
        assert r.returncode == 0, r.stderr
        assert len(env.records("detach")) == 2
    finally:
        rt.run(True, "delete", "--force", "keep-b", config=cfg)
        cmd = rt.cmd(True, "delete", "--force", "rx-a3", config=cfg)
        cmd[cmd.index("--root") + 1] = str(other_root)
        subprocess.run(cmd, capture_output=True, timeout=60)
    assert sorted(rec["request"]["ID"] for rec in env.records("detach")) == \
        ["keep-b", "rx-a1", "rx-a22", "rx-a3"]
    assert list(copies.iterdir()) == []


def test_delete_regex_on_runc_is_runcs_error(env, rootfs, rt):
    """runc has no --regex: mpp passes the command on, runc's refusal stands, nothing is torn
    down."""
    if not rt.real.endswith("runc"):
        pytest.skip("runc's refusal")
    src = env.root / "src"
    src.mkdir()
    env.plugin("p0")
    cfg = chain_config(env, rt, ["p0"])
    b = make_bundle(env.root / "b", rootfs, ["/bin/sleep", "1000"], [oci_bind(src, "/data")])
    create(rt, cfg, b, "rx-r1")
    try:
        bare = rt.run(False, "delete", "--force", "--regex", "rx-r")
        r = rt.run(True, "delete", "--force", "--regex", "rx-r", config=cfg)
        assert bare.returncode != 0 and r.returncode == bare.returncode
        assert "regex" in r.stderr
        assert env.calls(("detach",)) == []
        assert rt.state("rx-r1") == "created" and env.cstate("rx-r1").exists()
    finally:
        assert rt.run(True, "delete", "--force", "rx-r1", config=cfg).returncode == 0
    assert env.calls(("detach",)) == ["p0:detach"]


# ---- runc's run --keep ----

def test_run_keep_tears_down_at_delete(env, rootfs, rt):
    """runc run --keep leaves the exited container for a later delete: the plugins stay
    attached until then, whatever the exit status."""
    if not rt.real.endswith("runc"):
        pytest.skip("runc's option")
    src = env.root / "src"
    src.mkdir()
    env.plugin("p0")
    cfg = chain_config(env, rt, ["p0"])
    for status in (0, 3, "no bind"):
        mounts = [] if status == "no bind" else [oci_bind(src, "/data")]
        code = 4 if status == "no bind" else status
        b = make_bundle(env.root / f"b{code}", rootfs, ["/bin/sh", "-c", f"exit {code}"], mounts)
        cid = f"c-keep{code}"
        env.clear_log()
        r = rt.run(True, "run", "--keep", "--bundle", str(b), cid, config=cfg)
        assert r.returncode == code, r.stderr
        assert rt.state(cid) == "stopped"
        assert env.calls(("detach",)) == []
        if status == "no bind":
            # No plugin holds anything: nothing to tear down, only the copy to remove.
            assert not env.cstate(cid).exists()
        else:
            assert env.cstate(cid).exists()
        # The runtime's bundle, mpp's copy, stays for the delete too.
        copies = list((env.state_dir / "bundles" / cid).iterdir())
        assert [json.loads(rt.run(False, "state", cid).stdout)["bundle"]] == \
            [str(c) for c in copies]
        assert rt.run(True, "delete", cid, config=cfg).returncode == 0
        assert env.calls(("detach",)) == ([] if status == "no bind" else ["p0:detach"])
        assert not env.cstate(cid).exists()
        assert not (env.state_dir / "bundles" / cid).exists()
