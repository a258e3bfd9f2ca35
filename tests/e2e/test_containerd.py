"""containerd 1.6 through ctr: `ctr run --runc-binary mpp-runtime --mount type=bind,...`, the
runc v2 shim calling mpp-runtime as it calls runc."""

DENIAL = 'mount point plugin "policy" denied /etc -> /host-etc: path /etc is protected'


def bind(src, dst, mode="rw"):
    return f"type=bind,src={src},dst={dst},options=rbind:{mode}"


def test_denied_mount_fails_ctr_run_with_the_plugins_message(containerd, case):
    case.plugin("p0")
    case.plugin("policy", "--attach", "deny:path /etc is protected")
    case.use(["p0", "policy"])
    cid = containerd.new_id(case.name)
    r = containerd.run(cid, [bind("/etc", "/host-etc", "ro")], "true")
    assert r.returncode != 0
    assert DENIAL in r.stderr
    case.wait_calls(["p0:attach", "policy:attach", "p0:detach"])
    assert case.journals() == []
    assert cid not in containerd.containers() and cid not in containerd.tasks()
    assert not containerd.runc_state(cid)


def test_redirected_source_is_what_the_container_reads(containerd, case):
    src = case.env.root / "src"
    src.mkdir()
    (src / "f").write_text("original\n")
    red = case.env.root / "red"
    red.mkdir()
    (red / "f").write_text("redirected by the plugin\n")
    case.plugin("p0", "--attach", f"redirect:{red}")
    case.use(["p0"])
    cid = containerd.new_id(case.name)
    r = containerd.run(cid, [bind(src, "/data")], "cat", "/data/f")
    assert (r.returncode, r.stdout) == (0, "redirected by the plugin\n"), r.stderr
    assert (src / "f").read_text() == "original\n"
    case.wait_calls(["p0:attach", "p0:detach"])


def test_teardown_after_run_rm_is_in_reverse_order(containerd, case):
    src = case.env.root / "src"
    src.mkdir()
    case.plugin("p0")
    case.plugin("p1")
    case.use(["p0", "p1"])
    cid = containerd.new_id(case.name)
    r = containerd.run(cid, [bind(src, "/data")], "true")
    assert r.returncode == 0, r.stderr
    case.wait_calls(["p0:attach", "p1:attach", "p1:detach", "p0:detach"])
    for rec in case.env.records("detach"):
        assert rec["request"]["ID"] == cid
    assert case.journals() == []
    assert cid not in containerd.containers()


def test_what_ctr_gives_reaches_the_plugin(containerd, case):
    src = case.env.root / "src"
    src.mkdir()
    case.plugin("p0")
    case.use(["p0"])
    cid = containerd.new_id(case.name)
    r = containerd.run(cid, [bind(src, "/data", "ro")], "true")
    assert r.returncode == 0, r.stderr
    reqs = case.attach_requests()
    assert len(reqs) == 1 and reqs[0]["ID"] == cid
    mounts = reqs[0]["Mounts"]
    assert [m["Destination"] for m in mounts] == ["/data"]
    m = mounts[0]
    assert (m["Source"], m["Type"], m.get("ReadOnly")) == (str(src), "bind", True)
    assert m["Container"]["Engine"] == "containerd"
    assert m["Container"]["ID"] == cid
    case.wait_calls(["p0:attach", "p0:detach"])
