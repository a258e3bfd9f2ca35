"""mpp-plugin-audit under dockerd: `docker run --label mpp.audit=true -v SRC:DST` has its writes
under DST logged with in-container paths, and a summary when the container is gone."""
import json

import engines
from engines import IMAGE
from mpp import BUILD

AUDIT = BUILD / "plugins/audit/mpp-plugin-audit"


def test_audit_under_docker(docker, case):
    src = case.env.root / "src"
    src.mkdir()
    (src / "old").write_text("x\n")
    logs = case.env.root / "logs"
    cfg = case.env.root / "audit.json"
    cfg.write_text(json.dumps({"log_dir": str(logs)}))
    case.env.daemon("audit", [AUDIT, "--socket", case.env.plugin_dir / "audit.sock",
                              "--state-dir", case.env.root / "audit-state", "--config", cfg])
    case.use(["audit"])
    cidfile = case.env.root / "cid"
    r = docker.run(case.name, "--label", "mpp.audit=true", "-v", f"{src}:/d", IMAGE, "sh", "-c",
                   "echo hi > /d/new; sleep 0.2; rm /d/old", cidfile=cidfile)
    assert r.returncode == 0, r.stderr
    cid = cidfile.read_text().strip()
    summary = logs / f"{cid}.summary.json"
    # Docker deletes the task around the time run returns: the detach may come just after.
    engines.poll(summary.exists, 30, "the audit summary")
    recs = [json.loads(l) for l in (logs / f"{cid}.jsonl").read_text().splitlines()]
    ops = [(x["op"], x.get("path")) for x in recs if x["op"] in ("create", "write", "delete")]
    assert ops == [("create", "/d/new"), ("write", "/d/new"), ("delete", "/d/old")]
    assert json.loads(summary.read_text())["counts"] == \
        {"write": 1, "create": 1, "delete": 1, "rename": 0}
