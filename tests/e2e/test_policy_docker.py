"""mpp-plugin-policy under dockerd (`docker run --runtime mpp`): a denial reaches the user with
the rule's message; an allowed mount works; rules scoped by docker labels."""
import json

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
