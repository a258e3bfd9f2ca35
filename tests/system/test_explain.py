"""mppctl explain is the start path stopped before the first Attach: it must name, for every
mount, exactly the plugins a real start (mpp-runtime create, with crun and with runc) sends it
to, including a bind source that is a symbolic link (pinned, the plugins judge its target)."""
import json
import os
import subprocess
import uuid

from mpp import MPP_RUNTIME, make_bundle, oci_bind, wait_for
from test_mppctl import MPPCTL, ctl, ctl_json


def unique_id():
    return "x" + uuid.uuid4().hex[:12]


def explained(doc):
    """destination -> the plugins explain says are consulted, in chain order."""
    return {m["destination"]: [p["plugin"] for p in m["plugins"]] for m in doc["mounts"]}


def attached(env):
    """destination -> the plugins that were sent an Attach for it, in chain order."""
    out = {}
    for rec in env.records("attach"):
        for m in rec["request"]["Mounts"]:
            out.setdefault(m["Destination"], []).append(rec["plugin"])
    return out


def state_files(env):
    if not env.state_dir.exists():
        return []
    return sorted(str(p.relative_to(env.state_dir)) for p in env.state_dir.rglob("*"))


def chain(env, target):
    """Plugins with filters on the source path (the pinned one), the destination and nothing."""
    env.plugin("prefix", "--patterns", json.dumps([{"Source": [{"PathPrefix": str(target)}]}]))
    env.plugin("dest", "--patterns", json.dumps([{"Destination": [{"Exactly": "/plain"}]},
                                                 {"Destination": [{"Exactly": "/via-link"}]}]))
    env.plugin("never", "--patterns", "[]")
    env.plugin("every")
    return ["prefix", "dest", "never", "every"]


def test_explain_and_a_real_start_agree_on_every_mount(env, rootfs, rt):
    target = env.root / "target"
    (target / "sub").mkdir(parents=True)
    plain = env.root / "plain"
    plain.mkdir()
    link = env.root / "link"
    os.symlink(target, link)
    env.write_config(chain(env, target), runtime=rt.real)
    cid = unique_id()
    b = make_bundle(env.root / cid, rootfs, ["/bin/true"],
                    [oci_bind(link, "/via-link"),          # link -> target: PathPrefix target
                     oci_bind(link / "sub", "/link-sub"),  # a link on the way
                     oci_bind(target / "sub", "/sub"),
                     oci_bind(plain, "/plain")])
    before = (b / "config.json").read_text()

    doc = ctl_json(env, "explain", b)
    said = explained(doc)
    # What pinning changes: the link's target is judged, so "prefix" is consulted.
    assert said["/via-link"] == ["prefix", "dest", "every"]
    assert said["/link-sub"] == ["prefix", "every"]
    assert said["/sub"] == ["prefix", "every"]
    assert said["/plain"] == ["dest", "every"]
    by_dest = {m["destination"]: m for m in doc["mounts"]}
    real_target = os.path.realpath(target)
    assert (by_dest["/via-link"]["source"], by_dest["/via-link"]["judged_source"]) == \
        (str(link), real_target)
    assert by_dest["/link-sub"]["judged_source"] == os.path.join(real_target, "sub")
    assert by_dest["/plain"]["judged_source"] == os.path.realpath(plain)
    assert [(p["name"], p["consulted"]) for p in doc["plugins"]] == \
        [("prefix", True), ("dest", True), ("never", False), ("every", True)]

    text = ctl(env, "explain", b)
    assert text.returncode == 0, text.stderr
    assert f"bind {link} -> /via-link\n  source resolves to {real_target}: that is what " \
        "the plugins judge\n  prefix           consulted: pattern #0 matches\n" in text.stdout

    # A dry run: no Attach, nothing written, the bundle as it was.
    assert env.calls(("attach", "detach")) == []
    assert state_files(env) == []
    assert (b / "config.json").read_text() == before

    r = rt.run(True, "create", "--bundle", str(b), cid, config=env.config,
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, capture_output=False)
    assert r.returncode == 0
    try:
        assert attached(env) == {d: ps for d, ps in said.items() if ps}
        # Explaining the created container (by its bundle) still agrees, and still sends none.
        env.clear_log()
        assert explained(ctl_json(env, "explain", b)) == said
        assert env.calls(("attach", "detach")) == []
    finally:
        rt.run(True, "delete", "--force", cid, config=env.config)
    wait_for(lambda: rt.state(cid) is None, what="deleted")
    assert env.calls(("detach",)) == ["every:detach", "dest:detach", "prefix:detach"]


def as_docker(env, cid, cmd):
    """cmd run as under Docker: /var/lib/docker is the test's own records of container cid (in a
    private mount namespace), whose bind of a missing source says CreateSourceIfMissing."""
    r = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                        'mount --bind "$0" /var/lib/docker && exec "$@"', str(env.root / "docker")]
                       + [str(a) for a in cmd], capture_output=True, text=True, timeout=60)
    assert r.returncode not in (86, 87), f"sanitizer report: {r.stderr}"
    return r


def test_explain_creates_no_missing_source_and_agrees_with_the_start_that_does(env, rootfs, rt):
    new = env.root / "vol" / "new"
    env.plugin("creates", "--patterns", json.dumps([{"CreateSourceIfMissing": True}]))
    env.plugin("under", "--patterns", json.dumps([{"Source": [{"PathPrefix": str(new)}]}]))
    env.write_config(["creates", "under"], runtime=rt.real)
    cid = unique_id()
    rec = env.root / "docker" / "containers" / cid
    rec.mkdir(parents=True)
    (rec / "config.v2.json").write_text("{}")
    (rec / "hostconfig.json").write_text(json.dumps({"Binds": [f"{new}:/data"]}))
    b = make_bundle(env.root / cid, rootfs, ["/bin/true"], [oci_bind(new, "/data")])
    root = env.root / "moby" / os.path.basename(rt.real)

    r = as_docker(env, cid, [MPPCTL, f"--mpp-config={env.config}", "--root", root, "explain", b,
                             "--json"])
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert not (env.root / "vol").exists(), "explain created the missing source"
    assert doc["container"] == cid
    [m] = doc["mounts"]
    assert (m["source"], m["judged_source"]) == (str(new), str(new))
    assert explained(doc) == {"/data": ["creates", "under"]}
    assert env.calls(("attach", "detach")) == [] and state_files(env) == []

    r = as_docker(env, cid, [MPP_RUNTIME, f"--mpp-config={env.config}", "--root", root, "run",
                             "--bundle", b, cid])
    assert r.returncode == 0, r.stderr
    assert os.path.isdir(new), "the real start creates it"
    assert attached(env) == explained(doc)
    assert [m["CreateSourceIfMissing"] for m in env.records("attach")[0]["request"]["Mounts"]] \
        == [True]
    assert env.calls(("detach",)) == ["under:detach", "creates:detach"]


def test_explain_and_plugins_check_the_state_directory_as_the_chain_does(env, rootfs):
    """A state directory others can write (its journals, pins and properties cache could be
    theirs) is refused by every start; explain and plugins say so rather than trust its cache."""
    target = env.root / "target"
    target.mkdir()
    env.plugin("p0")
    open_dir = env.root / "open"
    open_dir.mkdir()
    os.chmod(open_dir, 0o777)
    env.write_config(["p0"], state_dir=str(open_dir / "state"))
    b = make_bundle(env.root / "b", rootfs, ["/bin/true"], [oci_bind(target, "/data")])
    for args in (["explain", b], ["plugins"]):
        r = ctl(env, *args)
        assert r.returncode == 1, r.stdout
        assert r.stdout == ""
        assert r.stderr.startswith(f"mppctl: state directory {open_dir}/state: its ancestor "
                                   f"{open_dir} is owned by uid 0 with mode 0777"), r.stderr
        assert ctl_json(env, *args, rc=1)["error"] == r.stderr.removeprefix("mppctl: ").strip()
    assert env.calls() == []
