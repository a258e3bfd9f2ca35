"""mpp-plugin-idmap through mpp-runtime with real containers (crun and runc): owners mapped by an
idmapped mount (host 1000 seen as 0 in the container, and back), unmapped ids as the overflow
id, a filesystem that refuses idmapping, restarts, the emergency path, bad configurations."""
import json
import os
import subprocess

import pytest

from mpp import BUILD, make_bundle, oci_bind, unique_id, wait_for

IDMAP = BUILD / "plugins/idmap/mpp-plugin-idmap"


def start_idmap(env, config, state=None):
    state = state or env.root / "idmap-state"
    path = env.root / "idmap.json"
    path.write_text(json.dumps(config))
    argv = [IDMAP, "--socket", env.plugin_dir / "idmap.sock", "--state-dir", state,
            "--config", path]
    log = env.root / "idmap.stderr"
    served = log.read_text().count("serving on") if log.exists() else 0
    d = env.daemon("idmap", argv)
    # A killed plugin leaves its socket behind: wait for this one to serve.
    wait_for(lambda: log.read_text().count("serving on") > served or d.proc.poll() is not None,
             what="idmap to serve")
    d.state = state
    return d


def mapping(prefix=None, labels=None, uid=None, gid=None):
    m = {"match": {}, "uid": uid or [{"host": 1000, "container": 0, "count": 1}]}
    if prefix:
        m["match"]["source_prefix"] = str(prefix)
    if labels:
        m["match"]["labels"] = labels
    if gid:
        m["gid"] = gid
    return m


def make_source(root):
    root.mkdir()
    (root / "mine").write_text("owned by 1000\n")
    (root / "other").write_text("owned by 5\n")
    os.chown(root, 1000, 1000)
    os.chown(root / "mine", 1000, 1000)
    os.chown(root / "other", 5, 5)
    return root


def idmap_mounts(state):
    return [l for l in open("/proc/self/mountinfo") if f" {state}/" in l]


def assert_clean(state):
    assert idmap_mounts(state) == []
    assert list(state.iterdir()) == []


def run(env, rt, rootfs, cid, script, mounts, labels=None):
    env.write_config(["idmap"], runtime=rt.real)
    ann = {f"mpp.labels.{k}": v for k, v in (labels or {}).items()}
    b = make_bundle(env.root / f"b-{cid}", rootfs, ["/bin/sh", "-c", script], mounts,
                    annotations=ann or None)
    return rt.run(True, "run", "--bundle", str(b), cid, config=env.config)


SCRIPT = ("stat -c '%u %g' /d /d/mine /d/other && echo new > /d/new && mkdir /d/dir && "
          "stat -c '%u %g' /d/new")


def test_host_1000_is_container_root_and_back(env, rootfs, rt):
    src = make_source(env.root / "src")
    im = start_idmap(env, {"mappings": [mapping(prefix=src)]})
    r = run(env, rt, rootfs, "i1", SCRIPT, [oci_bind(src, "/d")])
    # Unmapped ids (5) appear as the overflow id.
    assert (r.returncode, r.stdout) == (0, "0 0\n0 0\n65534 65534\n0 0\n"), r.stderr
    for name in ("new", "dir"):
        st = os.stat(src / name)
        assert (st.st_uid, st.st_gid) == (1000, 1000), name
    assert_clean(im.state)


def test_separate_gid_map_and_ranges(env, rootfs, rt):
    src = make_source(env.root / "src")
    os.chown(src / "other", 2005, 3007)
    im = start_idmap(env, {"mappings": [mapping(
        prefix=src, uid=[{"host": 1000, "container": 0}, {"host": 2000, "container": 100,
                                                          "count": 10}],
        gid=[{"host": 1000, "container": 0}, {"host": 3000, "container": 300, "count": 10}])]})
    r = run(env, rt, rootfs, "i2", "stat -c '%u %g' /d/other", [oci_bind(src, "/d")])
    assert (r.returncode, r.stdout) == (0, "105 307\n"), r.stderr
    assert_clean(im.state)


def test_label_rule_and_unselected_mounts(env, rootfs, rt):
    src = make_source(env.root / "src")
    im = start_idmap(env, {"mappings": [mapping(labels={"mpp.idmap": "web"})]})
    r = run(env, rt, rootfs, "l1", "stat -c %u /d/mine", [oci_bind(src, "/d")],
            labels={"mpp.idmap": "web"})
    assert (r.returncode, r.stdout) == (0, "0\n"), r.stderr
    r = run(env, rt, rootfs, "l2", "stat -c %u /d/mine", [oci_bind(src, "/d")],
            labels={"mpp.idmap": "db"})
    assert (r.returncode, r.stdout) == (0, "1000\n"), r.stderr
    assert_clean(im.state)


def test_file_source(env, rootfs, rt):
    src = make_source(env.root / "src")
    im = start_idmap(env, {"mappings": [mapping(prefix=src)]})
    r = run(env, rt, rootfs, "f1", "stat -c %u /f && cat /f", [oci_bind(src / "mine", "/f")])
    assert (r.returncode, r.stdout) == (0, "0\nowned by 1000\n"), r.stderr
    assert_clean(im.state)


def test_refusing_filesystem_is_a_clear_denial(env, rootfs, rt):
    cid = unique_id("p1")
    im = start_idmap(env, {"mappings": [mapping(prefix="/proc")]})
    r = run(env, rt, rootfs, cid, "true", [oci_bind("/proc/sys", "/x", ro=True)])
    assert r.returncode != 0
    assert ('mount point plugin "idmap" denied /proc/sys -> /x: idmap: /proc/sys is on proc, '
            'which does not support idmapped mounts') in r.stderr, r.stderr
    assert_clean(im.state)


def create(env, rt, rootfs, cid, src):
    env.write_config(["idmap"], runtime=rt.real)
    b = make_bundle(env.root / f"b-{cid}", rootfs,
                    ["/bin/sh", "-c", "stat -c %u /d/mine > /d/seen && echo x > /d/made"],
                    [oci_bind(src, "/d")])
    r = rt.run(True, "create", "--bundle", str(b), cid, config=env.config,
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, capture_output=False)
    assert r.returncode == 0


def start_and_delete(env, rt, cid):
    assert rt.run(True, "start", cid, config=env.config).returncode == 0
    wait_for(lambda: rt.state(cid) == "stopped", what="stopped")
    return rt.run(True, "delete", cid, config=env.config)


def test_plugin_restart_between_attach_and_detach(env, rootfs, rt):
    cid = unique_id("r1")
    src = make_source(env.root / "src")
    cfg = {"mappings": [mapping(prefix=src)]}
    im = start_idmap(env, cfg)
    create(env, rt, rootfs, cid, src)
    assert len(idmap_mounts(im.state)) == 1
    im.kill()
    im = start_idmap(env, cfg)  # must leave the live mount alone
    assert len(idmap_mounts(im.state)) == 1
    d = start_and_delete(env, rt, cid)
    assert d.returncode == 0, d.stderr
    assert (src / "seen").read_text() == "0\n"
    assert os.stat(src / "made").st_uid == 1000
    assert_clean(im.state)


def test_emergency_path_when_the_plugin_is_gone(env, rootfs, rt):
    src = make_source(env.root / "src")
    im = start_idmap(env, {"mappings": [mapping(prefix=src)]})
    create(env, rt, rootfs, "e1", src)
    im.kill()
    d = start_and_delete(env, rt, "e1")
    assert d.returncode == 0, d.stderr
    # mpp's emergency actions unmounted and removed everything the plugin made.
    assert_clean(im.state)
    assert (src / "seen").read_text() == "0\n"


def test_detach_of_an_unknown_container_succeeds(env):
    import http.client
    import socket

    src = make_source(env.root / "src")
    start_idmap(env, {"mappings": [mapping(prefix=src)]})

    class Conn(http.client.HTTPConnection):
        def connect(self):
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.connect(str(env.plugin_dir / "idmap.sock"))

    for _ in range(2):
        c = Conn("localhost")
        c.request("POST", "/MountPointPlugin.MountPointDetach", body='{"ID": "never-seen"}')
        resp = c.getresponse()
        assert resp.status == 200 and json.loads(resp.read())["Success"] is True


R = '{"host": 1000, "container": 0}'
BAD = [
    ('{}', "mappings: expected a non-empty list of mappings"),
    ('{"mappings": []}', "mappings: expected a non-empty list of mappings"),
    ('{"mappings": [{"uid": [' + R + ']}]}', "mappings[0]: match: missing"),
    ('{"mappings": [{"match": {}, "uid": [' + R + ']}]}',
     "mappings[0]: match: give source_prefix or labels"),
    ('{"mappings": [{"match": {"source_prefix": "srv"}, "uid": [' + R + ']}]}',
     'mappings[0]: match: source_prefix: "srv" is not a clean absolute path'),
    ('{"mappings": [{"match": {"source_prefix": "/srv"}}]}', "mappings[0]: uid: missing"),
    ('{"mappings": [{"match": {"source_prefix": "/srv"}, "uid": [{"host": 1000}]}]}',
     "mappings[0]: uid[0]: container: missing"),
    ('{"mappings": [{"match": {"source_prefix": "/srv"}, "uid": [{"host": -1, "container": 0}]}]}',
     "mappings[0]: uid[0]: host: "),
    ('{"mappings": [{"match": {"source_prefix": "/srv"}, "uid": [{"host": 1, "container": 0, '
     '"count": 0}]}]}', "mappings[0]: uid[0]: count: must be at least 1"),
    ('{"mappings": [{"match": {"source_prefix": "/srv"}, "uid": [{"host": 1000, "container": 0, '
     '"count": 10}, {"host": 1005, "container": 100}]}]}',
     "mappings[0]: uid[1]: host ids 1005-1005 overlap those of uid[0] (1000-1009)"),
    ('{"mappings": [{"match": {"source_prefix": "/srv"}, "uid": [' + R + '], "gid": [' + R +
     ', ' + R + ']}]}', "mappings[0]: gid[1]: host ids 1000-1000 overlap"),
    ('{"mappings": [{"match": {"labels": {"a": 1}}, "uid": [' + R + ']}]}',
     "mappings[0]: match: labels: a: expected a string"),
    ('{"mappings": [{"match": {"source_prefix": "/srv"}, "uid": [' + R + '], "map": 1}]}',
     'mappings[0]: unknown key "map"'),
    ('{"mapings": []}', 'unknown key "mapings"'),
    ('{"mappings": [{"match": {"source_prefix": "/srv"}, "uid": [' + R + ']}], "patterns": []}',
     "patterns: the list is empty"),
    ('{"mappings": [', "line 1 column"),
]


@pytest.mark.parametrize("text,msg", BAD)
def test_bad_configuration_is_refused_at_start(env, text, msg):
    path = env.root / "bad.json"
    path.write_text(text)
    r = subprocess.run([str(IDMAP), "--config", str(path), "--socket",
                        str(env.plugin_dir / "idmap.sock"), "--state-dir", str(env.root / "st")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1, r.stderr
    assert f"mpp-plugin-idmap: bad configuration: {path}: " in r.stderr and msg in r.stderr, \
        r.stderr
    assert not (env.plugin_dir / "idmap.sock").exists()


def test_a_configuration_is_required(env):
    r = subprocess.run([str(IDMAP), "--socket", str(env.plugin_dir / "idmap.sock"),
                        "--state-dir", str(env.root / "st")], capture_output=True, text=True)
    assert r.returncode == 1
    assert "a configuration file with the mappings is required (--config FILE)" in r.stderr
