"""mpp-plugin-policy through mpp-runtime with real containers (crun and runc): each rule kind
allows and denies what it should, with its message; bad configurations; SIGHUP reload."""
import json
import os
import signal
import subprocess

import pytest

from mpp import BUILD, make_bundle, oci_bind, unique_id, wait_for

POLICY = BUILD / "plugins/policy/mpp-plugin-policy"


def start_policy(env, rules, default=None):
    cfg = {"rules": rules}
    if default:
        cfg["default"] = default
    path = env.root / "policy.json"
    path.write_text(json.dumps(cfg))
    d = env.daemon("policy", [POLICY, "--config", path, "--socket", env.plugin_dir / "policy.sock"])
    d.config = path
    return d


def run(env, rt, rootfs, mounts, cid, args=("/bin/true",), labels=None):
    env.write_config(["policy"], runtime=rt.real)
    ann = {f"mpp.labels.{k}": v for k, v in (labels or {}).items()}
    b = make_bundle(env.root / f"b-{cid}", rootfs, list(args), mounts, annotations=ann or None)
    r = rt.run(True, "run", "--bundle", str(b), cid, config=env.config)
    rt.run(False, "delete", "--force", cid)
    return r


def denied(r, src, dst, rule_msg):
    assert r.returncode != 0, r.stdout
    assert f'mount point plugin "policy" denied {src} -> {dst}: policy ' in r.stderr, r.stderr
    assert rule_msg in r.stderr, r.stderr


def tree(root, files):
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


# protect

def test_protect_denies_a_mount_exposing_a_protected_path(env, rootfs, rt):
    cid = unique_id("p1")
    start_policy(env, [{"name": "protect-host", "protect": ["/etc/shadow"]}])
    r = run(env, rt, rootfs, [oci_bind("/etc", "/host-etc")], cid)
    denied(r, "/etc", "/host-etc",
           'policy rule "protect-host" denies /etc -> /host-etc: it exposes /etc/shadow; mount a '
           'subdirectory that holds no protected path instead')
    # "/" exposes it too.
    r = run(env, rt, rootfs, [oci_bind("/", "/host")], "p2")
    denied(r, "/", "/host", 'policy rule "protect-host" denies / -> /host: it exposes /etc/shadow')


def test_protect_allows_what_holds_no_protected_path(env, rootfs, rt):
    cid = unique_id("p1")
    src = tree(env.root / "src", {"f": "hello\n"})
    start_policy(env, [{"name": "protect-host", "protect": ["/etc/shadow", str(env.root / "x")]}])
    r = run(env, rt, rootfs, [oci_bind(src, "/data")], cid, ["/bin/cat", "/data/f"])
    assert (r.returncode, r.stdout) == (0, "hello\n"), r.stderr


def test_protect_denies_a_path_inside_a_protected_directory(env, rootfs, rt):
    cid = unique_id("p1")
    secret = tree(env.root / "secret", {"sub/f": "s"})
    start_policy(env, [{"name": "secrets", "protect": [str(secret)]}])
    r = run(env, rt, rootfs, [oci_bind(secret / "sub", "/d")], cid)
    denied(r, secret / "sub", "/d", f"{secret}/sub is inside the protected {secret}")


def test_protect_sees_through_a_symlink_to_a_protected_path(env, rootfs, rt):
    cid = unique_id("p1")
    link = env.root / "innocent"
    os.symlink("/etc", link)
    start_policy(env, [{"name": "protect-host", "protect": ["/etc/shadow"]}])
    r = run(env, rt, rootfs, [oci_bind(link, "/data")], cid)
    # mpp resolves the link before asking: the policy judges /etc, and the user is told both.
    denied(r, "/etc", "/data", "it exposes /etc/shadow")
    assert f"(source {link} resolves to /etc)" in r.stderr, r.stderr


def test_protect_a_socket_and_its_directory_named_through_a_symlink(env, rootfs, rt):
    # Like /var/run/docker.sock where /var/run -> /run: mounting /run must be denied too.
    run_dir = env.root / "run"
    run_dir.mkdir()
    (run_dir / "docker.sock").write_text("")
    var = env.root / "var"
    var.mkdir()
    os.symlink(run_dir, var / "run")
    sock = var / "run" / "docker.sock"
    start_policy(env, [{"name": "docker-socket", "protect": [str(sock)]}])
    for i, src in enumerate([var / "run", run_dir, sock, env.root]):
        r = run(env, rt, rootfs, [oci_bind(src, "/x")], f"s{i}")
        # The policy judges the canonical path; the user is told what the one they wrote is.
        canon = os.path.realpath(src)
        denied(r, canon, "/x", 'policy rule "docker-socket" denies')
        if str(src) != canon:
            assert f"(source {src} resolves to {canon})" in r.stderr, r.stderr
    other = env.root / "other"
    other.mkdir()
    assert run(env, rt, rootfs, [oci_bind(other, "/x")], "ok").returncode == 0


# allow_sources

def test_allow_sources_is_an_allow_list(env, rootfs, rt):
    ok = tree(env.root / "allowed", {"sub/f": "in\n"})
    other = tree(env.root / "other", {"f": "out\n"})
    start_policy(env, [{"name": "data-only", "allow_sources": [str(ok)]}])
    r = run(env, rt, rootfs, [oci_bind(ok / "sub", "/d")], "a1", ["/bin/cat", "/d/f"])
    assert (r.returncode, r.stdout) == (0, "in\n"), r.stderr
    r = run(env, rt, rootfs, [oci_bind(other, "/d")], "a2")
    denied(r, other, "/d", f'policy rule "data-only" denies {other} -> /d: {other} is outside the '
           f'allowed sources ({ok}); mount a path under one of them')
    # A prefix is a path, not a string: /allowed-not is not under /allowed.
    sibling = tree(env.root / "allowed-not", {"f": ""})
    denied(run(env, rt, rootfs, [oci_bind(sibling, "/d")], "a3"), sibling, "/d", "is outside")


def test_allow_sources_does_not_follow_a_symlink_out(env, rootfs, rt):
    ok = env.root / "allowed"
    ok.mkdir()
    os.symlink("/etc", ok / "escape")
    start_policy(env, [{"name": "data-only", "allow_sources": [str(ok)]}])
    r = run(env, rt, rootfs, [oci_bind(ok / "escape", "/d")], "a1")
    denied(r, "/etc", "/d", "/etc is outside the allowed sources")
    assert f"(source {ok / 'escape'} resolves to /etc)" in r.stderr, r.stderr


def test_label_scoped_allow_lists(env, rootfs, rt):
    a = tree(env.root / "team-a", {"f": "a\n"})
    b = tree(env.root / "team-b", {"f": "b\n"})
    when = [{"Exists": [{"Key": {"Exactly": "team"}, "Value": {"Exactly": "a"}}]}]
    start_policy(env, [{"name": "team-a-data", "when": when, "allow_sources": [str(a)]}])
    r = run(env, rt, rootfs, [oci_bind(a, "/d")], "l1", ["/bin/cat", "/d/f"], {"team": "a"})
    assert (r.returncode, r.stdout) == (0, "a\n"), r.stderr
    r = run(env, rt, rootfs, [oci_bind(b, "/d")], "l2", labels={"team": "a"})
    denied(r, b, "/d", 'policy rule "team-a-data" denies')
    # The rule does not apply to other containers: default allow.
    r = run(env, rt, rootfs, [oci_bind(b, "/d")], "l3", ["/bin/cat", "/d/f"], {"team": "b"})
    assert (r.returncode, r.stdout) == (0, "b\n"), r.stderr


# read_only

def test_read_only_denies_read_write_and_allows_read_only(env, rootfs, rt):
    cid = unique_id("r1")
    src = tree(env.root / "shared", {"f": "ro\n"})
    start_policy(env, [{"name": "shared-ro", "read_only": [str(src)]}])
    r = run(env, rt, rootfs, [oci_bind(src, "/s")], cid)
    denied(r, src, "/s", f'policy rule "shared-ro" denies the read-write mount {src} -> /s: '
           f'{src} may only be mounted read-only; add :ro (-v {src}:/s:ro)')
    r = run(env, rt, rootfs, [oci_bind(src, "/s", ro=True)], "r2",
            ["/bin/sh", "-c", "cat /s/f; touch /s/new && echo WROTE; true"])
    assert r.returncode == 0 and r.stdout == "ro\n", (r.stdout, r.stderr)
    assert "Read-only file system" in r.stderr
    assert not (src / "new").exists()
    # A read-write parent of the read-only path would expose it read-write.
    denied(run(env, rt, rootfs, [oci_bind(env.root, "/s")], "r3"), env.root, "/s",
           "may only be mounted read-only")


# require_existing

def test_require_existing_refuses_a_missing_source(env, rootfs, rt):
    start_policy(env, [{"name": "no-typos", "require_existing": True}])
    missing = env.root / "tyop"
    r = run(env, rt, rootfs, [oci_bind(missing, "/d")], "e1")
    denied(r, missing, "/d", f'policy rule "no-typos" denies {missing} -> /d: {missing} does not '
           'exist')
    assert not missing.exists()
    there = env.root / "there"
    there.mkdir()
    assert run(env, rt, rootfs, [oci_bind(there, "/d")], "e2").returncode == 0


# order and default

def test_first_matching_rule_decides(env, rootfs, rt):
    src = tree(env.root / "src", {"secret/k": "k"})
    protect = {"name": "keys", "protect": [str(src / "secret")]}
    allow = {"name": "trusted", "allow_sources": [str(src)]}
    start_policy(env, [protect, allow])
    denied(run(env, rt, rootfs, [oci_bind(src, "/d")], "o1"), src, "/d", 'rule "keys" denies')
    env.stop_all()
    env.plugins.clear()
    start_policy(env, [allow, protect])
    assert run(env, rt, rootfs, [oci_bind(src, "/d")], "o2").returncode == 0


def test_default_deny(env, rootfs, rt):
    src = env.root / "src"
    src.mkdir()
    start_policy(env, [], default="deny")
    denied(run(env, rt, rootfs, [oci_bind(src, "/d")], "d1"), src, "/d",
           'policy denies %s -> /d: no rule allows it and the default is "deny"' % src)


# reload

def test_plugin_restart_between_attach_and_detach(env, rootfs, rt):
    """The policy attaches nothing, so a container it allowed tears down without it: killed
    after the create, the delete neither waits for it nor fails; restarted, it decides anew."""
    cid = unique_id("r1")
    src = tree(env.root / "data", {"f": "in\n"})
    p = start_policy(env, [{"name": "data-only", "allow_sources": [str(src)]}])
    env.write_config(["policy"], runtime=rt.real)
    b = make_bundle(env.root / "b-r1", rootfs, ["/bin/cat", "/d/f"], [oci_bind(src, "/d")])
    # Not pipes: the created container would hold them open.
    r = rt.run(True, "create", "--bundle", str(b), cid, config=env.config,
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, capture_output=False)
    assert r.returncode == 0
    p.kill()
    assert rt.run(True, "start", cid, config=env.config).returncode == 0
    wait_for(lambda: rt.state(cid) == "stopped", what="stopped")
    d = rt.run(True, "delete", cid, config=env.config)
    assert (d.returncode, d.stderr) == (0, ""), d.stderr
    assert not (env.state_dir / "containers" / cid).exists()

    start_policy(env, [{"name": "data-only", "allow_sources": [str(src)]}])
    r = run(env, rt, rootfs, [oci_bind(src, "/d")], "r2", ["/bin/cat", "/d/f"])
    assert (r.returncode, r.stdout) == (0, "in\n"), r.stderr
    other = tree(env.root / "other", {"f": ""})
    denied(run(env, rt, rootfs, [oci_bind(other, "/d")], "r3"), other, "/d", "is outside")


def test_sighup_reloads_and_a_bad_configuration_keeps_the_old_one(env, rootfs, rt):
    src = tree(env.root / "src", {"f": "x"})
    d = start_policy(env, [{"name": "lock", "protect": [str(src)]}])
    denied(run(env, rt, rootfs, [oci_bind(src, "/d")], "h1"), src, "/d", 'rule "lock" denies')

    d.config.write_text(json.dumps({"rules": [{"name": "open", "protect": ["/nowhere"]}]}))
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "reloaded" in d.stderr_path.read_text(), what="reload")
    assert run(env, rt, rootfs, [oci_bind(src, "/d")], "h2").returncode == 0

    d.config.write_text('{"rules": [{"name": "broken", "protect": "/etc"}]}')
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "reload failed" in d.stderr_path.read_text(), what="failed reload")
    log = d.stderr_path.read_text()
    assert "keeping the previous configuration" in log
    assert 'rule "broken": protect: expected a list of strings' in log
    assert d.proc.poll() is None
    assert run(env, rt, rootfs, [oci_bind(src, "/d")], "h3").returncode == 0

    d.config.write_text(json.dumps({"rules": [{"name": "lock2", "protect": [str(src)]}]}))
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: d.stderr_path.read_text().count("reloaded") == 2, what="second reload")
    denied(run(env, rt, rootfs, [oci_bind(src, "/d")], "h4"), src, "/d", 'rule "lock2" denies')


# bad configurations

BAD = [
    ('{"rules": [', "line 1 column 11"),
    ('{"rules": [], "rules": []}', "duplicate object key"),
    ('[]', "expected an object at the top level"),
    ('{"rulez": []}', 'unknown key "rulez" (known keys: default, rules)'),
    ('{"default": "maybe"}', 'default: expected "allow" or "deny", got "maybe"'),
    ('{"rules": {}}', "rules: expected a list of rules"),
    ('{"rules": [{"protect": ["/etc"]}]}', "rules[0]: name: missing"),
    ('{"rules": [{"name": "r"}]}', 'rule "r": no kind'),
    ('{"rules": [{"name": "r", "protect": ["/a"], "read_only": ["/b"]}]}',
     'rule "r": has both "protect" and "read_only"'),
    ('{"rules": [{"name": "r", "protect": ["etc"]}]}',
     'rule "r": protect[0]: "etc" is not an absolute path'),
    ('{"rules": [{"name": "r", "protect": []}]}', 'rule "r": protect: expected a non-empty list'),
    ('{"rules": [{"name": "r", "allow_sources": [1]}]}',
     'rule "r": allow_sources[0]: expected a string, got integer'),
    ('{"rules": [{"name": "r", "require_existing": "yes"}]}',
     'rule "r": require_existing: expected true or false, got string'),
    ('{"rules": [{"name": "r", "read_only": ["/a"], "colour": 1}]}',
     'rules[0]: unknown key "colour"'),
    ('{"rules": [{"name": "r", "read_only": ["/a"], "when": {}}]}',
     'rule "r": when: expected a list of StringMapPatterns'),
    ('{"rules": [{"name": "r", "read_only": ["/a"], "when": [{"Exists": 3}]}]}', 'rule "r": when'),
    ('{"rules": [{"name": "r", "read_only": ["/a"]}, {"name": "r", "protect": ["/b"]}]}',
     'rules[1]: name "r" is already used by rules[0]'),
    ('{"rules": [{"name": "r", "allow_sources": ["/a"], "deny_hard_links": true}]}',
     'rule "r": deny_hard_links: only for protect and read_only rules'),
    ('{"rules": [{"name": "r", "require_existing": true, "deny_hard_links": true}]}',
     'rule "r": deny_hard_links: only for protect and read_only rules'),
    ('{"rules": [{"name": "r", "protect": ["/a"], "deny_hard_links": "yes"}]}',
     'rule "r": deny_hard_links: expected true or false, got string'),
]


@pytest.mark.parametrize("text,msg", BAD)
def test_bad_configuration_is_refused_at_start(env, text, msg):
    path = env.root / "bad.json"
    path.write_text(text)
    r = subprocess.run([str(POLICY), "--config", str(path), "--socket",
                        str(env.plugin_dir / "policy.sock")], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 1, r.stderr
    assert f"mpp-plugin-policy: bad configuration: {path}: " in r.stderr
    assert msg in r.stderr
    assert not (env.plugin_dir / "policy.sock").exists()


def test_missing_or_unreadable_configuration(env):
    r = subprocess.run([str(POLICY)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "--config FILE is required" in r.stderr
    r = subprocess.run([str(POLICY), "--config", str(env.root / "none.json")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert f"{env.root}/none.json: cannot open: No such file or directory" in r.stderr
    r = subprocess.run([str(POLICY), "--bogus"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "unknown option --bogus" in r.stderr and "usage:" in r.stderr
