"""The runtime reads the document that was judged (docs/security.md): keys that runc (Go's
encoding/json: case-insensitive, last one wins) would read differently from mpp are refused, and
the real runtime reads mpp's own copy of the judged document, never the bundle's config.json,
which its owner may replace at any time. Real containers, crun and runc, real plugins."""
import json
import os
import re
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from mpp import BUILD, RUNTIMES, make_bundle, mount_changes, mount_table, oci_bind, wait_for

INIT = BUILD / "src/init/mpp-init"
DENY_ETC = ["--patterns", json.dumps([{"Source": [{"PathPrefix": "/etc"}]}]),
            "--attach", "deny:no /etc here"]


def benign(env):
    src = env.root / "src"
    src.mkdir(exist_ok=True)
    (src / "shadow").write_text("benign\n")
    return src


def bundle_text(env, rootfs, mount_json, top_extra=""):
    """A bundle whose last mount is mount_json (raw JSON text: it may say what Python's json
    cannot, such as a key twice); top_extra is added at the top level."""
    b = make_bundle(env.root / "b", rootfs, ["/bin/cat", "/data/shadow"])
    cfg = json.loads((b / "config.json").read_text())
    text = json.dumps(cfg)
    mounts = json.dumps(cfg["mounts"])
    assert mounts.endswith("]")
    new_mounts = mounts[:-1] + (", " if cfg["mounts"] else "") + mount_json + "]"
    text = text.replace(mounts, new_mounts, 1)
    if top_extra:
        # runc takes the last of "mounts" and "Mounts": the whole list, with /etc added.
        text = text[:-1] + ", " + top_extra.replace("MOUNTS", mounts[1:-1]) + "}"
    (b / "config.json").write_text(text)
    return b


def variants(src):
    s = json.dumps(str(src))
    etc = '{"destination": "/data", "type": "bind", "source": "/etc", "options": ["rbind", "ro"]}'
    return {
        "capitalised": ('{"destination": "/data", "Type": "bind", "Source": "/etc", '
                        '"options": ["rbind", "ro"]}', "", r'key "(Source|Type)" is not "(source|type)"'),
        "second-Source": ('{"destination": "/data", "type": "bind", "source": %s, "Source": "/etc", '
                          '"options": ["rbind", "ro"]}' % s, "", r'key "Source" is not "source"'),
        "duplicate-source": ('{"destination": "/data", "type": "bind", "source": "/etc", '
                             '"source": %s, "options": ["rbind", "ro"]}' % s, "",
                             r'a key appears twice.*"source"'),
        "long-s": ('{"destination": "/data", "type": "bind", "source": %s, "\u017fource": "/etc", '
                   '"options": ["rbind", "ro"]}' % s, "", 'key "\u017fource" is not "source"'),
        "Mounts": (json.dumps(oci_bind(src, "/data")), '"Mounts": [MOUNTS, %s]' % etc,
                   r'key "Mounts" is not "mounts"'),
    }


ATTACKS = ["capitalised", "second-Source", "duplicate-source", "long-s", "Mounts"]


@pytest.mark.parametrize("variant", ATTACKS)
def test_keys_runc_reads_differently_are_refused(env, rootfs, rt, variant):
    src = benign(env)
    mount, top, message = variants(src)[variant]
    b = bundle_text(env, rootfs, mount, top)
    given = (b / "config.json").read_bytes()
    env.plugin("policy", *DENY_ETC)
    env.write_config(["policy"], runtime=rt.real)
    r = rt.run(True, "run", "--bundle", str(b), "c1", config=env.config)
    assert "root:" not in r.stdout, "/etc/shadow reached the container"
    assert r.returncode != 0, r.stdout
    assert re.search(message, r.stderr), r.stderr
    assert str(b / "config.json") in r.stderr, r.stderr
    assert rt.state("c1") is None
    assert (b / "config.json").read_bytes() == given
    assert env.calls(("attach",)) == []


@pytest.mark.parametrize("variant", ["capitalised", "second-Source", "long-s", "Mounts"])
def test_the_attack_is_real_on_bare_runc(env, rootfs, variant):
    """The control: runc itself mounts /etc from each of these documents (crun would not)."""
    src = benign(env)
    mount, top, _ = variants(src)[variant]
    b = bundle_text(env, rootfs, mount, top)
    root = env.root / "runc-state"
    r = subprocess.run([RUNTIMES["runc"], "--root", str(root), "run", "--bundle", str(b), "c1"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "root:" in r.stdout, "runc did not read the folded key: the tests above prove less"


def create(env, rt, b, cid):
    """create, with the container's output (which it inherits) in a file, not a pipe."""
    err = env.root / f"create-{cid}.err"
    with open(err, "w") as f:
        r = rt.run(True, "create", "--bundle", str(b), cid, config=env.config,
                   stdout=subprocess.DEVNULL, stderr=f, capture_output=False)
    return r.returncode, err.read_text()


def write_atomically(path, text):
    tmp = path.with_name(f".racer-{threading.get_ident()}")
    tmp.write_text(text)
    os.rename(tmp, path)


def test_a_config_renamed_in_after_the_check_never_reaches_the_runtime(env, rootfs, rt):
    """A racer renames config.json after config.json into the bundle, judged and malicious
    (a bind of /etc, which the policy plugin denies) in turn, while mpp-runtime runs it."""
    src = benign(env)
    b = make_bundle(env.root / "b", rootfs, ["/bin/cat", "/data/shadow"], [oci_bind(src, "/data")])
    good = (b / "config.json").read_text()
    cfg = json.loads(good)
    cfg["mounts"][-1]["source"] = "/etc"
    evil = json.dumps(cfg)
    env.plugin("policy", *DENY_ETC, log=False)
    env.write_config(["policy"], runtime=rt.real)
    stop = threading.Event()

    def racer():
        while not stop.is_set():
            write_atomically(b / "config.json", evil)
            write_atomically(b / "config.json", good)

    t = threading.Thread(target=racer)
    t.start()
    outcomes = {"ok": 0, "refused": 0}
    try:
        for i in range(40):
            r = rt.run(True, "run", "--bundle", str(b), f"c{i}", config=env.config)
            assert "root:" not in r.stdout, f"iteration {i}: /etc reached the container"
            if r.returncode == 0:
                assert r.stdout == "benign\n", r.stderr
                outcomes["ok"] += 1
            else:
                assert "no /etc here" in r.stderr, r.stderr
                outcomes["refused"] += 1
    finally:
        stop.set()
        t.join()
    assert outcomes["ok"] > 0 and outcomes["refused"] > 0, outcomes
    assert not (env.state_dir / "bundles").exists() or \
        list((env.state_dir / "bundles").iterdir()) == []


def test_the_users_config_is_never_touched(env, rootfs, rt):
    src = benign(env)
    b = make_bundle(env.root / "b", rootfs, ["/bin/sleep", "1000"], [oci_bind(src, "/data")])
    env.plugin("p0")
    env.write_config(["p0"], runtime=rt.real)
    before = mount_table()
    path = b / "config.json"
    given, st = path.read_bytes(), os.stat(path)
    listing = sorted(os.listdir(b))

    def unchanged():
        now = os.stat(path)
        assert path.read_bytes() == given
        assert (now.st_ino, now.st_mtime_ns, now.st_mode) == (st.st_ino, st.st_mtime_ns,
                                                               st.st_mode)
        assert sorted(os.listdir(b)) == listing

    rc, err = create(env, rt, b, "c1")
    assert rc == 0, err
    unchanged()
    copies = list((env.state_dir / "bundles" / "c1").iterdir())
    assert len(copies) == 1 and oct(os.stat(copies[0]).st_mode & 0o777) == "0o700"
    assert oct(os.stat(copies[0] / "config.json").st_mode & 0o777) == "0o600"
    assert rt.run(True, "start", "c1", config=env.config).returncode == 0
    wait_for(lambda: rt.state("c1") == "running", what="running")
    unchanged()
    rt.run(True, "kill", "c1", "KILL", config=env.config)
    wait_for(lambda: rt.state("c1") == "stopped", what="stopped")
    r = rt.run(True, "delete", "c1", config=env.config)
    assert r.returncode == 0, r.stderr
    unchanged()
    assert list((env.state_dir / "bundles").iterdir()) == []
    assert env.calls() == ["p0:properties", "p0:attach", "p0:detach"]
    assert mount_changes(before, mount_table(), roots=(env.root,), words=("mpp",)) == \
        (set(), set())


def test_a_shared_bundle_with_the_exit_gate(env, rootfs, rt):
    """Many containers from one bundle directory at once, each with its own exit gate: all
    succeed, and each one's exit reaches its own gate (its own detach sees its status)."""
    src = benign(env)
    b = make_bundle(env.root / "b", rootfs,
                    ["/bin/sh", "-c", "ls /.mpp/gate >/dev/null && exit $(cat /data/code)"],
                    [oci_bind(src, "/data")])
    (src / "code").write_text("0")
    env.plugin("p0")
    env.write_config(["p0"], runtime=rt.real, exit_gate=True, init_path=str(INIT))
    n = 24

    def cycle(i):
        cid = f"s{i}"
        rc, err = create(env, rt, b, cid)
        if rc != 0:
            return f"{cid} create: {err}"
        r = rt.run(True, "start", cid, config=env.config)
        if r.returncode != 0:
            return f"{cid} start: {r.stderr}"
        wait_for(lambda: rt.state(cid) == "stopped", timeout=60, what=f"{cid} stopped")
        r = rt.run(True, "delete", cid, config=env.config)
        return None if r.returncode == 0 else f"{cid} delete: {r.stderr}"

    with ThreadPoolExecutor(max_workers=8) as pool:
        failures = [f for f in pool.map(cycle, range(n)) if f]
    assert failures == [], failures
    detached = sorted(d["request"]["ID"] for d in env.records("detach"))
    assert detached == sorted(f"s{i}" for i in range(n))
    assert all(d["request"]["ExitStatus"] == 0 for d in env.records("detach"))
    assert list((env.state_dir / "bundles").iterdir()) == []
    assert sorted(os.listdir(b)) == ["config.json"]


@pytest.mark.parametrize("form", ["--bundle B", "--bundle=B", "-b B", "cwd"])
def test_every_way_of_naming_the_bundle_gets_the_copy(env, rootfs, rt, form):
    """However the engine names the bundle (or leaves it to the working directory), the runtime
    is given mpp's copy; a relative --pid-file lands where runc puts it, in the working
    directory, not in mpp's directory."""
    src = benign(env)
    b = make_bundle(env.root / "b", rootfs, ["/bin/cat", "/data/shadow"], [oci_bind(src, "/data")])
    env.plugin("p0")
    env.write_config(["p0"], runtime=rt.real)
    cwd = b if form == "cwd" else env.root / "elsewhere"
    cwd.mkdir(exist_ok=True)
    args = {"--bundle B": ["--bundle", str(b)], "--bundle=B": [f"--bundle={b}"],
            "-b B": ["-b", str(b)], "cwd": []}[form]
    r = rt.run(True, "run", *args, "--pid-file", "rel.pid", "--detach", "c1", config=env.config,
               cwd=cwd, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    assert (cwd / "rel.pid").read_text().strip().isdigit()
    copies = list((env.state_dir / "bundles" / "c1").iterdir())
    assert len(copies) == 1
    st = json.loads(rt.run(False, "state", "c1").stdout)
    assert st["bundle"] == str(copies[0]), st
    wait_for(lambda: rt.state("c1") == "stopped", what="stopped")
    assert rt.run(True, "delete", "c1", config=env.config).returncode == 0
    assert list((env.state_dir / "bundles").iterdir()) == []
    assert env.calls() == ["p0:properties", "p0:attach", "p0:detach"]


def crun_config_bundle(env, rootfs, src, name="b"):
    """A bundle whose config.json is benign and an other.json beside it that binds src."""
    b = make_bundle(env.root / name, rootfs, ["/bin/cat", "/data/shadow"],
                    [oci_bind(benign(env), "/data")])
    cfg = json.loads((b / "config.json").read_text())
    cfg["mounts"][-1]["source"] = str(src)
    (b / "other.json").write_text(json.dumps(cfg, indent=1))
    return b


@pytest.mark.parametrize("opt", [["--config", "other.json"], ["-f", "other.json"],
                                 ["--config=other.json"]])
def test_a_config_file_other_than_the_bundles_is_judged(env, rootfs, rt, opt):
    """crun's create --config FILE reads FILE, not BUNDLE/config.json: FILE is the document
    judged. Its bind of /etc is denied, whatever BUNDLE/config.json says; its benign bind runs,
    from mpp's copy, and FILE is left as it was, byte for byte."""
    if not rt.real.endswith("crun"):
        pytest.skip("crun's option (runc refuses it: tests/system/test_cli.py)")
    env.plugin("policy", *DENY_ETC)
    env.write_config(["policy"], runtime=rt.real)
    b = crun_config_bundle(env, rootfs, "/etc")
    # A relative FILE is found in the working directory, as crun finds it.
    r = rt.run(True, "run", "--bundle", str(b), *opt, "c1", config=env.config, cwd=b)
    assert "root:" not in r.stdout, "/etc/shadow reached the container"
    assert r.returncode != 0 and "no /etc here" in r.stderr, r.stderr
    assert rt.state("c1") is None

    other = env.root / "other-src"
    other.mkdir()
    (other / "shadow").write_text("from other.json\n")
    b = crun_config_bundle(env, rootfs, other, "b2")
    given, st = (b / "other.json").read_bytes(), os.stat(b / "other.json")
    listing = sorted(os.listdir(b))
    err = env.root / "create.err"
    with open(err, "w") as f:
        r = rt.run(True, "create", "--bundle", str(b), *opt, "c2", config=env.config, cwd=b,
                   stdout=subprocess.DEVNULL, stderr=f, capture_output=False)
    assert r.returncode == 0, err.read_text()
    try:
        copies = list((env.state_dir / "bundles" / "c2").iterdir())
        assert len(copies) == 1
        # The runtime's bundle is mpp's copy, whose document is other.json's, judged.
        st_rt = json.loads(rt.run(False, "state", "c2").stdout)
        assert st_rt["bundle"] == str(copies[0]), st_rt
        copy = json.loads((copies[0] / "config.json").read_text())
        assert copy["mounts"][-1]["source"] == str(other)
        assert rt.run(True, "start", "c2", config=env.config).returncode == 0
        wait_for(lambda: rt.state("c2") == "stopped", what="stopped")
    finally:
        r = rt.run(True, "delete", "--force", "c2", config=env.config)
    assert r.returncode == 0, r.stderr
    assert (b / "other.json").read_bytes() == given
    now = os.stat(b / "other.json")
    assert (now.st_ino, now.st_mtime_ns) == (st.st_ino, st.st_mtime_ns)
    assert sorted(os.listdir(b)) == listing
    assert list((env.state_dir / "bundles").iterdir()) == []


def test_a_config_file_replaced_after_the_check_never_reaches_the_runtime(env, rootfs, rt):
    """While a plugin answers the attach of --config FILE's mounts (after mpp read and checked
    FILE), FILE is replaced by a document that binds /etc: the runtime reads mpp's copy of what
    was judged, not FILE (given to crun as it was, the container would read /etc/shadow)."""
    if not rt.real.endswith("crun"):
        pytest.skip("crun's option")
    other = env.root / "other-src"
    other.mkdir()
    (other / "shadow").write_text("judged\n")
    b = crun_config_bundle(env, rootfs, other)
    evil = json.loads((b / "other.json").read_text())
    evil["mounts"][-1]["source"] = "/etc"
    (env.root / "evil.json").write_text(json.dumps(evil))
    env.plugin("policy", *DENY_ETC)
    env.plugin("racer", "--run-on-attach",
               f"cp '{env.root}/evil.json' '{b}/.racer' && mv '{b}/.racer' '{b}/other.json'")
    env.write_config(["policy", "racer"], runtime=rt.real)
    r = rt.run(True, "run", "--bundle", str(b), "--config", "other.json", "c1",
               config=env.config, cwd=b)
    assert "root:" not in r.stdout, "/etc/shadow reached the container"
    assert (r.returncode, r.stdout) == (0, "judged\n"), r.stderr
    assert json.loads((b / "other.json").read_text())["mounts"][-1]["source"] == "/etc", \
        "the racer did not run: the test proves nothing"
    assert env.calls(("attach", "detach")) == ["racer:attach", "racer:detach"]
