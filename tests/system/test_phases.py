"""MPP_PHASES=FILE: mpp-runtime's phase timings, which bench/bench.py's phase table reads."""
import collections
import json
import os
import subprocess

from mpp import make_bundle, oci_bind

CREATE_PHASES = {"configuration", "bundle read", "mounts described", "pinning", "matching",
                 "properties", "discovery", "connect", "journal", "attach round trip",
                 "bundle copy", "namespace set-up", "real runtime"}
DELETE_PHASES = {"configuration", "state check", "real runtime", "bundle copy", "journal",
                 "detach round trip"}


def lifecycle(rt, cfg, bundle, cid, environ, log):
    """Not pipes: the created container inherits stdio and would hold a pipe open."""
    for args in (["create", "--bundle", str(bundle), cid], ["start", cid],
                 ["delete", "--force", cid]):
        with open(log, "w+") as out:
            r = rt.run(True, *args, config=cfg, env=environ, stdin=subprocess.DEVNULL,
                       stdout=out, stderr=out, capture_output=False)
            out.seek(0)
            assert r.returncode == 0, out.read()


def read_phases(path):
    """{(cmd, pid): {phase: [us, ...]}}: every line is a JSON object with these four keys."""
    runs = collections.defaultdict(lambda: collections.defaultdict(list))
    for line in path.read_text().splitlines():
        x = json.loads(line)
        assert set(x) == {"pid", "cmd", "phase", "us"}, x
        assert isinstance(x["us"], (int, float)) and x["us"] >= 0, x
        runs[x["cmd"], x["pid"]][x["phase"]].append(x["us"])
    return runs


def test_phases_of_create_and_delete(env, rootfs, rt, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    b = make_bundle(env.root / "b", rootfs, ["/bin/true"], [oci_bind(src, "/data")])
    env.plugin("p0")
    env.write_config(["p0"], runtime=rt.real)
    phases = tmp_path / "phases.jsonl"
    lifecycle(rt, env.config, b, "ph-1", dict(os.environ, MPP_PHASES=str(phases)),
              tmp_path / "out.log")

    runs = read_phases(phases)
    by_cmd = collections.defaultdict(list)
    for (cmd, pid), ph in runs.items():
        by_cmd[cmd].append(ph)
    # One process per verb; start passes straight to the runtime after its configuration.
    assert sorted(by_cmd) == ["create", "delete", "start"], dict(runs)
    assert all(len(v) == 1 for v in by_cmd.values()), dict(runs)
    create, delete = by_cmd["create"][0], by_cmd["delete"][0]
    assert CREATE_PHASES <= set(create), sorted(create)
    assert DELETE_PHASES <= set(delete), sorted(delete)
    # Within one process a phase is one line (its total), except the child that becomes the
    # real runtime, whose own line carries the namespace set-up under the same pid.
    assert all(len(v) == 1 for ph in (create, delete) for v in ph.values()), dict(runs)
    # The container did start: the real runtime's phase holds most of the create.
    assert create["real runtime"][0] > create["attach round trip"][0] > 0
    assert set(by_cmd["start"][0]) == {"configuration"}

