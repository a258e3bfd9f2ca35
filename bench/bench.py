#!/usr/bin/env python3
"""mpp's benchmarks: every figure is a ratio against a baseline measured side by side, the two
sides interleaved (A B A B ...) in the same run, reported as medians with their spread.

    bench/bench.py [--quick] [--only NAME]

Prints one table (figure, value, baseline, ratio, target, met), then the phase table of
mpp-runtime's create and delete for the first matching plugin (each phase's p50 and p90 in us,
for crun and runc, from MPP_PHASES: see src/runtime/phases.h), and writes the results as JSON
under bench/results/. Targets are those of issue 17 (and earlier ones where tighter).

Every mpp state_dir is on a tmpfs this script mounts (as /run is on a systemd host) and unmounts
at the end, also on failure; the start figures are also taken with state_dir on the disk
(DISK_TMP, MPP_BENCH_TMP) and given beside them. The journal benchmark keeps its state on the
disk: its syncs are what it measures."""
import argparse
import collections
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests/system"))
os.environ.setdefault("MPP_BUILD", str(HERE.parent / "build"))

from mpp import (BUILD, MPP_RUNTIME, RUNTIMES, Env, bind_mount, fix_crun_cgroups,  # noqa: E402
                 make_bundle, make_rootfs, oci_bind, wait_for)

BENCH_BIN = BUILD / "bench"
PRELOAD = BENCH_BIN / "libmpp-bench-preload.so"
# Where the data-path file systems live, and the state_dir of the "on disk" start figures: the
# machine's disk, not a tmpfs.
DISK_TMP = os.environ.get("MPP_BENCH_TMP", "/var/tmp")
# Every other state_dir is on a tmpfs that bench.py mounts itself (STATE_TMPFS.path), as /run
# is on a systemd host, where an engine's mpp-runtime keeps its state.

RESULTS = []


class StateTmpfs:
    """A tmpfs mounted for the benchmarks' state directories, unmounted at the end (also when a
    benchmark fails, and on SIGTERM)."""

    def __init__(self):
        self.dir = None

    @property
    def path(self):
        if self.dir is None:
            self.dir = Path(tempfile.mkdtemp(prefix="mpp-bench-state-"))
            subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256m,mode=0755",
                            "mpp-bench-state", str(self.dir)], check=True)
        return self.dir

    def state_dir(self, name):
        """A fresh state directory on the tmpfs: mode 0700, as mpp requires of it (with any
        other mode it keeps no properties cache and no journal)."""
        return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.path))

    def close(self):
        if self.dir is not None:
            subprocess.run(["umount", "--lazy", str(self.dir)], check=False)
            os.rmdir(self.dir)
            self.dir = None


STATE_TMPFS = StateTmpfs()


def record(name, value, baseline, unit, target=None, met=None, spread=None, note=""):
    ratio = value / baseline if baseline else None
    RESULTS.append({"figure": name, "value": value, "baseline": baseline, "unit": unit,
                    "ratio": ratio, "target": target, "met": met, "spread": spread,
                    "note": note})


# On cgroup v1 the first write to a cgroup.procs after an idle spell waits for an RCU grace
# period (the threadgroup rwsem's rcu_sync): crun's create takes 5 ms right after another
# container and 21 ms after 100 ms of quiet here. A side that starts sooner after the previous
# one's cgroup work would be timed warm, one that first works for a few ms cold; so each
# container run starts after the same quiet spell, as a container started by an engine does.
SETTLE = 0.15


def interleaved(sides, runs, warmup=3, settle=0.0):
    """Run each side's callable in turn, runs times, each after settle seconds of quiet;
    returns {side: [seconds...]}."""
    times = {k: [] for k in sides}
    order = list(sides)
    for i in range(warmup + runs):
        # Rotate who goes first, so that no side always pays for a cold start.
        for k in order[i % len(order):] + order[:i % len(order)]:
            fn = sides[k]
            if settle:
                time.sleep(settle)
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


def pct(xs, p):
    return statistics.quantiles(xs, n=100)[p - 1]


def interleaved_values(sides, runs, warmup=1):
    """Like interleaved, for sides that measure themselves: {side: [what fn(i) returned...]}."""
    vals = {k: [] for k in sides}
    order = list(sides)
    for i in range(warmup + runs):
        for k in order[i % len(order):] + order[:i % len(order)]:
            v = sides[k](i)
            if i >= warmup:
                vals[k].append(v)
    return vals


def bench_container_start(quick):
    """create, start, delete of /bin/true with one bind mount: the bare runtime
    vs mpp-runtime with no plugin, 8 plugins matching nothing, and 1, 3, 8 matching no-ops."""
    fix_crun_cgroups()
    runs = 15 if quick else 60
    with tempfile.TemporaryDirectory(prefix="mpp-bench-") as tmp, \
            tempfile.TemporaryDirectory(prefix="mpp-bench-state-", dir=DISK_TMP) as disk:
        root = Path(tmp)
        os.chmod(root, 0o755)
        os.chmod(disk, 0o755)
        env = Env(root)
        bundle = container_fixture(root)
        tmpfs_state = STATE_TMPFS.state_dir("start")
        never = json.dumps([{"Destination": [{"Exactly": "/never"}]}])
        names_none = [f"none{i}" for i in range(8)]
        names_match = [f"match{i}" for i in range(8)]
        try:
            for n in names_none:
                env.plugin(n, "--patterns", never, log=False)
            for n in names_match:
                env.plugin(n, log=False)
            for rt_name, real in sorted(RUNTIMES.items()):
                configs = {}
                sets = [("mpp, no plugin", []), ("8 plugins, none match", names_none),
                        ("1 matching no-op", names_match[:1]),
                        ("3 matching no-ops", names_match[:3]), ("8 matching no-ops", names_match)]
                # The same with state_dir on the disk (DISK_TMP), beside the tmpfs figures; with
                # no plugin mpp-runtime touches no state.
                sets += [(f"{label}, state on disk", plugins) for label, plugins in sets[1:]]
                for label, plugins in sets:
                    state = Path(disk) / "state" if label.endswith("on disk") else tmpfs_state
                    cfg = root / f"{rt_name}-{len(configs)}.json"
                    cfg.write_text(json.dumps({
                        "runtime": real, "plugins": plugins, "plugin_dirs": [str(env.plugin_dir)],
                        "state_dir": str(state)}))
                    configs[label] = cfg
                state_root = root / f"{rt_name}-root"

                def run(argv_prefix, i, tag):
                    lifecycle(argv_prefix, state_root, bundle, f"{tag}-{i}", root / "bench.err")

                # Why every run below starts after SETTLE of quiet: the bare runtime's create
                # timed right after another container's run, and after the quiet spell.
                def create_timed(i, tag, warm):
                    if warm:
                        run([real], i, f"{tag}w")
                    else:
                        time.sleep(SETTLE)
                    cid = f"{tag}-{i}"
                    base = [real, "--root", str(state_root)]
                    t0 = time.perf_counter()
                    subprocess.run(base + ["create", "--bundle", str(bundle), cid], check=True,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
                    dt = time.perf_counter() - t0
                    for args in (["start", cid], ["delete", "--force", cid]):
                        subprocess.run(base + args, check=True, stdin=subprocess.DEVNULL,
                                       stdout=subprocess.DEVNULL)
                    return dt
                w = interleaved_values({"warm": lambda i: create_timed(i, "cw", True),
                                        "settled": lambda i: create_timed(i, "cs", False)},
                                       8 if quick else 20)
                record(f"start {rt_name}: bare create right after another container",
                       med(w["warm"]) * 1e3, med(w["settled"]) * 1e3, "ms",
                       spread={k: x * 1e3 for k, x in spread(w["warm"]).items() if k != "n"},
                       note=f"baseline: the same after {SETTLE * 1e3:.0f} ms of quiet, as every "
                       "start figure here is taken (cgroup v1 waits for an RCU grace period)")

                sides = {"bare": lambda i: run([real], i, "bare"),
                         "exec only": lambda i: run([BENCH_BIN / "mpp-bench-exec", real], i, "x")}
                for k, (label, cfg) in enumerate(configs.items()):
                    sides[label] = (lambda c, k: lambda i: run(
                        [MPP_RUNTIME, f"--mpp-config={c}"], i, f"m{k}"))(cfg, k)
                # Prime the properties cache outside the measurement.
                for k, (label, cfg) in enumerate(configs.items()):
                    run([MPP_RUNTIME, f"--mpp-config={cfg}"], 0, f"prime{k}")
                t = interleaved(sides, runs, settle=SETTLE)
                bare = med(t["bare"])
                for label in configs:
                    v = med(t[label])
                    target = met = None
                    if label == "8 plugins, none match":
                        target, met = "<= 1.05x bare", v / bare <= 1.05
                    if label.endswith("on disk"):
                        on_tmpfs = med(t[label[:-len(", state on disk")]])
                        record(f"start {rt_name}: {label}", v * 1e3, on_tmpfs * 1e3, "ms",
                               spread={k: x * 1e3 for k, x in spread(t[label]).items()
                                       if k != "n"},
                               note=f"baseline: the same with state_dir on a tmpfs; disk of "
                               f"{DISK_TMP}; per-round ratio "
                               f"{per_round(t[label], t[label[:-len(', state on disk')]]):.3f}")
                        continue
                    record(f"start {rt_name}: {label}", v * 1e3, bare * 1e3, "ms", target, met,
                           {k: x * 1e3 for k, x in spread(t[label]).items() if k != "n"},
                           note=f"per-round ratio {per_round(t[label], t['bare']):.3f}")
                # Any shim costs one more exec per verb; the static one that does nothing else
                # is the floor, and mpp's own share is what it adds over that.
                shim = med(t["exec only"])
                record(f"start {rt_name}: a static shim that only execs the runtime", shim * 1e3,
                       bare * 1e3, "ms", spread={k: x * 1e3 for k, x in
                                                 spread(t["exec only"]).items() if k != "n"},
                       note="the floor of any runtime shim: one more exec on each verb; "
                       f"per-round ratio {per_round(t['exec only'], t['bare']):.3f}")
                none8 = med(t["8 plugins, none match"])
                record(f"start {rt_name}: 8 plugins, none match, against that shim",
                       none8 * 1e3, shim * 1e3, "ms", "<= 1.02x shim", none8 / shim <= 1.02,
                       note="mpp's own share: reading its configuration and the bundle, "
                       "matching, its journal check; per-round ratio "
                       f"{per_round(t['8 plugins, none match'], t['exec only']):.3f}")
                base = med(t["mpp, no plugin"])
                for label, n in [("1 matching no-op", 1), ("3 matching no-ops", 3),
                                 ("8 matching no-ops", 8)]:
                    per = (med(t[label]) - base) / n * 1e3
                    record(f"start {rt_name}: added per matching plugin ({n})", per, None, "ms",
                           "<= 1.5 ms", per <= 1.5,
                           note="attach and detach together, vs mpp with no plugin")
                # The first matching plugin pays once per process for loading libcurl and
                # connecting; each further one only for its calls.
                one = med(t["1 matching no-op"]) - base
                marginal = (med(t["8 matching no-ops"]) - med(t["1 matching no-op"])) / 7
                record(f"start {rt_name}: marginal cost per further plugin (2nd..8th)",
                       marginal * 1e3, None, "ms", "<= 0.3 ms", marginal * 1e3 <= 0.3,
                       note="(8 matching - 1 matching) / 7")
                record(f"start {rt_name}: fixed cost of the first matching plugin",
                       (one - marginal) * 1e3, None, "ms", "<= 1.5 ms",
                       (one - marginal) * 1e3 <= 1.5,
                       note="(1 matching - no plugin) - marginal: what mpp-runtime does once "
                       "a plugin is configured (see the phase table)")
        finally:
            env.stop_all()


# The phases of mpp-runtime's create and delete, in the order they run (see MPP_PHASES in
# src/runtime/phases.h); "mpp-runtime total" is the sum of all but the real runtime's.
PHASE_ORDER = ["configuration", "bundle read", "mounts described", "pinning", "matching",
               "properties", "discovery", "connect", "journal", "attach round trip",
               "bundle rewrite", "bundle copy", "namespace set-up", "real runtime", "state check",
               "detach round trip", "exit"]
PHASE_TABLES = {}


def phase_runs(path):
    """MPP_PHASES lines: {(cmd, pid): {phase: us}}, the real runtime's time without the
    namespace set-up its child did before exec (the child's own line)."""
    runs = collections.defaultdict(lambda: collections.defaultdict(float))
    for line in path.read_text().splitlines():
        x = json.loads(line)
        runs[x["cmd"], x["pid"]][x["phase"]] += x["us"]
    for phases in runs.values():
        if "real runtime" in phases and "namespace set-up" in phases:
            phases["real runtime"] -= phases["namespace set-up"]
    return runs


def bench_phases(quick):
    """Where the first matching no-op plugin's time goes: mpp-runtime's create and delete of
    /bin/true with one bind mount and 1 matching no-op plugin, state_dir on the tmpfs, each run
    after SETTLE of quiet, with MPP_PHASES set; each phase's median and p90 in us."""
    fix_crun_cgroups()
    runs = 15 if quick else 60
    with tempfile.TemporaryDirectory(prefix="mpp-bench-") as tmp:
        root = Path(tmp)
        os.chmod(root, 0o755)
        env = Env(root)
        bundle = container_fixture(root)
        try:
            env.plugin("m0", log=False)
            for rt_name, real in sorted(RUNTIMES.items()):
                cfg = container_configs(root, env, real, {"1": ["m0"]})["1"]
                log = root / f"phases-{rt_name}.jsonl"
                e = dict(os.environ, MPP_PHASES=str(log))
                for i in range(3 + runs):
                    if i == 3:
                        log.unlink(missing_ok=True)  # the warm-up primes the properties cache
                    time.sleep(SETTLE)
                    lifecycle([MPP_RUNTIME, f"--mpp-config={cfg}"], root / f"rt-{rt_name}",
                              bundle, f"ph-{i}", root / "err", env=e)
                table = {}
                for cmd in ("create", "delete"):
                    per = [ph for (c, _), ph in phase_runs(log).items() if c == cmd]
                    names = [n for n in PHASE_ORDER if any(n in ph for ph in per)]
                    names += sorted({n for ph in per for n in ph} - set(names))
                    rows = {n: [ph.get(n, 0.0) for ph in per] for n in names}
                    rows["mpp-runtime total"] = [sum(v for n, v in ph.items()
                                                     if n != "real runtime") for ph in per]
                    table[cmd] = {n: {"p50": med(v), "p90": pct(v, 90) if len(v) > 1 else v[0],
                                      "n": len(v)} for n, v in rows.items()}
                    own = rows["mpp-runtime total"]
                    record(f"phases {rt_name}: mpp-runtime's own time in {cmd}", med(own) / 1e3,
                           None, "ms", spread={k: x / 1e3 for k, x in spread(own).items()
                                               if k != "n"},
                           note="1 matching no-op; every phase but the real runtime's, from "
                           "main() on (not the exec and dynamic loading before it)")
                PHASE_TABLES[rt_name] = table
        finally:
            env.stop_all()


def print_phase_tables():
    for rt_name, table in PHASE_TABLES.items():
        print(f"\nphases of mpp-runtime, {rt_name}, 1 matching no-op (us):")
        for cmd, rows in table.items():
            w = max(len(n) for n in rows)
            print(f"  {cmd:<{w}}  {'p50':>9}  {'p90':>9}")
            for n, r in rows.items():
                print(f"  {n:<{w}}  {r['p50']:>9.1f}  {r['p90']:>9.1f}")


def bench_backlog(quick):
    """50 container starts at once (create, start, delete each, runc) with 3 matching plugins,
    one of them (Python) listening with a backlog of 1: how many of the 50 succeed."""
    fix_crun_cgroups()
    n = 50
    with tempfile.TemporaryDirectory(prefix="mpp-bench-") as tmp:
        root = Path(tmp)
        os.chmod(root, 0o755)
        env = Env(root)
        bundle = container_fixture(root)
        try:
            env.plugin("m0", log=False)
            env.plugin("m1", log=False)
            env.plugin("py", "--backlog", "1", python=True)  # it keeps a call log
            cfg = container_configs(root, env, RUNTIMES["runc"],
                                    {"3": ["m0", "m1", "py"]})["3"]
            lifecycle([MPP_RUNTIME, f"--mpp-config={cfg}"], root / "rt", bundle, "warm",
                      root / "err-warm")
            errs = []

            def one(k):
                try:
                    lifecycle([MPP_RUNTIME, f"--mpp-config={cfg}"], root / "rt", bundle,
                              f"b-{k}", root / f"err-{k}")
                except SystemExit as e:
                    errs.append(str(e))
            ths = [threading.Thread(target=one, args=(k,)) for k in range(n)]
            t0 = time.perf_counter()
            for th in ths:
                th.start()
            for th in ths:
                th.join()
            wall = time.perf_counter() - t0
            ok = n - len(errs)
            record(f"{n} concurrent starts runc, 3 matching, one with a backlog of 1: started",
                   ok, n, "", f"{n} of {n}", ok == n,
                   note=f"wall time {wall:.1f} s" + (f"; first error: {errs[0][:300]}"
                                                     if errs else ""))
        finally:
            env.stop_all()


def run_bench_bin(*args):
    r = subprocess.run([str(BENCH_BIN / args[0])] + [str(a) for a in args[1:]],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{args[0]} failed: {r.stderr}")
    return r.stdout


def start_test_plugin(root, name, *args):
    """mpp-test-plugin without its call log, which would be part of the cost."""
    sock = root / f"{name}.sock"
    pidfile = root / f"{name}.pid"
    proc = subprocess.Popen([str(BUILD / "tests/mpp-test-plugin"), "--socket", str(sock),
                             "--name", name, "--pidfile", str(pidfile),
                             *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: pidfile.exists() and pidfile.read_text().strip() != ""
             or proc.poll() is not None, what=f"plugin {name}")
    return proc, sock


def stop_proc(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def vm_kib(pid, key):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return None


def bench_round_trip(quick):
    """One client, one plugin: attach with 1, 10, 100 mounts, each call interleaved with a
    Plugin.Activate on the same connection (the floor: HTTP over the unix socket, no mounts);
    and a process's first call (client creation and connect included)."""
    calls = 300 if quick else 3000
    with tempfile.TemporaryDirectory(prefix="mpp-bench-") as tmp:
        root = Path(tmp)
        proc, sock = start_test_plugin(root, "rtt")
        try:
            idle = vm_kib(proc.pid, "VmHWM")
            for n in (1, 10, 100):
                d = json.loads(run_bench_bin("mpp-bench-rtt", sock, n, calls if n < 100
                                             else calls // 3))
                a = [x / 1e3 for x in d["attach"]]
                f = [x / 1e3 for x in d["floor"]]
                target = met = None
                if n == 1:
                    target, met = "p50 <= 60 us", med(a) <= 60
                if n == 100:
                    target, met = "p50 <= 500 us", med(a) <= 500
                record(f"round trip: attach, {n} mount{'s' if n > 1 else ''}, p50", med(a),
                       med(f), "us", target, met, spread(a), note="baseline: Plugin.Activate")
                record(f"round trip: attach, {n} mount{'s' if n > 1 else ''}, p99", pct(a, 99),
                       pct(f, 99), "us", note="baseline: Plugin.Activate p99")
            firsts, seconds = [], []
            for _ in range(8 if quick else 30):
                d = json.loads(run_bench_bin("mpp-bench-rtt", sock, "first"))
                firsts.append(d["first"] / 1e6)
                seconds.append(d["second"] / 1e6)
            record("round trip: a process's first call (client creation, connect, Activate)",
                   med(firsts), med(seconds), "ms", "<= 0.3 ms", med(firsts) <= 0.3,
                   spread=spread(firsts),
                   note="baseline: the same process's second call")
            PLUGIN_PEAKS["mpp-test-plugin (3 rtt runs)"] = (vm_kib(proc.pid, "VmHWM"), idle)
        finally:
            stop_proc(proc)


def container_configs(root, env, real, sets, state=None):
    """Configurations by label; state_dir on the benchmarks' tmpfs unless state is given."""
    state = state or STATE_TMPFS.state_dir("cfg")
    cfgs = {}
    for label, plugins in sets.items():
        cfg = root / f"cfg-{len(cfgs)}.json"
        cfg.write_text(json.dumps({"runtime": real, "plugins": plugins,
                                   "plugin_dirs": [str(env.plugin_dir)],
                                   "state_dir": str(state)}))
        cfgs[label] = cfg
    return cfgs


def lifecycle(argv_prefix, state_root, bundle, cid, errpath, env=None):
    """create, start, delete: the three calls an engine makes."""
    base = argv_prefix + ["--root", str(state_root)]
    # Not a pipe: the created container inherits stdio and would hold it open.
    with open(errpath, "w+") as errf:
        for args in (["create", "--bundle", str(bundle), cid], ["start", cid],
                     ["delete", "--force", cid]):
            r = subprocess.run(base + args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=errf, env=env)
            if r.returncode != 0:
                errf.seek(0)
                raise SystemExit(f"{base[0]} {args[0]} failed: {errf.read()}")


def container_fixture(root):
    rootfs = root / "rootfs"
    make_rootfs(rootfs)
    src = root / "src"
    src.mkdir()
    # The runtime's cgroup per container ID: the concurrent starts share this bundle.
    return make_bundle(root / "b", rootfs, ["/bin/true"], [oci_bind(src, "/data")],
                       own_cgroup=False)


def bench_concurrency(quick):
    """8 container starts at once (create, start, delete each) against the same plugins: the
    bare runtime vs mpp-runtime with 1 and 3 matching no-op plugins; wall time of the batch."""
    fix_crun_cgroups()
    runs = 6 if quick else 25
    with tempfile.TemporaryDirectory(prefix="mpp-bench-", dir=DISK_TMP) as tmp:
        root = Path(tmp)
        os.chmod(root, 0o755)
        env = Env(root)
        bundle = container_fixture(root)
        try:
            for n in ("m0", "m1", "m2"):
                env.plugin(n, log=False)
            real = RUNTIMES["runc"]
            cfgs = container_configs(root, env, real, {"1 matching no-op": ["m0"],
                                                       "3 matching no-ops": ["m0", "m1", "m2"]})

            def batch(prefix, tag):
                def fn(i):
                    errs = []

                    def one(k):
                        try:
                            lifecycle(prefix, root / "rt", bundle, f"{tag}-{i}-{k}",
                                      root / f"err-{tag}-{k}")
                        except SystemExit as e:
                            errs.append(e)
                    ths = [threading.Thread(target=one, args=(k,)) for k in range(8)]
                    for th in ths:
                        th.start()
                    for th in ths:
                        th.join()
                    if errs:
                        raise errs[0]
                return fn
            sides = {"bare": batch([real], "bare")}
            for k, (label, cfg) in enumerate(cfgs.items()):
                sides[label] = batch([MPP_RUNTIME, f"--mpp-config={cfg}"], f"c{k}")
            t = interleaved(sides, runs, warmup=2, settle=SETTLE)
            bare = med(t["bare"])
            for label in cfgs:
                record(f"8 concurrent starts runc: {label}", med(t[label]) * 1e3, bare * 1e3,
                       "ms", spread={k: x * 1e3 for k, x in spread(t[label]).items()
                                     if k != "n"},
                       note="wall time of 8 create+start+delete at once")
        finally:
            env.stop_all()


def bench_filter(quick):
    """1000 mounts x 64 plugins x 10 patterns: what a chain's selection does for one container,
    vs a floor of one prefix comparison per pattern."""
    d = json.loads(run_bench_bin("mpp-bench-match", 1000, 64, 10, 20 if quick else 100))
    m = [x / 1e6 for x in d["match"]]
    f = [x / 1e6 for x in d["floor"]]
    record("filter: 1000 mounts x 64 plugins x 10 patterns", med(m), med(f), "ms",
           "< 5 ms", med(m) < 5, spread(m),
           note=f"baseline: one strncmp per pattern; {d['selected']} selections")


def preload_log(path, state_dir=None):
    """The shim's log: ({"journal"|"other": [seconds of each sync of mpp programs]},
    [[VmHWM, RssAnon, RssFile] of mpp-runtime, KiB])."""
    syncs, hwm = {"journal": [], "other": []}, []
    if path.exists():
        for line in path.read_text().splitlines():
            parts = line.split(" ", 2)
            if parts[0] in ("fsync", "fdatasync") and parts[1].startswith("mpp"):
                usec, file = parts[2].split(" ", 1)
                journal = state_dir and file.startswith(str(state_dir))
                syncs["journal" if journal else "other"].append(float(usec) / 1e6)
            elif parts[0] == "hwm" and parts[1] == "mpp-runtime":
                hwm.append([int(x) for x in parts[2].split()])
        path.unlink()
    return syncs, hwm


def bench_journal(quick):
    """The journal's syncs per container start (1 matching no-op, runc): the same start with the
    fsync/fdatasync calls of mpp on the state directory made no-ops by an LD_PRELOAD shim,
    interleaved; both sides carry the shim. State directory on the disk (DISK_TMP)."""
    runs = 15 if quick else 60
    with tempfile.TemporaryDirectory(prefix="mpp-bench-", dir=DISK_TMP) as tmp:
        root = Path(tmp)
        os.chmod(root, 0o755)
        env = Env(root)
        bundle = container_fixture(root)
        state = (root / "state").resolve()
        try:
            env.plugin("m0", log=False)
            real = RUNTIMES["runc"]
            cfg = container_configs(root, env, real, {"1": ["m0"]}, state=state)["1"]
            logs = {"synced": root / "synced.log", "no sync": root / "nosync.log"}

            def side(tag, nosync):
                e = dict(os.environ, LD_PRELOAD=str(PRELOAD), MPP_BENCH_LOG=str(logs[tag]),
                         MPP_BENCH_NOSYNC=str(state) if nosync else "")
                return lambda i: lifecycle([MPP_RUNTIME, f"--mpp-config={cfg}"], root / "rt",
                                           bundle, f"{tag[0]}-{i}", root / "err", env=e)
            t = interleaved({"synced": side("synced", False), "no sync": side("no sync", True)},
                            runs, settle=SETTLE)
            syncs, _ = preload_log(logs["synced"], state)
            preload_log(logs["no sync"])
            starts = runs + 3
            per = {k: len(v) / starts for k, v in syncs.items()}
            what = (f"{per['journal']:.1f} syncs of the journal and {per['other']:.1f} others "
                    "(the bundle's config.json) per start")
            record("journal: start with its syncs (1 matching no-op, runc)",
                   med(t["synced"]) * 1e3, med(t["no sync"]) * 1e3, "ms",
                   spread={k: x * 1e3 for k, x in spread(t["synced"]).items() if k != "n"},
                   note="baseline: the journal's fsync/fdatasync made no-ops; " + what)
            # ext4 commits one journal for the whole file system: a sync skipped on the baseline
            # side leaves its blocks to the bundle's next sync, so the difference of the two
            # medians is the marginal cost (within a cold start's spread). The time the process
            # spends waiting in the journal's own syncs is the other bound.
            # The journal is not synced any more (state_dir is runtime state): no spread then.
            record("journal: time in its syncs per container start",
                   sum(syncs["journal"]) / starts * 1e3, None, "ms",
                   spread={k: x * 1e3 for k, x in spread(syncs["journal"]).items() if k != "n"}
                   if len(syncs["journal"]) > 1 else None,
                   note="create+start+delete; " + what + "; spread: of one sync")
            if syncs["journal"]:
                record("journal: time per sync", med(syncs["journal"]) * 1e3, None, "ms",
                       note=f"median; disk of {DISK_TMP}")
            if syncs["other"]:
                record("journal: time in the bundle's syncs per container start",
                       sum(syncs["other"]) / starts * 1e3, None, "ms")
        finally:
            env.stop_all()


def bench_memory(quick):
    """Peak resident set of mpp-runtime itself (VmHWM when it execs the real runtime or exits,
    from an LD_PRELOAD shim: getrusage would include the runtime it runs) vs the bare runtime's
    ru_maxrss, over create, start, delete with 1 and 8 matching no-ops."""
    runs = 5 if quick else 20
    with tempfile.TemporaryDirectory(prefix="mpp-bench-") as tmp:
        root = Path(tmp)
        os.chmod(root, 0o755)
        env = Env(root)
        bundle = container_fixture(root)
        try:
            names = [f"m{i}" for i in range(8)]
            for n in names:
                env.plugin(n, log=False)
            real = RUNTIMES["runc"]
            cfgs = container_configs(root, env, real, {"no plugin": [],
                                                       "1 matching no-op": names[:1],
                                                       "8 matching no-ops": names})
            log = root / "mem.log"
            peaks = {}
            for label, cfg in cfgs.items():
                e = dict(os.environ, LD_PRELOAD=str(PRELOAD), MPP_BENCH_LOG=str(log))
                for i in range(runs):
                    lifecycle([MPP_RUNTIME, f"--mpp-config={cfg}"], root / "rt", bundle,
                              f"mem{len(peaks)}-{i}", root / "err", env=e)
                _, hwm = preload_log(log)
                peaks[label] = max(hwm) if hwm else None  # the record with the highest peak
            bare = 0
            for i in range(runs):
                for args in (["create", "--bundle", str(bundle), f"bm{i}"], ["start", f"bm{i}"],
                             ["delete", "--force", f"bm{i}"]):
                    p = subprocess.Popen([real, "--root", str(root / "rt")] + args,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                         stdin=subprocess.DEVNULL)
                    _, _, ru = os.wait4(p.pid, 0)
                    p.returncode = 0
                    bare = max(bare, ru.ru_maxrss)
            for label, peak in peaks.items():
                if peak is None:
                    record(f"memory: mpp-runtime peak, {label}", 0, None, "MiB",
                           "< 8 MiB", None, note="no VmHWM record (shim not loaded?)")
                    continue
                kib, anon, file = peak
                target, met = "< 8 MiB", kib / 1024 < 8
                if label == "8 matching no-ops":
                    target, met = "<= 4 MiB", kib / 1024 <= 4
                record(f"memory: mpp-runtime peak, {label}", kib / 1024, bare / 1024, "MiB",
                       target, met,
                       note=f"baseline: runc's ru_maxrss; at the end {anon / 1024:.1f} MiB "
                       f"private (RssAnon), {file / 1024:.1f} MiB of mapped files (RssFile)")
        finally:
            env.stop_all()
    for name, (hwm, idle) in PLUGIN_PEAKS.items():
        record(f"memory: {name} peak under load", hwm / 1024, idle / 1024, "MiB",
               note="baseline: its peak right after start")


PLUGIN_PEAKS = {}


def fio(directory, rw, seconds, size):
    r = subprocess.run(["fio", "--name=bench", f"--directory={directory}", "--filename=bench.dat",
                        f"--rw={rw}", "--bs=4k", f"--size={size}", "--ioengine=psync",
                        "--time_based", f"--runtime={seconds}", "--invalidate=0",
                        "--randrepeat=1", "--output-format=json"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"fio {rw} in {directory} failed: {r.stderr}{r.stdout[-2000:]}")
    job = json.loads(r.stdout[r.stdout.index("{"):])["jobs"][0]
    return job["read" if "read" in rw else "write"]["iops"]


def cpu_seconds(pid):
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def cpu_idle(pid, quiet=0.05, limit=10):
    """Wait until pid has used no CPU for `quiet` seconds (its backlog done), at most `limit`."""
    end = time.monotonic() + limit
    last = cpu_seconds(pid)
    while time.monotonic() < end:
        time.sleep(quiet)
        now = cpu_seconds(pid)
        if now == last:
            return
        last = now


def files_rate(directory, n):
    return n / float(run_bench_bin("mpp-bench-files", directory, n, 4096))


def per_round(a, b):
    """The median of the ratios a[i] / b[i] of the sides of one round."""
    return med([x / y for x, y in zip(a, b)])


def record_side(name, v, side, unit, target=None, note=""):
    """Record v[side] against v["native"] (rates, scaled to thousands). target is the least
    ratio. The note adds the median of the per-round ratios: the sides of one round run within
    seconds of each other, so that figure is not moved by the host's load drifting between
    rounds, which moves both medians."""
    base = med(v["native"])
    r = med(v[side]) / base
    paired = per_round(v[side], v["native"])
    note = f"{note}; " if note else ""
    record(name, med(v[side]) / 1e3, base / 1e3, unit,
           f">= {target:.2f}x native" if target else None, r >= target if target else None,
           spread([x / 1e3 for x in v[side]]), note=f"{note}per-round ratio {paired:.3f}")


class LoopFs:
    """An ext4 file system in a file on the disk, loop-mounted: the audit's fanotify mark covers
    a whole file system, so the native side needs one of its own."""

    def __init__(self, root, name, mib=1024):
        self.img = root / f"{name}.img"
        self.mnt = root / name
        self.mnt.mkdir()
        with open(self.img, "wb") as f:
            f.truncate(mib << 20)
        subprocess.run(["mkfs.ext4", "-q", "-F", str(self.img)], check=True)
        subprocess.run(["mount", "-o", "loop", str(self.img), str(self.mnt)], check=True)

    def close(self):
        subprocess.run(["umount", str(self.mnt)], check=False)


def chain(env, cfg, verb, cid, *args):
    r = subprocess.run([str(BUILD / "tests/mpp-chain-driver"), "--config", str(cfg), verb, cid]
                       + [str(a) for a in args], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"mpp-chain-driver {verb} failed: {r.stderr}")
    return json.loads(r.stdout) if r.stdout.strip() else None


def bench_data_paths(quick):
    """The plugins' data paths, on the host (no container): the paths each plugin gives mpp as
    a mount's effective source, attached through the chain, against the source itself.
    fio 4 KiB random read and write (buffered, a file in the page cache: the per-operation cost
    of the layer), and small files (create, write 4 KiB, close)."""
    secs = 1 if quick else 3
    runs = 3 if quick else 7
    # Small-file runs fall into two modes about 1.5x apart on this VM, on either side and
    # whatever their length (2000 or 10000 files): more runs keep the medians in one mode.
    fruns = 3 if quick else 15
    nfiles = 500 if quick else 2000
    afiles = 1000 if quick else 5000
    with tempfile.TemporaryDirectory(prefix="mpp-bench-", dir=DISK_TMP) as tmp:
        root = Path(tmp)
        os.chmod(root, 0o755)
        env = Env(root)
        fss, mounts_made, attached, helpers = [], [], [], []
        try:
            fsa = LoopFs(root, "fsa")
            fss.append(fsa)
            fsb = LoopFs(root, "fsb")
            fss.append(fsb)
            fsc = LoopFs(root, "fsc")
            fss.append(fsc)
            src = fsa.mnt / "src"
            src.mkdir()
            os.chown(src, 100000, 100000)
            ro = fsa.mnt / "ro"
            ro.mkdir()
            (ro / "bench.dat").write_bytes(os.urandom(1 << 20) * 64)
            cfg_idmap = root / "idmap.json"
            cfg_idmap.write_text(json.dumps({"mappings": [{
                "match": {"source_prefix": str(src)},
                "uid": [{"host": 100000, "container": 0, "count": 65536}]}]}))
            idmap = env.daemon("idmap", [BUILD / "plugins/idmap/mpp-plugin-idmap", "--socket",
                                         env.plugin_dir / "idmap.sock", "--state-dir",
                                         root / "idmap-state", "--config", cfg_idmap])
            cfg_cow = root / "cow.json"
            cfg_cow.write_text(json.dumps({"patterns": [{"Type": "bind", "Destination": [
                {"PathPrefix": "/cow"}]}]}))
            cow = env.daemon("cow", [BUILD / "plugins/cow/mpp-plugin-cow", "--socket",
                                     env.plugin_dir / "cow.sock", "--state-dir",
                                     root / "cow-state", "--config", cfg_cow])
            asrc = fsb.mnt / "src"
            asrc.mkdir()
            nsrc = fsa.mnt / "native-audit"
            nsrc.mkdir()
            cfg_audit = root / "audit.json"
            cfg_audit.write_text(json.dumps({"source_prefixes": [str(asrc)],
                                             "log_dir": str(root / "audit-logs")}))
            audit = env.daemon("audit", [BUILD / "plugins/audit/mpp-plugin-audit", "--socket",
                                         env.plugin_dir / "audit.sock", "--state-dir",
                                         root / "audit-state", "--config", cfg_audit])
            idle = {d.name: vm_kib(d.proc.pid, "VmHWM") for d in (idmap, cow, audit)}
            time.sleep(0.5)  # let the daemons finish starting (the audit's reader thread)

            def attach(plugin, cid, mounts):
                cfg = root / f"mpp-{plugin}.json"
                cfg.write_text(json.dumps({"plugins": [plugin], "plugin_dirs":
                                           [str(env.plugin_dir)], "state_dir":
                                           str(root / "state")}))
                mf = root / f"mounts-{cid}.json"
                mf.write_text(json.dumps(mounts))
                out = chain(env, cfg, "attach", cid, mf)
                attached.append((cfg, cid))
                return Path(out[0]["EffectiveSource"])

            idmapped = attach("idmap", "bench-idmap", [bind_mount(src, "/data")])
            merged = attach("cow", "bench-cow", [bind_mount(ro, "/cow")])
            audited = attach("audit", "bench-audit", [bind_mount(asrc, "/data")])
            assert idmapped != src and merged != ro and audited == asrc, (idmapped, merged)
            bfs = root / "bindfs"
            bfs.mkdir()
            subprocess.run(["bindfs", "-o", "allow_other", "--map=100000/0:@100000/@0",
                            str(src), str(bfs)], check=True)
            mounts_made.append(bfs)
            # Lay out the fio file once, through the idmapped view: owned by host 100000 (root
            # in the mapping), every view can write it. The three views share it.
            fio(idmapped, "randwrite", 1, "256m")

            dirs = {"native": src, "idmap": idmapped, "bindfs": bfs}
            for rw, label in [("randread", "fio 4k random read"),
                              ("randwrite", "fio 4k random write")]:
                v = interleaved_values({k: (lambda d: lambda i: fio(d, rw, secs, "256m"))(d)
                                        for k, d in dirs.items()}, runs)
                record_side(f"data path: {label}, idmap", v, "idmap", "kIOPS", 0.95)
                record_side(f"data path: {label}, bindfs", v, "bindfs", "kIOPS")
            (idmapped / "files").mkdir()
            fdirs = {k: d / "files" for k, d in dirs.items()}
            v = interleaved_values({k: (lambda d: lambda i: files_rate(d, nfiles))(d)
                                    for k, d in fdirs.items()}, fruns)
            for k, target in (("idmap", 0.95), ("bindfs", None)):
                record_side(f"data path: small files, {k}", v, k, "kfiles/s", target,
                            note="create + write 4 KiB + close")

            # Audit: every create and write recorded; the native side on its own file system.
            # Each run ends with the untimed removal of its files; the next run (either side)
            # starts when the audit's reader has logged those, so that a run is not charged
            # with the previous one's deletes.
            # A third side has the same fanotify mark on its own file system, its events read
            # and dropped at once: the kernel's share of the audit's cost.
            fsrc = fsc.mnt / "src"
            fsrc.mkdir()
            fan = subprocess.Popen([BENCH_BIN / "mpp-bench-fanotify", fsrc],
                                   stdout=subprocess.PIPE, text=True)
            helpers.append(fan)
            if fan.stdout.readline().strip() != "ready":
                raise SystemExit("mpp-bench-fanotify did not start")

            def settled(measure):
                rate = measure()
                cpu_idle(audit.proc.pid)
                cpu_idle(fan.pid)
                return rate

            def audit_counts():
                """The audit log's records so far, counted by operation and by (operation,
                file name)."""
                time.sleep(1)
                log = root / "audit-logs" / "bench-audit.jsonl"
                counts = collections.Counter()
                for line in log.read_text().splitlines() if log.exists() else ():
                    x = json.loads(line)
                    counts[x.get("op")] += 1
                    counts[x.get("op"), Path(x.get("host_path", "")).name] += 1
                return counts
            asides = {"native": nsrc, "fanotify": fsrc, "audit": asrc}
            v = interleaved_values({k: (lambda d: lambda i: settled(
                lambda: files_rate(d, afiles)))(d) for k, d in asides.items()}, runs)
            record_side("data path: small files, the audit's fanotify mark alone", v, "fanotify",
                        "kfiles/s",
                        note="no plugin: the same mark, events read and dropped (the kernel's "
                        "share)")
            counts = audit_counts()
            creates, overflows = counts["create"], counts["overflow"]
            record_side("data path: small files, audit", v, "audit", "kfiles/s", 0.90,
                        note=f"{creates} create records for {(runs + 1) * afiles} files, "
                        f"{overflows} overflow records")

            # Random writes to one file under the audit: the kernel merges the events queued on
            # one name, so the records count the reader's batches, not the writes.
            v = interleaved_values({k: (lambda d: lambda i: settled(
                lambda: fio(d, "randwrite", secs, "64m")))(d) for k, d in asides.items()}, runs)
            writes = audit_counts()["write", "bench.dat"]
            record_side("data path: fio 4k random write, the audit's fanotify mark alone", v,
                        "fanotify", "kIOPS", note="no plugin: the same mark, events read and "
                        "dropped")
            record_side("data path: fio 4k random write, audit", v, "audit", "kIOPS",
                        note=f"{writes} write records: the kernel merges the events queued on "
                        "a file")

            # A third side reads through an overlay mounted by hand with the kernel's default
            # options: what overlayfs itself costs, whoever mounts it.
            ovl = root / "ovl"
            for d in ("upper", "work", "merged"):
                (ovl / d).mkdir(parents=True)
            subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                            f"lowerdir={ro},upperdir={ovl / 'upper'},workdir={ovl / 'work'}",
                            str(ovl / "merged")], check=True)
            mounts_made.append(ovl / "merged")
            v = interleaved_values({"native": lambda i: fio(ro, "randread", secs, "64m"),
                                    "overlayfs": lambda i: fio(ovl / "merged", "randread", secs,
                                                               "64m"),
                                    "cow": lambda i: fio(merged, "randread", secs, "64m")}, runs)
            record_side("data path: fio 4k random read, overlayfs mounted by hand", v,
                        "overlayfs", "kIOPS",
                        note="no plugin, default options: overlayfs's own cost")
            record_side("data path: fio 4k random read, cow", v, "cow", "kIOPS", 0.95,
                        note="a lower-layer file via overlayfs")

            # Small files in the writable view: new files go to the upper layer, in the plugin's
            # state on the disk's file system; the native side writes on that file system too.
            cdirs = {"native": root / "cow-native", "overlayfs": ovl / "merged" / "files",
                     "cow": merged / "files"}
            for d in cdirs.values():
                d.mkdir()
            v = interleaved_values({k: (lambda d: lambda i: files_rate(d, nfiles))(d)
                                    for k, d in cdirs.items()}, fruns)
            for k in ("overlayfs", "cow"):
                record_side(f"data path: small files, {k}" +
                            (" mounted by hand" if k == "overlayfs" else ""), v, k, "kfiles/s",
                            note="create + write 4 KiB + close, into the upper layer")
            for d in (idmap, cow, audit):
                PLUGIN_PEAKS[f"mpp-plugin-{d.name}"] = (vm_kib(d.proc.pid, "VmHWM"), idle[d.name])
        finally:
            for h in helpers:
                h.terminate()
                h.wait()
            for m in mounts_made:
                subprocess.run(["umount", str(m)], check=False)
            for cfg, cid in reversed(attached):
                try:
                    chain(env, cfg, "detach", cid)
                except SystemExit as e:
                    print(f"bench: {e}", file=sys.stderr)
            env.stop_all()
            for f in fss:
                f.close()


def bench_docker(quick):
    """`docker run --rm` of /bin/true with a bind mount: dockerd's runc vs mpp-runtime (no
    plugin, and 1 matching no-op plugin), through a dockerd started as tests/e2e starts it."""
    sys.path.insert(0, str(HERE.parent / "tests/e2e"))
    import engines
    reason = engines.Docker.unavailable()
    if reason:
        record("docker run --rm: mpp-runtime", 0, None, "ms", note=f"not run: {reason}")
        return
    runs = 5 if quick else 20
    with tempfile.TemporaryDirectory(prefix="mpp-bench-") as tmp:
        root = Path(tmp)
        os.chmod(root, 0o755)
        env = Env(root)
        rootfs = root / "rootfs"
        make_rootfs(rootfs)
        tar = root / "bb.tar"
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(tar), "."], check=True)
        src = root / "src"
        src.mkdir()
        cfg = root / "mpp-docker.json"
        docker = None
        try:
            env.plugin("m0", log=False)
            docker = engines.Docker(root, cfg)
            cfg.write_text(json.dumps({"runtime": engines.REAL_RUNTIME, "plugins": []}))
            try:
                docker.start(tar)
            except engines.EngineError as e:
                record("docker run --rm: mpp-runtime", 0, None, "ms", note=f"not run: {e}")
                return
            state = STATE_TMPFS.state_dir("docker")
            cfg_none = json.dumps({"runtime": engines.REAL_RUNTIME, "plugins": [],
                                   "state_dir": str(state)})
            cfg_one = json.dumps({"runtime": engines.REAL_RUNTIME, "plugins": ["m0"],
                                  "plugin_dirs": [str(env.plugin_dir)],
                                  "state_dir": str(state)})

            def side(runtime, config):
                def fn(i):
                    if config:
                        tmpcfg = cfg.with_name(cfg.name + ".tmp")
                        tmpcfg.write_text(config)
                        os.replace(tmpcfg, cfg)
                    r = docker.docker("run", "--rm", "--network", "none", "--runtime", runtime,
                                      "--label", f"{engines.LABEL}=bench", "-v", f"{src}:/data",
                                      engines.IMAGE, "/bin/true")
                    if r.returncode != 0:
                        raise SystemExit(f"docker run --runtime {runtime} failed: {r.stderr}")
                return fn
            t = interleaved({"runc": side("runc", None), "mpp": side("mpp", cfg_none),
                             "mpp1": side("mpp", cfg_one)}, runs, warmup=2, settle=SETTLE)
            base = med(t["runc"])
            for k, label in [("mpp", "mpp-runtime, no plugin"),
                             ("mpp1", "mpp-runtime, 1 matching no-op")]:
                target = met = None
                if k == "mpp1":
                    target, met = "<= 1.03x runc", med(t[k]) / base <= 1.03
                record(f"docker run --rm: {label}", med(t[k]) * 1e3, base * 1e3, "ms",
                       target, met, spread={a: x * 1e3 for a, x in spread(t[k]).items() if a != "n"},
                       note="baseline: --runtime runc")
        finally:
            if docker:
                docker.stop()
            env.stop_all()


BENCHES = {"start": bench_container_start, "phases": bench_phases,
           "roundtrip": bench_round_trip, "backlog": bench_backlog,
           "concurrency": bench_concurrency, "filter": bench_filter, "journal": bench_journal,
           "datapath": bench_data_paths, "memory": bench_memory, "docker": bench_docker}


def markdown(doc):
    """The results as the table of docs/performance.md."""
    rows = ["| figure | value | baseline | ratio | p25..p75 | target | met |",
            "|---|---:|---:|---:|---:|---|---|"]
    for r in doc["results"]:
        sp = r["spread"] or {}
        rng = f"{sp['p25']:.2f}..{sp['p75']:.2f}" if "p25" in sp else ""
        base = f"{r['baseline']:.2f}" if r["baseline"] is not None else ""
        ratio = f"{r['ratio']:.3f}" if r["ratio"] is not None else ""
        met = {True: "yes", False: "**no**", None: ""}[r["met"]]
        fig = r["figure"] + (f" ({r['note']})" if r["note"] else "")
        rows.append(f"| {fig} | {r['value']:.2f} {r['unit']} | {base} | {ratio} | {rng} | "
                    f"{r['target'] or ''} | {met} |")
    for rt_name, table in doc.get("phases", {}).items():
        for cmd, ph in table.items():
            rows += ["", f"Phases of mpp-runtime {cmd}, {rt_name}, 1 matching no-op:", "",
                     "| phase | p50 us | p90 us |", "|---|---:|---:|"]
            rows += [f"| {n} | {r['p50']:.1f} | {r['p90']:.1f} |" for n, r in ph.items()]
    if doc["machine"].get("damon_pageout"):
        rows += ["", "DAMON pages out memory left idle on this machine, page cache included."]
    return "\n".join(rows) + "\n"


def damon_pageout():
    """Whether a DAMON scheme pages out memory left idle (it drops page cache the benchmarks
    would otherwise find warm)."""
    schemes = Path("/sys/kernel/mm/damon/admin/kdamonds")
    try:
        return any(a.read_text().strip() == "pageout"
                   for a in schemes.glob("*/contexts/*/schemes/*/action")) and \
            any(st.read_text().strip() == "on" for st in schemes.glob("*/state"))
    except OSError:
        return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", action="append")
    args = ap.parse_args()
    if args.only and set(args.only) - set(BENCHES):
        ap.error(f"--only: one of {', '.join(BENCHES)}")

    def terminated(sig, frame):
        raise SystemExit(f"bench: signal {sig}")
    signal.signal(signal.SIGTERM, terminated)
    failed = []
    try:
        for name, fn in BENCHES.items():
            if not args.only or name in args.only:
                # A benchmark that fails is reported in the table; the others still run.
                try:
                    fn(args.quick)
                except Exception as e:  # noqa: BLE001
                    traceback.print_exc()
                    failed.append(name)
                    record(f"{name}: FAILED", 0, None, "", note=f"{type(e).__name__}: {e}"[:300])
    finally:
        STATE_TMPFS.close()

    w = max(len(r["figure"]) for r in RESULTS)
    print(f"{'figure':<{w}}  {'value':>10}  {'baseline':>10}  {'ratio':>7}  {'target':<16} met")
    for r in RESULTS:
        base = f"{r['baseline']:.2f}" if r["baseline"] is not None else "-"
        ratio = f"{r['ratio']:.3f}" if r["ratio"] is not None else "-"
        met = {True: "yes", False: "NO", None: "-"}[r["met"]]
        print(f"{r['figure']:<{w}}  {r['value']:>8.2f}{r['unit']:>2}  {base:>10}  {ratio:>7}  "
              f"{(r['target'] or '-'):<16} {met}")
    print_phase_tables()
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    doc = {"time": stamp, "quick": args.quick, "machine": {
        "cpus": os.cpu_count(), "kernel": platform.release(), "python": platform.python_version(),
        "damon_pageout": damon_pageout()},
        "results": RESULTS, "phases": PHASE_TABLES}
    (out / f"bench-{stamp}.json").write_text(json.dumps(doc, indent=1))
    (out / "latest.json").write_text(json.dumps(doc, indent=1))
    (out / "latest.md").write_text(markdown(doc))
    print(f"results: {out / ('bench-' + stamp + '.json')}")
    if failed:
        sys.exit(f"bench: failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
