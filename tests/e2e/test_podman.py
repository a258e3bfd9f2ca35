"""Podman 4.3 (conmon, runc), both ways to put mpp in:
- "runtime": `podman --runtime mpp` (containers.conf [engine.runtimes]) with the configuration at
  the default path, /etc/mpp/mpp.json (see engines.Podman for why and how);
- "hook": `podman --hooks-dir DIR` with deploy/hooks.d (mpp-hook precreate and poststop) and the
  plain runc as the runtime."""
import pytest

from engines import IMAGE

DENIAL = 'mount point plugin "policy" denied /etc -> /host-etc: path /etc is protected'

modes = pytest.mark.parametrize("mode", ["runtime", "hook"])


def cid_of(cidfile):
    return cidfile.read_text().strip() if cidfile.exists() else None


@modes
def test_denied_mount_fails_podman_run(podman, case, mode):
    case.plugin("p0")
    case.plugin("policy", "--attach", "deny:path /etc is protected")
    case.use(["p0", "policy"])
    cidfile = case.env.root / "cid"
    r = podman.run(mode, case.name, "-v", "/etc:/host-etc", IMAGE, "true", cidfile=cidfile)
    assert r.returncode != 0
    if mode == "runtime":
        assert DENIAL in r.stderr
    else:
        # Podman 4.3 discards a precreate hook's output: it says only that the hook failed.
        assert "precreate hook" in r.stderr, r.stderr
    case.wait_calls(["p0:attach", "policy:attach", "p0:detach"])
    assert case.journals() == []
    assert podman.containers(case.name) == []
    cid = cid_of(cidfile)
    assert cid and not podman.runc_state(cid)


@modes
def test_redirected_source_is_what_the_container_reads(podman, case, mode):
    src = case.env.root / "src"
    src.mkdir()
    (src / "f").write_text("original\n")
    red = case.env.root / "red"
    red.mkdir()
    (red / "f").write_text("redirected by the plugin\n")
    case.plugin("p0", "--attach", f"redirect:{red}")
    case.use(["p0"])
    r = podman.run(mode, case.name, "-v", f"{src}:/data", IMAGE, "cat", "/data/f")
    assert (r.returncode, r.stdout) == (0, "redirected by the plugin\n"), r.stderr
    assert (src / "f").read_text() == "original\n"
    case.wait_calls(["p0:attach", "p0:detach"])


@modes
def test_teardown_after_run_rm_is_in_reverse_order(podman, case, mode):
    src = case.env.root / "src"
    src.mkdir()
    case.plugin("p0")
    case.plugin("p1")
    case.use(["p0", "p1"])
    cidfile = case.env.root / "cid"
    r = podman.run(mode, case.name, "-v", f"{src}:/data", IMAGE, "true", cidfile=cidfile)
    assert r.returncode == 0, r.stderr
    # The runtime's delete (or the poststop hook) comes from `podman container cleanup`, which
    # conmon starts when the container exits: wait for it, bounded.
    case.wait_calls(["p0:attach", "p1:attach", "p1:detach", "p0:detach"])
    cid = cid_of(cidfile)
    for rec in case.env.records("detach"):
        assert rec["request"]["ID"] == cid
    assert case.journals() == []
    assert podman.containers(case.name) == []


@modes
def test_annotations_and_identity_reach_the_plugin(podman, case, mode):
    src = case.env.root / "src"
    src.mkdir()
    case.plugin("p0")
    case.use(["p0"])
    cidfile = case.env.root / "cid"
    r = podman.run(mode, case.name, "-v", f"{src}:/data", "--annotation", "k=v", IMAGE, "true",
                   cidfile=cidfile)
    assert r.returncode == 0, r.stderr
    cid = cid_of(cidfile)
    reqs = case.attach_requests()
    assert len(reqs) == 1
    # In hook mode mpp-hook finds the ID itself, in podman's userdata paths.
    assert reqs[0]["ID"] == cid
    mounts = reqs[0]["Mounts"]
    # Only the user's mount: not podman's /etc/hosts, /etc/hostname, /run/.containerenv, ...
    assert [m["Destination"] for m in mounts] == ["/data"]
    m = mounts[0]
    assert m["Source"] == str(src) and m["Type"] == "bind"
    assert m["Container"]["Annotations"].get("k") == "v"
    assert m["Container"]["Engine"] == "podman"
    assert m["Container"]["ID"] == cid
    case.wait_calls(["p0:attach", "p0:detach"])
