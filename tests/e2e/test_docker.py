"""Docker (dockerd 20.10 + containerd-shim-runc-v2) with mpp-runtime registered in daemon.json
as the runtime "mpp": what a user of `docker run --runtime mpp` gets."""
import os

from engines import IMAGE

DENIAL = 'mount point plugin "policy" denied /etc -> /host-etc: path /etc is protected'


def cid_of(cidfile):
    return cidfile.read_text().strip() if cidfile.exists() else None


def test_denied_mount_fails_docker_run_with_the_plugins_message(docker, case):
    case.plugin("p0")
    case.plugin("policy", "--attach", "deny:path /etc is protected")
    case.use(["p0", "policy"])
    cidfile = case.env.root / "cid"
    r = docker.run(case.name, "-v", "/etc:/host-etc", IMAGE, "true", cidfile=cidfile)
    assert r.returncode != 0
    assert DENIAL in r.stderr
    cid = cid_of(cidfile)
    assert cid, "docker created no container"
    # The plugin attached before the denial is detached; nothing is left anywhere.
    case.wait_calls(["p0:attach", "policy:attach", "p0:detach"])
    assert case.journals() == []
    assert docker.containers(case.name) == []
    assert not docker.runc_state(cid)


def test_redirected_source_is_what_the_container_reads(docker, case):
    src = case.env.root / "src"
    src.mkdir()
    (src / "f").write_text("original\n")
    red = case.env.root / "red"
    red.mkdir()
    (red / "f").write_text("redirected by the plugin\n")
    case.plugin("p0", "--attach", f"redirect:{red}")
    case.use(["p0"])
    r = docker.run(case.name, "-v", f"{src}:/data", IMAGE, "cat", "/data/f")
    assert (r.returncode, r.stdout) == (0, "redirected by the plugin\n"), r.stderr
    assert (src / "f").read_text() == "original\n"


def test_teardown_after_run_rm_is_in_reverse_order(docker, case):
    src = case.env.root / "src"
    src.mkdir()
    case.plugin("p0")
    case.plugin("p1")
    case.use(["p0", "p1"])
    cidfile = case.env.root / "cid"
    r = docker.run(case.name, "-v", f"{src}:/data", IMAGE, "true", cidfile=cidfile)
    assert r.returncode == 0, r.stderr
    # Docker deletes the task (the runtime's delete, hence the detach) around the time run
    # returns: wait for it, bounded.
    case.wait_calls(["p0:attach", "p1:attach", "p1:detach", "p0:detach"])
    cid = cid_of(cidfile)
    for rec in case.env.records("detach"):
        assert rec["request"]["ID"] == cid
    assert case.journals() == []
    assert docker.containers(case.name) == []


def test_what_docker_knows_reaches_the_plugin(docker, case):
    vol = docker.volume(f"mpp-e2e-vol-{os.getpid()}")
    a = case.env.root / "a"
    a.mkdir()
    case.plugin("p0")
    case.use(["p0"])
    cidfile = case.env.root / "cid"
    r = docker.run(case.name, "-v", f"{vol}:/v", "-v", f"{a}:/b:cached", "--label", "k=v",
                   IMAGE, "true", cidfile=cidfile)
    assert r.returncode == 0, r.stderr
    cid = cid_of(cidfile)
    reqs = case.attach_requests()
    assert len(reqs) == 1 and reqs[0]["ID"] == cid
    mounts = {m["Destination"]: m for m in reqs[0]["Mounts"]}
    # Only the user's mounts: not /etc/hosts, /etc/resolv.conf, ... of the container.
    assert sorted(mounts) == ["/b", "/v"]

    v = mounts["/v"]
    assert v["Type"] == "volume"
    assert v["Volume"]["Name"] == vol
    assert v["Volume"].get("Driver") == "local"
    assert v["Source"] == f"/var/lib/docker/volumes/{vol}/_data"

    b = mounts["/b"]
    assert b["Type"] == "bind" and b["Source"] == str(a)
    assert b["Consistency"] == "cached"
    assert "cached" in b["Mode"].split(",")
    assert b.get("CreateSourceIfMissing") is True

    for m in mounts.values():
        assert m["Container"]["Labels"].get("k") == "v"
        assert m["Container"]["Engine"] == "docker"
        assert m["Container"]["ID"] == cid
    case.wait_calls(["p0:attach", "p0:detach"])
