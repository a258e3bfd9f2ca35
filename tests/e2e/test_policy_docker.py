"""mpp-plugin-policy under dockerd (`docker run --runtime mpp`): a denial reaches the user with
the rule's message; an allowed mount works; rules scoped by docker labels."""
import json
import os

from engines import IMAGE
from mpp import BUILD

POLICY = BUILD / "plugins/policy/mpp-plugin-policy"


def start_policy(case, rules):
    cfg = case.env.root / "policy.json"
    cfg.write_text(json.dumps({"rules": rules}))
    case.env.daemon("policy", [POLICY, "--config", cfg, "--socket",
                               case.env.plugin_dir / "policy.sock"])
    case.use(["policy"])


def test_policy_denies_and_allows_under_docker(docker, case):
    src = case.env.root / "src"
    src.mkdir()
    (src / "f").write_text("allowed\n")
    team = case.env.root / "team-a"
    team.mkdir()
    when = [{"Exists": [{"Key": {"Exactly": "team"}, "Value": {"Exactly": "a"}}]}]
    start_policy(case, [{"name": "protect-host", "protect": ["/etc/shadow"]},
                        {"name": "team-a", "when": when, "allow_sources": [str(team)]}])

    r = docker.run(case.name, "-v", "/etc:/host-etc", IMAGE, "true")
    assert r.returncode != 0
    assert ('mount point plugin "policy" denied /etc -> /host-etc: policy rule "protect-host" '
            'denies /etc -> /host-etc: it exposes /etc/shadow; mount a subdirectory that holds '
            'no protected path instead') in r.stderr, r.stderr

    r = docker.run(case.name, "-v", f"{src}:/data", IMAGE, "cat", "/data/f")
    assert (r.returncode, r.stdout) == (0, "allowed\n"), r.stderr

    r = docker.run(case.name, "--label", "team=a", "-v", f"{src}:/data", IMAGE, "true")
    assert r.returncode != 0 and 'policy rule "team-a" denies' in r.stderr, r.stderr
    r = docker.run(case.name, "--label", "team=a", "-v", f"{team}:/data", IMAGE, "true")
    assert r.returncode == 0, r.stderr
    assert docker.containers(case.name) == []


def test_a_bind_volume_of_a_protected_directory_is_refused_under_docker(docker, case):
    # `docker volume create --opt type=none --opt o=bind --opt device=DIR V` reaches the runtime
    # as a bind from /var/lib/docker/volumes/V/_data, which dockerd has made a mount of DIR: a
    # name that no rule mentions. The policy judges what it is.
    prot = case.env.root / "protected"
    prot.mkdir()
    (prot / "secret").write_text("s\n")
    start_policy(case, [{"name": "prot", "protect": [str(prot)]}])
    vol = docker.volume(f"mpp-e2e-bindvol-{os.getpid()}")
    docker.docker("volume", "create", "--opt", "type=none", "--opt", "o=bind", "--opt",
                  f"device={prot}", vol, check=True)
    data = f"/var/lib/docker/volumes/{vol}/_data"
    r = docker.run(case.name, "-v", f"{vol}:/v", IMAGE, "cat", "/v/secret")
    assert r.returncode != 0, r.stdout
    assert "s\n" not in r.stdout
    assert (f'mount point plugin "policy" denied {data} -> /v: policy rule "prot" denies '
            f'{data} -> /v: {data} is, or lies inside, the protected {prot}: {data} is the same '
            'file system object under another name') in r.stderr, r.stderr
    # A bind volume of a directory that holds nothing protected still works.
    ok = case.env.root / "ok"
    ok.mkdir()
    (ok / "f").write_text("fine\n")
    vol2 = docker.volume(f"mpp-e2e-okvol-{os.getpid()}")
    docker.docker("volume", "create", "--opt", "type=none", "--opt", "o=bind", "--opt",
                  f"device={ok}", vol2, check=True)
    r = docker.run(case.name, "-v", f"{vol2}:/v", IMAGE, "cat", "/v/f")
    assert (r.returncode, r.stdout) == (0, "fine\n"), r.stderr
    assert docker.containers(case.name) == []
