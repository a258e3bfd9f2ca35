#!/usr/bin/env python3
"""mpp's benchmarks: every figure is a ratio against a baseline measured side by side, the two
sides interleaved (A B A B ...) in the same run, reported as medians with their spread.

    bench/bench.py [--quick] [--only NAME]

Prints one table (figure, value, baseline, ratio, target, met) and writes the results as JSON
under bench/results/."""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests/system"))
os.environ.setdefault("MPP_BUILD", str(HERE.parent / "build"))

from mpp import (BUILD, MPP_RUNTIME, RUNTIMES, Env, fix_crun_cgroups, make_bundle,  # noqa: E402
                 make_rootfs, oci_bind)

RESULTS = []


def record(name, value, baseline, unit, target=None, met=None, spread=None, note=""):
    ratio = value / baseline if baseline else None
    RESULTS.append({"figure": name, "value": value, "baseline": baseline, "unit": unit,
                    "ratio": ratio, "target": target, "met": met, "spread": spread,
                    "note": note})


def interleaved(sides, runs, warmup=3):
    """Run each side's callable in turn, runs times; returns {side: [seconds...]}."""
    times = {k: [] for k in sides}
    order = list(sides)
    for i in range(warmup + runs):
        # Rotate who goes first, so that no side always pays for a cold start.
        for k in order[i % len(order):] + order[:i % len(order)]:
            fn = sides[k]
            t0 = time.perf_counter()
            fn(i)
            dt = time.perf_counter() - t0
            if i >= warmup:
                times[k].append(dt)
    return times


def med(xs):
    return statistics.median(xs)


def spread(xs):
    q = statistics.quantiles(xs, n=4)
    return {"p25": q[0], "p75": q[2], "n": len(xs)}


def bench_container_start(quick):
    """create, start, delete of /bin/true with one bind mount: the bare runtime
    vs mpp-runtime with no plugin, 8 plugins matching nothing, and 1, 3, 8 matching no-ops."""
    fix_crun_cgroups()
    runs = 15 if quick else 60
    with tempfile.TemporaryDirectory(prefix="mpp-bench-") as tmp:
        root = Path(tmp)
        os.chmod(root, 0o755)
        env = Env(root)
        rootfs = root / "rootfs"
        make_rootfs(rootfs)
        src = root / "src"
        src.mkdir()
        bundle = make_bundle(root / "b", rootfs, ["/bin/true"], [oci_bind(src, "/data")])
        never = json.dumps([{"Destination": [{"Exactly": "/never"}]}])
        names_none = [f"none{i}" for i in range(8)]
        names_match = [f"match{i}" for i in range(8)]
        try:
            for n in names_none:
                env.plugin(n, "--patterns", never)
            for n in names_match:
                env.plugin(n)
            for rt_name, real in sorted(RUNTIMES.items()):
                configs = {}
                for label, plugins in [("mpp, no plugin", []), ("8 plugins, none match",
                                       names_none), ("1 matching no-op", names_match[:1]),
                                      ("3 matching no-ops", names_match[:3]),
                                      ("8 matching no-ops", names_match)]:
                    cfg = root / f"{rt_name}-{len(configs)}.json"
                    cfg.write_text(json.dumps({
                        "runtime": real, "plugins": plugins, "plugin_dirs": [str(env.plugin_dir)],
                        "state_dir": str(root / "state")}))
                    configs[label] = cfg
                state_root = root / f"{rt_name}-root"

                def run(argv_prefix, i, tag):
                    """create, start, delete: the three calls an engine makes."""
                    cid = f"{tag}-{i}"
                    base = argv_prefix + ["--root", str(state_root)]
                    # Not a pipe: the created container inherits stdio and would hold it open.
                    with open(root / "bench.err", "w+") as errf:
                        for args in (["create", "--bundle", str(bundle), cid], ["start", cid],
                                     ["delete", "--force", cid]):
                            r = subprocess.run(base + args, stdin=subprocess.DEVNULL,
                                               stdout=subprocess.DEVNULL, stderr=errf)
                            if r.returncode != 0:
                                errf.seek(0)
                                raise SystemExit(f"{base[0]} {args[0]} failed: {errf.read()}")

                sides = {"bare": lambda i: run([real], i, "bare")}
                for k, (label, cfg) in enumerate(configs.items()):
                    sides[label] = (lambda c, k: lambda i: run(
                        [MPP_RUNTIME, f"--mpp-config={c}"], i, f"m{k}"))(cfg, k)
                # Prime the properties cache outside the measurement.
                for k, (label, cfg) in enumerate(configs.items()):
                    run([MPP_RUNTIME, f"--mpp-config={cfg}"], 0, f"prime{k}")
                t = interleaved(sides, runs)
                bare = med(t["bare"])
                for label in configs:
                    v = med(t[label])
                    target = met = None
                    if label == "8 plugins, none match":
                        target, met = "<= 1.05x bare", v / bare <= 1.05
                    record(f"start {rt_name}: {label}", v * 1e3, bare * 1e3, "ms", target, met,
                           {k: x * 1e3 for k, x in spread(t[label]).items() if k != "n"})
                base = med(t["mpp, no plugin"])
                for label, n in [("1 matching no-op", 1), ("3 matching no-ops", 3),
                                 ("8 matching no-ops", 8)]:
                    per = (med(t[label]) - base) / n * 1e3
                    record(f"start {rt_name}: added per matching plugin ({n})", per, None, "ms",
                           "<= 1.5 ms", per <= 1.5,
                           note="attach and detach together, vs mpp with no plugin")
        finally:
            env.stop_all()


BENCHES = {"start": bench_container_start}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", action="append")
    args = ap.parse_args()
    for name, fn in BENCHES.items():
        if not args.only or name in args.only:
            fn(args.quick)

    w = max(len(r["figure"]) for r in RESULTS)
    print(f"{'figure':<{w}}  {'value':>10}  {'baseline':>10}  {'ratio':>7}  {'target':<16} met")
    for r in RESULTS:
        base = f"{r['baseline']:.2f}" if r["baseline"] is not None else "-"
        ratio = f"{r['ratio']:.3f}" if r["ratio"] is not None else "-"
        met = {True: "yes", False: "NO", None: "-"}[r["met"]]
        print(f"{r['figure']:<{w}}  {r['value']:>8.2f}{r['unit']:>2}  {base:>10}  {ratio:>7}  "
              f"{(r['target'] or '-'):<16} {met}")
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    doc = {"time": stamp, "quick": args.quick, "machine": {
        "cpus": os.cpu_count(), "kernel": platform.release(), "python": platform.python_version()},
        "results": RESULTS}
    (out / f"bench-{stamp}.json").write_text(json.dumps(doc, indent=1))
    (out / "latest.json").write_text(json.dumps(doc, indent=1))
    print(f"results: {out / ('bench-' + stamp + '.json')}")


if __name__ == "__main__":
    main()
