"""mppctl, the administrator's tool: each command's text and --json output against real state
made by the chain driver and by mpp-runtime around real containers."""
import json
from pathlib import Path
import os
import re
import subprocess

import pytest

from mpp import BUILD, bind_mount, make_bundle, oci_bind, wait_for

MPPCTL = str(BUILD / "src/ctl/mppctl")


def ctl(env, *args, config=True, extra_env=None):
    e = dict(os.environ)
    e.pop("MPP_CONFIG", None)
    e.update(extra_env or {})
    cmd = [MPPCTL] + ([f"--mpp-config={env.config}"] if config else []) + [str(a) for a in args]
    r = subprocess.run(cmd, capture_output=True, text=True, env=e, timeout=60)
    assert r.returncode not in (86, 87), f"sanitizer report:\n{r.stderr}"
    return r


def ctl_json(env, *args, rc=0, **kw):
    r = ctl(env, *args, "--json", **kw)
    assert r.returncode == rc, f"mppctl {args}: {r.returncode}: {r.stdout}{r.stderr}"
    return json.loads(r.stdout)


def detaches(env):
    return [c.split(":")[0] for c in env.calls(("detach",))]


ONLY_DATA = [{"Destination": [{"Exactly": "/data"}]}]


# plugins

def test_plugins_lists_the_chain_with_health_and_filters(env):
    env.plugin("p0", "--patterns", json.dumps(ONLY_DATA))
    env.plugin("p1")
    env.write_config(["p0", "p1"])
    doc = ctl_json(env, "plugins")
    assert doc["config"] == str(env.config)
    assert [(p["position"], p["name"]) for p in doc["plugins"]] == [(1, "p0"), (2, "p1")]
    p0, p1 = doc["plugins"]
    assert p0["address"]["kind"] == "unix"
    assert p0["address"]["path"] == str(env.plugin_dir / "p0.sock")
    assert p0["answers"] is True and p1["answers"] is True
    # Nothing cached yet: asked.
    assert p0["filters_from"] == "plugin" and p0["filters"] == ONLY_DATA
    assert p1["filters"] == [{}]
    assert "p0:properties" in env.calls()

    # Once the chain has run, the filters come from the properties cache.
    env.attach("c1", [bind_mount(env.root, "/data")], check=True)
    env.clear_log()
    doc = ctl_json(env, "plugins")
    assert [p["filters_from"] for p in doc["plugins"]] == ["cache", "cache"]
    assert doc["plugins"][0]["filters"] == ONLY_DATA
    assert env.calls() == [], "health is Plugin.Activate only"

    r = ctl(env, "plugins")
    assert r.returncode == 0, r.stderr
    assert "1. p0" in r.stdout and "2. p1" in r.stdout
    assert f"address: unix:{env.plugin_dir / 'p0.sock'}" in r.stdout
    assert "answers: yes" in r.stdout
    assert "from the properties cache" in r.stdout
    assert '#0 {"Destination": [{"Exactly": "/data"}]}' in r.stdout.replace(
        '{"Destination":[{"Exactly":"/data"}]}', '{"Destination": [{"Exactly": "/data"}]}')
    assert "#0 {} (every mount)" in r.stdout
    env.detach("c1", 0)


def test_plugins_reports_dead_and_missing_plugins(env):
    dead = env.plugin("dead")
    env.write_config(["dead", "missing"])
    dead.kill()
    doc = ctl_json(env, "plugins", rc=1)
    d, m = doc["plugins"]
    assert d["answers"] is False and d["address"] is not None and d["error"]
    assert m["answers"] is False and m["address"] is None and "missing" in m["error"]
    r = ctl(env, "plugins")
    assert r.returncode == 1
    assert "answers: no" in r.stdout
    assert "not found" in r.stdout and "missing" in r.stdout


def test_plugins_with_no_chain(env):
    env.write_config([])
    r = ctl(env, "plugins")
    assert r.returncode == 0 and "no plugins configured" in r.stdout
    assert ctl_json(env, "plugins")["plugins"] == []


# ps

def test_ps_shows_each_mount_stack(env):
    red = env.root / "red"
    red.mkdir()
    env.plugin("p0", "--attach", f"redirect:{red}")
    env.plugin("p1", "--patterns", json.dumps(ONLY_DATA))
    env.plugin("p2", "--patterns", "[]")
    env.write_config(["p0", "p1", "p2"])
    src = env.root / "src"
    env.attach("c1", [bind_mount(src, "/data"), bind_mount(src, "/other")], check=True)

    doc = ctl_json(env, "ps")
    assert doc["state_dir"] == str(env.state_dir)
    [c] = doc["containers"]
    assert c["id"] == "c1" and c["teardown"] == "attached" and c["busy"] is False
    assert c["n_mounts"] == 2
    assert [(p["clock"], p["plugin"], p["state"]) for p in c["plugins"]] == \
        [(1, "p0", "attached"), (2, "p1", "attached")]
    data, other = c["mounts"]
    assert (data["index"], data["source"], data["destination"]) == (0, str(src), "/data")
    assert [(e["clock"], e["plugin"], e["state"]) for e in data["stack"]] == \
        [(1, "p0", "attached"), (2, "p1", "attached")]
    assert data["stack"][0]["changes"]["EffectiveSource"] == str(red)
    assert data["stack"][1]["changes"]["EffectiveSource"] is None
    assert [e["plugin"] for e in other["stack"]] == ["p0"]
    assert c["errors"] == [] and c["warnings"] == []

    r = ctl(env, "ps")
    assert r.returncode == 0, r.stderr
    assert "c1  teardown: attached  (2 of 2 plugins still attached)" in r.stdout
    assert f"mount 0: {src} -> /data" in r.stdout
    assert f"1 p0               attached   EffectiveSource={red}" in r.stdout
    # ps only reads: the journal is unchanged, and the teardown still works.
    journal = (env.cstate("c1") / "journal").read_text()
    assert ctl(env, "ps", "c1").returncode == 0
    assert (env.cstate("c1") / "journal").read_text() == journal
    assert env.detach("c1", 0)["complete"]
    assert detaches(env) == ["p1", "p0"]

    assert ctl_json(env, "ps")["containers"] == []
    r = ctl(env, "ps")
    assert r.returncode == 0 and "no containers with mount point plugin state" in r.stdout
    r = ctl(env, "ps", "c1")
    assert r.returncode == 1 and "c1 has no mount point plugin state" in r.stderr


def test_ps_reports_a_corrupt_journal(env):
    env.plugin("p0")
    env.write_config(["p0"])
    env.attach("c1", [bind_mount(env.root, "/data")], check=True)
    j = env.cstate("c1") / "journal"
    lines = j.read_text().splitlines()
    j.write_text(lines[0] + "\nnot json\n")
    doc = ctl_json(env, "ps", rc=1)
    assert doc["containers"][0]["id"] == "c1" and "journal:2" in doc["containers"][0]["error"]


# recover

CHAIN = ["a", "b", "c"]


@pytest.mark.parametrize("k", range(1, 7))
def test_recover_after_kill_during_teardown(env, k):
    for name in CHAIN:
        env.plugin(name)
    env.write_config(CHAIN)
    env.attach("c1", [bind_mount(env.root / "src", "/data")], check=True)
    r = env.driver("detach", "c1", 0, env={"MPP_FAULT_KILL_AT": str(k)})
    assert r.returncode == -9
    done_before = detaches(env)

    [c] = ctl_json(env, "ps")["containers"]
    # Points: detach-sent, detach-answered for c, then b, then a.
    states = {p["plugin"]: p["state"] for p in c["plugins"]}
    expect = {"c": "attached", "b": "attached", "a": "attached"}
    for i, name in enumerate(["c", "b", "a"]):
        if k > 2 * i + 1:
            expect[name] = "detached"
        elif k == 2 * i + 1:
            expect[name] = "detaching"
    assert states == expect
    assert c["teardown"] == ("done" if k == 6 else "detaching")

    doc = ctl_json(env, "recover", "--all")
    assert doc["skipped"] == []
    [res] = doc["containers"]
    assert res["id"] == "c1" and res["result"] == "complete" and res["failed"] is False
    assert res["detached"] == 3 - k // 2
    # Reverse order, each plugin once, except one killed between journaling its detach and
    # recording the answer: it is sent the detach again (plugins accept a repeated detach).
    seen = detaches(env)
    assert seen[:len(done_before)] == done_before
    assert [n for i, n in enumerate(seen) if n not in seen[:i]] == ["c", "b", "a"]
    assert len(seen) <= 3 + (1 if k % 2 == 1 else 0)
    assert not env.cstate("c1").exists()
    assert ctl_json(env, "ps")["containers"] == []


def test_recover_resumes_a_halted_teardown(env):
    env.plugin("p0")
    env.plugin("p1", "--detach", "fatal:cannot flush")
    env.plugin("p2")
    env.write_config(["p0", "p1", "p2"])
    env.attach("c1", [bind_mount(env.root / "src", "/data")], check=True)
    out = env.detach("c1", 0)
    assert not out["complete"]

    [c] = ctl_json(env, "ps")["containers"]
    assert c["teardown"] == "halted"
    assert [(p["plugin"], p["state"]) for p in c["plugins"]] == \
        [("p0", "attached"), ("p1", "detached"), ("p2", "detached")]
    assert len(c["errors"]) == 1 and "cannot flush" in c["errors"][0]
    r = ctl(env, "ps")
    assert "teardown: halted" in r.stdout and "cannot flush" in r.stdout
    assert "mppctl recover c1" in r.stdout

    r = ctl(env, "recover", "c1")
    assert r.returncode == 0, r.stderr
    assert "c1: teardown complete, 1 plugin detached, with errors:" in r.stdout
    assert "cannot flush" in r.stdout
    assert detaches(env) == ["p2", "p1", "p0"]
    assert not env.cstate("c1").exists()
    # Again: nothing left.
    doc = ctl_json(env, "recover", "c1")
    assert doc["containers"][0]["result"] == "none"


def test_recover_halted_again_fails(env):
    env.plugin("p0")
    p1 = env.plugin("p1")
    env.plugin("p2", "--detach", "fatal:broken")
    env.write_config(["p0", "p1", "p2"])
    env.attach("c1", [bind_mount(env.root / "src", "/data")], check=True)
    env.detach("c1", 0)
    p1.kill()  # unreachable, and it left no emergency actions: the teardown halts again
    doc = ctl_json(env, "recover", "c1", rc=1)
    [res] = doc["containers"]
    assert res["result"] == "halted" and res["failed"] is True
    assert any("could not be detached" in e for e in res["errors"])
    assert env.cstate("c1").exists()
    [c] = ctl_json(env, "ps")["containers"]
    assert c["teardown"] == "halted"
    # p1 never answered: it still holds its mounts, and is asked first when resumed.
    assert [(p["plugin"], p["state"]) for p in c["plugins"]] == \
        [("p0", "attached"), ("p1", "detaching"), ("p2", "detached")]
    assert detaches(env) == ["p2"]
    p1.start()
    doc = ctl_json(env, "recover", "c1")
    assert doc["containers"][0]["result"] == "complete"
    assert detaches(env) == ["p2", "p1", "p0"]
    assert not env.cstate("c1").exists()


def test_recover_all_leaves_containers_whose_teardown_has_not_begun(env):
    env.plugin("p0")
    env.write_config(["p0"])
    env.attach("running", [bind_mount(env.root / "src", "/data")], check=True)
    r = ctl(env, "recover", "--all")
    assert r.returncode == 0, r.stderr
    assert "running: skipped" in r.stdout
    assert ctl_json(env, "recover", "--all")["skipped"] == ["running"]
    assert detaches(env) == [] and env.cstate("running").exists()
    # Named explicitly, it is torn down.
    doc = ctl_json(env, "recover", "running")
    assert doc["containers"][0]["result"] == "complete"
    assert detaches(env) == ["p0"]


def test_recover_after_kill_during_attach(env):
    for name in CHAIN:
        env.plugin(name)
    env.write_config(CHAIN)
    # Killed after b's attach was sent: a attached, b may have.
    r = env.attach("c1", [bind_mount(env.root / "src", "/data")],
                   env={"MPP_FAULT_KILL_AT": "4"})
    assert r.returncode == -9
    [c] = ctl_json(env, "ps")["containers"]
    assert [(p["plugin"], p["state"]) for p in c["plugins"]] == [("a", "attached"),
                                                                  ("b", "sent")]
    doc = ctl_json(env, "recover", "c1")
    assert doc["containers"][0]["result"] == "complete"
    assert detaches(env) == ["b", "a"]


# explain

def test_explain_names_plugins_and_patterns_without_attaching(env, rootfs):
    env.plugin("p0", "--patterns", json.dumps(ONLY_DATA))
    env.plugin("p1", "--patterns", json.dumps([{"Destination": [{"Exactly": "/other"}]},
                                               {"Destination": [{"Exactly": "/data"}]}]))
    env.plugin("p2", "--patterns", "[]")
    env.write_config(["p0", "p1", "p2"])
    src = env.root / "src"
    src.mkdir()
    b = make_bundle(env.root / "b", rootfs, ["/bin/true"],
                    [oci_bind(src, "/data"), oci_bind(src, "/other")])
    before = (b / "config.json").read_text()

    doc = ctl_json(env, "explain", b)
    assert doc["bundle"] == str(b / "config.json")
    by_dest = {m["destination"]: m for m in doc["mounts"]}
    assert by_dest["/data"]["plugins"] == [{"plugin": "p0", "pattern": 0},
                                           {"plugin": "p1", "pattern": 1}]
    assert by_dest["/other"]["plugins"] == [{"plugin": "p1", "pattern": 0}]
    assert by_dest["/data"]["source"] == str(src) and by_dest["/data"]["type"] == "bind"
    cfg_mounts = json.loads(before)["mounts"]
    assert cfg_mounts[by_dest["/data"]["index"]]["destination"] == "/data"
    assert [(p["name"], p["consulted"]) for p in doc["plugins"]] == \
        [("p0", True), ("p1", True), ("p2", False)]
    assert env.calls(("attach", "detach")) == [], "explain never attaches"
    assert (b / "config.json").read_text() == before
    assert not (env.state_dir / "containers").exists() or \
        list((env.state_dir / "containers").iterdir()) == []

    r = ctl(env, "explain", b)
    assert r.returncode == 0, r.stderr
    assert "p1               consulted: pattern #1 matches" in r.stdout
    assert "p2               not consulted: none of its 0 patterns matches" in r.stdout


def fake_runtime(env, script):
    """A stand-in for the real runtime: a shell script that logs its arguments, then runs
    script."""
    path = env.root / "fake-runtime"
    path.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$@\" > {env.root / 'fake-runtime.args'}\n"
                    f"{script}\n")
    path.chmod(0o755)
    return path


def test_explain_by_id_asks_the_runtime_for_the_bundle(env, rootfs):
    """The argument that is no bundle is a container ID: `RUNTIME [--root DIR] state ID` gives
    its bundle, explained as if named."""
    env.plugin("p0", "--patterns", json.dumps(ONLY_DATA))
    b = make_bundle(env.root / "c9", rootfs, ["/bin/true"], [oci_bind(env.root, "/data")])
    rt = fake_runtime(env, f"echo '{{\"ociVersion\": \"1.0.2\", \"id\": \"c9\", "
                           f"\"status\": \"created\", \"bundle\": \"{b}\"}}'")
    env.write_config(["p0"], runtime=str(rt))
    by_id = ctl(env, "--root", env.root / "rt root", "explain", "c9")
    assert by_id.returncode == 0, by_id.stderr
    # No shell: the root with a space in it is one argument.
    args = (env.root / "fake-runtime.args").read_text().splitlines()
    assert args == ["--root", f"{env.root}/rt root", "state", "c9"]
    by_bundle = ctl(env, "explain", b)
    assert by_id.stdout == by_bundle.stdout
    assert "p0               consulted: pattern #0 matches" in by_id.stdout
    # Without --root, none is passed: the runtime's default root.
    assert ctl(env, "explain", "c9").returncode == 0
    assert (env.root / "fake-runtime.args").read_text().splitlines() == ["state", "c9"]
    assert env.calls(("attach", "detach")) == []


@pytest.mark.parametrize("script, message", [
    ("echo 'not json'", "`{rt} state c9` printed no JSON state"),
    ("true", "`{rt} state c9` printed no JSON state: its output is empty"),
    ("echo '{{\"id\": \"c9\"}}'", "the state `{rt} state c9` printed has no \"bundle\""),
    ("echo '{{\"bundle\": \"{root}/gone\"}}'",
     "the bundle of container c9, {root}/gone (from `{rt} state c9`), is gone: No such file"),
    ("echo '{{\"bundle\": \"{root}\"}}'",
     "the bundle of container c9, {root} (from `{rt} state c9`), has no config.json"),
    ("echo 'container c9 is elsewhere' >&2; exit 3",
     "{rt} does not know container c9: `{rt} state c9` exited with status 3 and said: "
     "container c9 is elsewhere (if the engine keeps its containers under its own runtime root, "
     "give that with --root DIR)"),
])
def test_explain_by_id_says_what_went_wrong(env, script, message):
    rt = env.root / "fake-runtime"
    fake_runtime(env, script.format(root=env.root))
    env.write_config([], runtime=str(rt))
    r = ctl(env, "explain", "c9")
    assert r.returncode == 1
    assert r.stderr.startswith("mppctl: explain: ")
    assert message.format(rt=rt, root=env.root) in r.stderr
    assert message.format(rt=rt, root=env.root) in ctl_json(env, "explain", "c9", rc=1)["error"]


def test_explain_by_id_without_a_runtime(env):
    missing = env.root / "no-runtime"
    env.write_config([], runtime=str(missing))
    r = ctl(env, "explain", "c9")
    assert r.returncode == 1
    assert f"runtime {missing} from the mpp configuration is not an executable file" in r.stderr
    # A file without the execute bit.
    rt = fake_runtime(env, "true")
    rt.chmod(0o644)
    env.write_config([], runtime=str(rt))
    r = ctl(env, "explain", "c9")
    assert r.returncode == 1
    assert f"runtime {rt} from the mpp configuration is not an executable file" in r.stderr
    # Executable, but execv fails (its interpreter is missing): said as such, not taken for an
    # unknown container.
    rt.write_text("#!/nonexistent/interpreter\n")
    rt.chmod(0o755)
    r = ctl(env, "explain", "c9")
    assert r.returncode == 1
    assert f"explain: asking the runtime for the bundle of container c9: cannot execute {rt}: " \
        "No such file or directory" in r.stderr, r.stderr


def test_explain_arguments(env):
    env.write_config([])
    r = ctl(env, "explain", "not an id!")
    assert r.returncode == 1
    assert "not an id! is neither a bundle directory nor a container ID" in r.stderr
    r = ctl(env, "explain", env.root / "no-such-bundle")
    assert r.returncode == 1 and "no-such-bundle" in r.stderr
    r = ctl(env, "--root", env.root, "ps")
    assert r.returncode == 2 and "--root is an option of explain only" in r.stderr


def test_explain_with_an_unreachable_plugin_fails(env, rootfs):
    p = env.plugin("p0")
    env.write_config(["p0"])
    p.kill()
    b = make_bundle(env.root / "b", rootfs, ["/bin/true"], [oci_bind(env.root, "/data")])
    doc = ctl_json(env, "explain", b, rc=1)
    assert doc["plugins"][0]["filters_from"] is None and doc["plugins"][0]["error"]


# Real containers through mpp-runtime.

def test_ps_and_explain_with_a_real_container(env, rootfs, rt):
    src = env.root / "src"
    src.mkdir()
    env.plugin("p0", "--patterns", json.dumps(ONLY_DATA))
    env.plugin("p1")
    env.write_config(["p0", "p1"], runtime=rt.real)
    b = make_bundle(env.root / "b", rootfs, ["/bin/sleep", "1000"],
                    [oci_bind(src, "/data"), oci_bind(src, "/other")])
    doc = ctl_json(env, "explain", b)
    assert {m["destination"]: [p["plugin"] for p in m["plugins"]] for m in doc["mounts"]} == \
        {"/data": ["p0", "p1"], "/other": ["p1"]}

    r = rt.run(True, "create", "--bundle", str(b), "real1", config=env.config,
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, capture_output=False)
    assert r.returncode == 0
    try:
        [c] = ctl_json(env, "ps")["containers"]
        assert c["id"] == "real1" and c["teardown"] == "attached"
        stacks = {m["destination"]: [e["plugin"] for e in m["stack"]] for m in c["mounts"]}
        assert stacks == {"/data": ["p0", "p1"], "/other": ["p1"]}
        # A running container is not recovered by --all.
        assert rt.run(True, "start", "real1", config=env.config).returncode == 0
        assert ctl_json(env, "recover", "--all")["skipped"] == ["real1"]
        assert detaches(env) == []
    finally:
        rt.run(True, "kill", "real1", "KILL", config=env.config)
        wait_for(lambda: rt.state("real1") in ("stopped", None), what="stopped")
        rt.run(True, "delete", "--force", "real1", config=env.config)
    assert detaches(env) == ["p1", "p0"]
    assert ctl_json(env, "ps")["containers"] == []


def test_explain_by_id_with_a_real_container(env, rootfs, rt):
    src = env.root / "src"
    src.mkdir()
    env.plugin("p0", "--patterns", json.dumps(ONLY_DATA))
    env.plugin("p1", "--patterns", json.dumps([{"Destination": [{"Exactly": "/other"}]}]))
    env.write_config(["p0", "p1"], runtime=rt.real)
    root = env.root / f"{os.path.basename(rt.real)}-state"  # the rt fixture's --root
    # Named after the container, as engines do: the bundle names the same container ID.
    b = make_bundle(env.root / "c1", rootfs, ["/bin/sleep", "1000"],
                    [oci_bind(src, "/data"), oci_bind(src, "/other"), oci_bind(src, "/none")])
    # The container's stdio is the runtime's: pipes would stay open.
    r = rt.run(True, "create", "--bundle", str(b), "c1", config=env.config,
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, capture_output=False)
    assert r.returncode == 0
    try:
        env.clear_log()
        by_id = ctl(env, "--root", root, "explain", "c1")
        assert by_id.returncode == 0, by_id.stderr
        by_bundle = ctl(env, "--root", root, "explain", b)
        assert by_id.stdout == by_bundle.stdout
        assert by_id.stdout.startswith(f"{b / 'config.json'}: 3 interposable mounts, 2 plugins")
        assert "p0               consulted: pattern #0 matches" in by_id.stdout
        doc = ctl_json(env, "explain", "c1", "--root", root)
        assert doc == ctl_json(env, "explain", b, "--root", root)
        assert doc["container"] == "c1" and doc["bundle"] == str(b / "config.json")
        assert {m["destination"]: [p["plugin"] for p in m["plugins"]] for m in doc["mounts"]} == \
            {"/data": ["p0"], "/other": ["p1"], "/none": []}
        assert {m["source"] for m in doc["mounts"]} == {str(src)}
        assert env.calls(("attach", "detach")) == [], "explain never attaches"

        # The runtime knows no such container: its own words are quoted.
        r = ctl(env, "--root", root, "explain", "c2")
        assert r.returncode == 1
        said = rt.run(False, "state", "c2").stderr.strip().splitlines()[-1]
        said = re.sub(r'^time="[^"]*" ', "", said)  # runc's logrus time stamp
        assert f"{rt.real} does not know container c2: `{rt.real} --root {root} state c2` " \
            "exited with status 1 and said: " in r.stderr
        assert said in r.stderr
        assert "--root DIR" not in r.stderr
        # Without the engine's root the runtime looks elsewhere, and mppctl says what to do.
        r = ctl(env, "explain", "c1")
        assert r.returncode == 1 and "give that with --root DIR" in r.stderr

        # The container outlives its bundle directory.
        b.rename(env.root / "moved")
        try:
            r = ctl(env, "--root", root, "explain", "c1")
            assert r.returncode == 1
            assert f"the bundle of container c1, {b} (from `{rt.real} --root {root} state c1`)" \
                ", is gone" in r.stderr
        finally:
            (env.root / "moved").rename(b)
    finally:
        rt.run(True, "delete", "--force", "c1", config=env.config)
    assert detaches(env) == ["p1", "p0"]


# check-config, arguments, configuration

def test_check_config_good(env):
    env.plugin("p0")
    env.write_config(["p0"], runtime="/usr/bin/runc")
    r = ctl(env, "check-config")
    assert r.returncode == 0, r.stdout + r.stderr
    assert f'ok      plugin "p0": found and trusted: unix:{env.plugin_dir / "p0.sock"}' in r.stdout
    doc = ctl_json(env, "check-config", env.config, config=False)
    assert doc["ok"] is True
    assert [c["check"] for c in doc["checks"]] == ["config", "plugin_dirs",
                                                   'plugin "p0"', "state_dir", "runtime"]


def test_check_config_problems(env):
    spec = env.plugin_dir / "loose.spec"
    spec.write_text("unix:///nowhere.sock\n")
    os.chmod(spec, 0o666)
    env.write_config(["absent", "loose"], runtime=str(env.root / "no-runtime"))
    doc = ctl_json(env, "check-config", rc=1)
    assert doc["ok"] is False
    bad = {c["check"]: c["message"] for c in doc["checks"] if not c["ok"]}
    assert set(bad) == {'plugin "absent"', 'plugin "loose"', "runtime"}
    assert "absent" in bad['plugin "absent"']
    assert "writable" in bad['plugin "loose"'] or "loose.spec" in bad['plugin "loose"']
    r = ctl(env, "check-config")
    assert r.returncode == 1 and "3 problems found" in r.stderr
    assert 'FAILED  plugin "absent"' in r.stdout


def test_check_config_rejects_a_bad_file(env):
    env.config.write_text(json.dumps({"plugins": [], "plugin_dir": ["/x"]}))
    r = ctl(env, "check-config", env.config, config=False)
    assert r.returncode == 1 and "plugin_dir" in r.stdout
    env.config.write_text("{not json")
    r = ctl(env, "check-config", env.config, config=False)
    assert r.returncode == 1 and str(env.config) in r.stdout


def test_missing_config(env):
    missing = env.root / "nope.json"
    for cmd in (["ps"], ["plugins"], ["recover", "--all"]):
        r = subprocess.run([MPPCTL, f"--mpp-config={missing}"] + cmd, capture_output=True,
                           text=True)
        assert r.returncode == 1 and str(missing) in r.stderr, (cmd, r.stderr)
    r = ctl(env, "ps", config=False, extra_env={"MPP_CONFIG": str(missing)})
    assert r.returncode == 1 and str(missing) in r.stderr
    r = ctl(env, "check-config", missing, config=False)
    assert r.returncode == 1 and str(missing) in r.stdout
    r = ctl(env, "--json", "ps", config=False, extra_env={"MPP_CONFIG": str(missing)})
    assert r.returncode == 1 and str(missing) in json.loads(r.stdout)["error"]


def test_config_from_environment(env):
    env.write_config([])
    r = ctl(env, "ps", "--json", config=False, extra_env={"MPP_CONFIG": str(env.config)})
    assert r.returncode == 0 and json.loads(r.stdout)["state_dir"] == str(env.state_dir)


@pytest.mark.parametrize("args", [[], ["frobnicate"], ["--bogus", "ps"], ["ps", "a", "b"],
                                  ["explain"], ["recover"], ["recover", "c1", "--all"],
                                  ["ps", "--all"], ["plugins", "extra"],
                                  ["recover", "../etc"]])
def test_bad_arguments_are_usage_errors(env, args):
    env.write_config([])
    r = ctl(env, *args)
    assert r.returncode == 2, (args, r.stdout, r.stderr)
    assert r.stderr.startswith("mppctl: ") or "usage:" in r.stderr


def test_help(env):
    r = subprocess.run([MPPCTL, "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "usage: mppctl" in r.stdout and "recover" in r.stdout


def test_explain_by_id_while_a_foreground_run_holds_the_pinned_bundle(env, rootfs, rt):
    """During `run` the runtime's bundle (mpp's copy) names the pins (state_dir/pins/K); explain
    by ID explains the engine's bundle, which is never rewritten."""
    src = env.root / "src"
    src.mkdir()
    env.plugin("p0", "--patterns", json.dumps(ONLY_DATA))
    env.write_config(["p0"], runtime=rt.real)
    root = env.root / f"{os.path.basename(rt.real)}-state"
    b = make_bundle(env.root / "r1", rootfs, ["/bin/sleep", "1000"], [oci_bind(src, "/data")])
    given = (b / "config.json").read_bytes()
    p = subprocess.Popen(rt.cmd(True, "run", "--bundle", str(b), "r1", config=env.config),
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: rt.state("r1") == "running", what="running")
        assert (b / "config.json").read_bytes() == given
        copy = json.loads(rt.run(False, "state", "r1").stdout)["bundle"]
        pinned = json.loads((Path(copy) / "config.json").read_text())
        assert [m["source"] for m in pinned["mounts"] if m["destination"] == "/data"] == \
            [str(env.state_dir / "pins/0")]
        doc = ctl_json(env, "explain", "r1", "--root", root)
        assert {m["destination"]: m["source"] for m in doc["mounts"]} == {"/data": str(src)}
        assert [p["plugin"] for p in doc["mounts"][0]["plugins"]] == ["p0"]
    finally:
        rt.run(False, "kill", "r1", "KILL")
        p.wait(timeout=30)
    assert (b / "config.json").read_bytes() == given
