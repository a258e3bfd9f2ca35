"""mpp-plugin-cow through mpp-runtime with real containers (crun and runc): the container writes
to an overlay, the host source stays byte-for-byte the same; keep mode; restarts; the emergency
path; bad configurations."""
import hashlib
import json
import os
import stat
import subprocess

import pytest

from mpp import BUILD, make_bundle, mounts_under, oci_bind, unique_id, wait_for

COW = BUILD / "plugins/cow/mpp-plugin-cow"
COW_LABELS = {"mpp.cow": "true"}


def start_cow(env, config=None, state=None):
    state = state or env.root / "cow-state"
    argv = [COW, "--socket", env.plugin_dir / "cow.sock", "--state-dir", state]
    if config is not None:
        path = env.root / "cow.json"
        path.write_text(json.dumps(config))
        argv += ["--config", path]
    log = env.root / "cow.stderr"
    served = log.read_text().count("serving on") if log.exists() else 0
    d = env.daemon("cow", argv)
    # A killed plugin leaves its socket behind: wait for this one to serve.
    wait_for(lambda: log.read_text().count("serving on") > served or d.proc.poll() is not None,
             what="cow to serve")
    d.state = state
    return d


def run(env, rt, rootfs, cid, args, mounts, labels=COW_LABELS):
    env.write_config(["cow"], runtime=rt.real)
    ann = {f"mpp.labels.{k}": v for k, v in (labels or {}).items()}
    b = make_bundle(env.root / f"b-{cid}", rootfs, list(args), mounts, annotations=ann or None)
    return rt.run(True, "run", "--bundle", str(b), cid, config=env.config)


def tree_digest(root):
    """Every entry's path, type, mode, owner, mtime and content (or link target)."""
    out = []
    for dirpath, dirs, files in os.walk(root):
        dirs.sort()
        for name in [""] + sorted(dirs) + sorted(files):
            p = os.path.join(dirpath, name) if name else dirpath
            st = os.lstat(p)
            rec = [os.path.relpath(p, root), stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode),
                   st.st_uid, st.st_gid, st.st_mtime_ns]
            if stat.S_ISREG(st.st_mode):
                rec.append(hashlib.sha256(open(p, "rb").read()).hexdigest())
            elif stat.S_ISLNK(st.st_mode):
                rec.append(os.readlink(p))
            out.append(rec)
    return out


def make_source(root):
    (root / "sub").mkdir(parents=True)
    (root / "keep").write_text("unchanged\n")
    (root / "mod").write_text("original\n")
    (root / "del").write_text("to delete\n")
    (root / "ren").write_text("to rename\n")
    (root / "sub" / "f").write_text("in sub\n")
    os.symlink("keep", root / "link")
    os.chown(root, 1000, 1000)
    os.chmod(root, 0o750)
    return root


# The container changes everything it can, then shows what it sees.
SCRIPT = ("echo new > /d/new && echo more >> /d/mod && rm /d/del && mv /d/ren /d/renamed && "
          "rm -r /d/sub && mkdir /d/dir && echo x > /d/dir/x && "
          "cat /d/new /d/mod /d/renamed /d/keep /d/link && ls /d && stat -c '%u %g %a' /d")
SEEN = ("new\noriginal\nmore\nto rename\nunchanged\nunchanged\n"
        "dir\nkeep\nlink\nmod\nnew\nrenamed\n1000 1000 750\n")


def cow_mounts(state):
    """cow's overlays under this test's state directory (other tests on the machine run cow
    too)."""
    return [m for m in mounts_under(state) if m[1] == "mpp-cow"]


def assert_clean(state, cid):
    assert cow_mounts(state) == []
    assert not (state / cid).exists() and not (state / f"{cid}.json").exists()


def test_host_source_is_unchanged_and_the_container_sees_its_writes(env, rootfs, rt):
    cid = unique_id("c1")
    src = make_source(env.root / "src")
    before = tree_digest(src)
    cow = start_cow(env)
    r = run(env, rt, rootfs, cid, ["/bin/sh", "-c", SCRIPT], [oci_bind(src, "/d")])
    assert (r.returncode, r.stdout) == (0, SEEN), r.stderr
    assert tree_digest(src) == before
    assert_clean(cow.state, cid)
    assert not (cow.state / "kept").exists()


def test_unlabelled_containers_are_not_selected_by_default(env, rootfs, rt):
    cid = unique_id("c1")
    src = make_source(env.root / "src")
    cow = start_cow(env)
    r = run(env, rt, rootfs, cid, ["/bin/sh", "-c", "echo direct > /d/new"],
            [oci_bind(src, "/d")], labels=None)
    assert r.returncode == 0, r.stderr
    assert (src / "new").read_text() == "direct\n"
    assert list(cow.state.iterdir()) == []


def check_kept(state, cid, src):
    diff = state / "kept" / cid / "0"
    assert (diff / "new").read_text() == "new\n"
    assert (diff / "mod").read_text() == "original\nmore\n"
    assert (diff / "renamed").read_text() == "to rename\n"
    for gone in ("del", "ren", "sub"):
        st = os.lstat(diff / gone)
        assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0, f"{gone} is not a whiteout"
    assert not (diff / "keep").exists()  # untouched files are not copied
    info = json.loads((state / "kept" / cid / "0.json").read_text())
    assert info["Source"] == str(src) and info["Destination"] == "/d" and info["ID"] == cid


@pytest.mark.parametrize("how", ["label", "config"])
def test_keep_mode_keeps_the_diff_with_whiteouts(env, rootfs, rt, how):
    cid = unique_id("k1")
    src = make_source(env.root / "src")
    before = tree_digest(src)
    labels = dict(COW_LABELS)
    if how == "label":
        labels["mpp.cow.keep"] = "true"
        cow = start_cow(env)
    else:
        cow = start_cow(env, {"keep": True})
    r = run(env, rt, rootfs, cid, ["/bin/sh", "-c", SCRIPT], [oci_bind(src, "/d")], labels)
    assert (r.returncode, r.stdout) == (0, SEEN), r.stderr
    assert tree_digest(src) == before
    assert_clean(cow.state, cid)
    check_kept(cow.state, cid, src)


def test_configured_patterns_and_read_only_mounts(env, rootfs, rt):
    cid = unique_id("p1")
    a = make_source(env.root / "a")
    b = make_source(env.root / "b")
    before = tree_digest(a)
    cow = start_cow(env, {"patterns": [{"Type": "bind", "Destination": [{"PathPrefix": "/cow"}]}]})
    r = run(env, rt, rootfs, cid,
            ["/bin/sh", "-c", "echo 1 > /cow/new && echo 2 > /plain/new && cat /cow-ro/keep"],
            [oci_bind(a, "/cow"), oci_bind(b, "/plain"), oci_bind(a, "/cow-ro", ro=True)],
            labels=None)
    assert r.returncode == 0, r.stderr
    assert tree_digest(a) == before and (b / "new").read_text() == "2\n"
    assert_clean(cow.state, cid)


def test_a_file_source_is_refused(env, rootfs, rt):
    cid = unique_id("f1")
    f = env.root / "file"
    f.write_text("x")
    start_cow(env)
    r = run(env, rt, rootfs, cid, ["/bin/true"], [oci_bind(f, "/f")])
    assert r.returncode != 0
    assert f'mount point plugin "cow" denied {f} -> /f: cow: {f} -> /f: the source is not a ' \
        'directory' in r.stderr, r.stderr
    assert cow_mounts(env.root) == []


def create_and_write(env, rt, rootfs, cid, src):
    env.write_config(["cow"], runtime=rt.real)
    b = make_bundle(env.root / f"b-{cid}", rootfs,
                    ["/bin/sh", "-c", "echo during > /d/new && cat /d/new > /d/seen"],
                    [oci_bind(src, "/d")], annotations={"mpp.labels.mpp.cow": "true"})
    r = rt.run(True, "create", "--bundle", str(b), cid, config=env.config,
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, capture_output=False)
    assert r.returncode == 0
    assert len(cow_mounts(env.root)) == 1


def start_and_delete(env, rt, cid):
    assert rt.run(True, "start", cid, config=env.config).returncode == 0
    wait_for(lambda: rt.state(cid) == "stopped", what="stopped")
    return rt.run(True, "delete", cid, config=env.config)


def test_plugin_restart_between_attach_and_detach(env, rootfs, rt):
    cid = unique_id("r1")
    src = make_source(env.root / "src")
    before = tree_digest(src)
    cow = start_cow(env, {"keep": True})
    create_and_write(env, rt, rootfs, cid, src)
    cow.kill()
    cow = start_cow(env, {"keep": True})  # must not touch the live overlay
    assert len(cow_mounts(cow.state)) == 1
    d = start_and_delete(env, rt, cid)
    assert d.returncode == 0, d.stderr
    assert tree_digest(src) == before
    assert_clean(cow.state, cid)
    # The container's writes happened (and were kept, as configured).
    assert (cow.state / f"kept/{cid}/0/seen").read_text() == "during\n"


def test_emergency_path_when_the_plugin_is_gone(env, rootfs, rt):
    cid = unique_id("e1")
    src = make_source(env.root / "src")
    before = tree_digest(src)
    cow = start_cow(env)
    create_and_write(env, rt, rootfs, cid, src)
    cow.kill()
    d = start_and_delete(env, rt, cid)
    assert "emergency" not in d.stderr or "failed" not in d.stderr, d.stderr
    # mpp ran the emergency actions: nothing mounted; the upper dir (not empty) remains.
    assert cow_mounts(cow.state) == []
    assert not (cow.state / cid / "0/merged").exists() and not (cow.state / cid / "0/work").exists()
    assert (cow.state / cid / "0/upper/new").exists()
    assert tree_digest(src) == before
    # The next start of the plugin finishes the teardown.
    cow = start_cow(env)
    assert_clean(cow.state, cid)


def test_detach_of_an_unknown_container_succeeds(env):
    import http.client
    import socket

    start_cow(env)

    class Conn(http.client.HTTPConnection):
        def connect(self):
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.connect(str(env.plugin_dir / "cow.sock"))

    for _ in range(2):
        c = Conn("localhost")
        c.request("POST", "/MountPointPlugin.MountPointDetach", body='{"ID": "never-seen"}')
        resp = c.getresponse()
        assert resp.status == 200 and json.loads(resp.read())["Success"] is True


BAD = [
    ('{"keep": "yes"}', "keep: expected true or false, got string"),
    ('{"kept": true}', 'unknown key "kept" (known keys: patterns, keep)'),
    ('{"patterns": {}}', "patterns: expected a list of patterns, got object"),
    ('{"patterns": []}', "patterns: the list is empty"),
    ('{"patterns": [{"Type": 3}]}', "patterns: "),
    ('{"keep": tru}', "line 1 column"),
]


@pytest.mark.parametrize("text,msg", BAD)
def test_bad_configuration_is_refused_at_start(env, text, msg):
    path = env.root / "bad.json"
    path.write_text(text)
    r = subprocess.run([str(COW), "--config", str(path), "--socket",
                        str(env.plugin_dir / "cow.sock"), "--state-dir", str(env.root / "st")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1, r.stderr
    assert f"mpp-plugin-cow: bad configuration: {path}: " in r.stderr and msg in r.stderr, r.stderr
    assert not (env.plugin_dir / "cow.sock").exists()


def test_bad_command_line(env):
    r = subprocess.run([str(COW), "--state-dir", "relative"], capture_output=True, text=True)
    assert r.returncode == 2 and "--state-dir must be an absolute path" in r.stderr
    r = subprocess.run([str(COW), "--socket"], capture_output=True, text=True)
    assert r.returncode == 2 and "option --socket needs a value" in r.stderr
    r = subprocess.run([str(COW), "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "usage: mpp-plugin-cow" in r.stdout
