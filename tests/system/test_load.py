"""Issue 8's load test: 50 containers started at once through mpp-runtime, with three real
plugins in the chain. Every container starts and exits 0, every plugin that attached detaches
once per container, each container sees its own redirected directory (so concurrent answers were
not mixed up), and nothing is left behind: no mount, no state."""
import json
from concurrent.futures import ThreadPoolExecutor

from mpp import (MPP_RUNTIME, make_bundle, mount_changes, mount_table, oci_bind, run_measured,
                 unique_id)

N = 50


def test_fifty_containers_at_once(env, rootfs, rt):
    name = rt.real.rsplit("/", 1)[1]
    tag = unique_id(f"load-{name}")
    ids = [f"{tag}-{i:02d}" for i in range(N)]
    src = env.root / "src"
    src.mkdir()
    per_container = env.root / "per-container"
    per_container.mkdir()
    # red gives each container a directory of its own; att attaches (and sees red's change);
    # none selects no mount of these containers: it costs them no round trip.
    env.plugin("red", "--attach", f"redirect-id:{per_container}")
    env.plugin("att")
    env.plugin("none", "--patterns", json.dumps([{"Destination": [{"Exactly": "/never"}]}]))
    env.write_config(["red", "att", "none"], runtime=rt.real, call_timeout_ms=20000,
                     detach_timeout_ms=30000)
    bundles = {}
    for cid in ids:
        # Each container writes its own ID where it sees /data.
        bundles[cid] = make_bundle(env.root / "bundles" / cid, rootfs,
                                   ["/bin/sh", "-c", f"echo {cid} > /data/who"],
                                   [oci_bind(src, "/data")])
    before = mount_table()

    def run(cid):
        return run_measured([MPP_RUNTIME, f"--mpp-config={env.config}", "--root",
                             env.root / f"{name}-state", "run", "--bundle", bundles[cid], cid],
                            env.root / "bundles" / cid, "run", timeout=120)

    with ThreadPoolExecutor(max_workers=N) as pool:
        results = dict(zip(ids, pool.map(run, ids)))

    failed = {cid: (r.returncode, r.stderr) for cid, r in results.items() if r.returncode != 0}
    assert failed == {}
    for cid in ids:
        assert results[cid].stderr == "", results[cid].stderr
        # What the container saw at /data was its own directory, and only that.
        assert (per_container / cid / "who").read_text() == f"{cid}\n"
    assert sorted(p.name for p in per_container.iterdir()) == ids
    assert not (src / "who").exists()

    # Per plugin, per container: one attach, then one detach, in reverse chain order.
    recs = env.records()
    by_id = {cid: [] for cid in ids}
    for rec in recs:
        if rec["call"] in ("attach", "detach"):
            by_id[rec["request"]["ID"]].append(rec)
    for cid in ids:
        # Logged as called: a container's calls are causally ordered, whatever the others do.
        calls = [f'{r["plugin"]}:{r["call"]}' for r in by_id[cid]]
        assert calls == ["red:attach", "att:attach", "att:detach", "red:detach"], (cid, calls)
        red_att, att_att = by_id[cid][0]["request"], by_id[cid][1]["request"]
        assert red_att["Mounts"][0]["EffectiveSource"] == str(src)
        # att saw red's change for this container, not another's.
        mount = att_att["Mounts"][0]
        assert mount["EffectiveSource"] == str(per_container / cid)
        assert [a["Name"] for a in mount["AppliedMiddleware"]] == ["plugin:red"]
        for r in by_id[cid][2:]:
            assert r["request"].get("ExitStatus") == 0
            assert [m["Destination"] for m in r["request"]["Mounts"]] == ["/data"]
    assert [r["call"] for r in recs if r["plugin"] == "none"
            and r["call"] not in ("activate", "properties")] == []

    # Nothing left behind.
    appeared, vanished = mount_changes(before, mount_table(), [env.root.parent], [tag])
    assert (appeared, vanished) == (set(), set())
    for cid in ids:
        assert not env.cstate(cid).exists()
        assert not (env.state_dir / "gates" / cid).exists()
        assert rt.state(cid) is None
    containers = env.state_dir / "containers"
    assert not containers.exists() or list(containers.iterdir()) == []
