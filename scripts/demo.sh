#!/usr/bin/env bash
# mpp at work, in under a minute: the policy, audit and cow plugins in front of busybox
# containers. Run by `make demo` (after deps and build), as root.
#
#   MPP_BUILD=DIR      the build to use (default: build/ of this tree)
#   DEMO_ENGINE=NAME   "runtime" (default: mpp-runtime over runc, no daemon), "docker" (starts a
#                      private dockerd with mpp registered) or "podman" (podman --runtime mpp)
#   DEMO_RUNTIME=NAME  the real runtime: runc (default) or crun (the hybrid-cgroup fix of
#                      docs/engines.md is applied to the machine, until reboot)
#   DEMO_QUICK=1       no pauses, minimal output (what `make check` runs)
#
# Everything lives in one temporary directory (mktemp -d, so under $TMPDIR); on exit the
# containers are deleted, the plugins stopped, leftover mounts unmounted and the directory
# removed.
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$(cd "${MPP_BUILD:-$SRC/build}" && pwd)
ENGINE=${DEMO_ENGINE:-runtime}
REAL_NAME=${DEMO_RUNTIME:-runc}
QUICK=${DEMO_QUICK:-0}
[ "$QUICK" = 0 ] && QUICK=""

MPP_RUNTIME=$BUILD/src/runtime/mpp-runtime
MPPCTL=$BUILD/src/ctl/mppctl
PY=/usr/bin/python3

die() { echo "demo: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (containers, mounts and fanotify need it)"
case "$ENGINE" in runtime | docker | podman) ;; *) die "DEMO_ENGINE: runtime, docker or podman, not $ENGINE" ;; esac
case "$REAL_NAME" in runc | crun) REAL=/usr/bin/$REAL_NAME ;; *) die "DEMO_RUNTIME: runc or crun, not $REAL_NAME" ;; esac
for f in "$MPP_RUNTIME" "$MPPCTL" "$BUILD"/plugins/policy/mpp-plugin-policy \
    "$BUILD"/plugins/audit/mpp-plugin-audit "$BUILD"/plugins/cow/mpp-plugin-cow "$REAL" /bin/busybox; do
    [ -x "$f" ] || die "$f is missing: run make build (or set MPP_BUILD)"
done

if [ "$ENGINE" = podman ] && [ -z "${DEMO_IN_NS:-}" ]; then
    # Podman reaches mpp-runtime's every call only through /etc/mpp/mpp.json (docs/engines.md):
    # the demo runs in a private mount namespace whose /etc is an overlay holding it, so the
    # host's /etc stays untouched. The plugins run in it too: the overlays mpp-plugin-cow mounts
    # must be visible to the runtime, and the host's mounts may not propagate.
    exec unshare --mount --propagation private env DEMO_IN_NS=1 "$0" "$@"
fi

umask 022
T0=$(date +%s.%N)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mpp-demo.XXXXXX")
chmod 0755 "$WORK"
PLUGIN_DIR=$WORK/plugins
CONF_DIR=$WORK/etc
CFG=$CONF_DIR/mpp.json
RUNC_ROOT=$WORK/runtime-root
mkdir -p "$PLUGIN_DIR" "$CONF_DIR" "$WORK/logs"
PLUGIN_PIDS=()
PLUGIN_NAMES=()
CONTAINERS=()   # engine containers (docker/podman IDs) to remove at exit
DOCKERD_PID=""
ETC_OVERLAY=""

# ---- output ------------------------------------------------------------------------------

say() { [ -n "$QUICK" ] || echo "$@"; }
heading() {
    if [ -z "$QUICK" ] && [ -t 1 ]; then sleep 1.5; fi
    echo
    echo "== $*"
}
show() { # the command (run and start describe themselves), then its output, indented
    case "$1" in run | start) ;; *) say "\$ $*" ;; esac
    local rc=0
    "$@" > "$WORK/out" 2>&1 || rc=$?
    sed 's/^/    /' "$WORK/out"
    return $rc
}

# ---- cleanup -----------------------------------------------------------------------------

unmount_under() {
    local p
    # Deepest first; lazily, so that a busy mount does not stop the rest.
    awk '{print $5}' /proc/self/mountinfo | grep -E "^$1(/|$)" | sort -r | while read -r p; do
        umount -l "$p" 2> /dev/null || true
    done
}

cleanup() {
    local rc=$? id
    set +e
    if [ -d "$RUNC_ROOT" ]; then
        # Through mpp-runtime: its delete runs the plugins' detach chain.
        for id in $("$REAL" --root "$RUNC_ROOT" list -q 2> /dev/null); do
            rt kill "$id" KILL > /dev/null 2>&1
            rt delete --force "$id" > /dev/null 2>&1
        done
    fi
    for id in "${CONTAINERS[@]}"; do
        if [ "$ENGINE" = podman ]; then
            engine_cli rm -f -t 0 "$id" > /dev/null 2>&1
        else
            engine_cli rm -f "$id" > /dev/null 2>&1
        fi
    done
    if [ "$ENGINE" = docker ] && [ -n "$DOCKERD_PID" ]; then
        docker rmi -f mpp-demo-bb > /dev/null 2>&1
        kill -TERM "$DOCKERD_PID" 2> /dev/null
        for _ in $(seq 100); do kill -0 "$DOCKERD_PID" 2> /dev/null || break; sleep 0.1; done
        kill -KILL "$DOCKERD_PID" 2> /dev/null
        rm -f /var/run/docker.pid
    fi
    if [ "$ENGINE" = podman ]; then
        podman rmi -f mpp-demo-bb > /dev/null 2>&1
    fi
    for id in "${PLUGIN_PIDS[@]}"; do
        kill -TERM "$id" 2> /dev/null
    done
    local i st
    for i in "${!PLUGIN_PIDS[@]}"; do
        id=${PLUGIN_PIDS[$i]}
        for _ in $(seq 100); do kill -0 "$id" 2> /dev/null || break; sleep 0.05; done
        kill -KILL "$id" 2> /dev/null
        wait "$id" 2> /dev/null
        st=$?
        # A plugin must stop cleanly on SIGTERM (a sanitizer report would make it fail).
        if [ $st -ne 0 ]; then
            echo "demo: mpp-plugin-${PLUGIN_NAMES[$i]} exited $st:" >&2
            tail -20 "$WORK/logs/${PLUGIN_NAMES[$i]}.stderr" >&2
            [ $rc -ne 0 ] || rc=1
        fi
    done
    wait 2> /dev/null
    [ -z "$ETC_OVERLAY" ] || umount -l /etc
    unmount_under "$WORK"
    rm -rf --one-file-system "$WORK"
    if [ $rc -ne 0 ]; then
        echo "demo: failed (exit $rc)" >&2
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- the real runtime, the plugins, the configuration ------------------------------------

if [ "$REAL_NAME" = crun ] && [ -d /sys/fs/cgroup/unified ] && ! mountpoint -q /sys/fs/cgroup/hugetlb; then
    say "crun: giving hugetlb a cgroup v1 hierarchy (hybrid cgroups; see docs/engines.md)"
    mkdir -p /sys/fs/cgroup/hugetlb
    mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb
fi

start_plugin() { # NAME ARGS...
    local name=$1 log=$WORK/logs/$1.stderr
    shift
    : > "$log" # before the child opens it: the loop below may look first
    "$BUILD/plugins/$name/mpp-plugin-$name" --socket "$PLUGIN_DIR/$name.sock" \
        --config "$CONF_DIR/$name.json" "$@" 2> "$log" &
    PLUGIN_PIDS+=($!)
    PLUGIN_NAMES+=("$name")
    for _ in $(seq 200); do
        grep -q "serving on" "$log" && return 0
        kill -0 $! 2> /dev/null || die "mpp-plugin-$name exited: $(cat "$log")"
        sleep 0.05
    done
    die "mpp-plugin-$name did not start: $(cat "$log")"
}

cat > "$CONF_DIR/policy.json" << EOF
{"default": "allow",
 "rules": [{"name": "protect-host", "protect": ["/etc/shadow", "/var/run/docker.sock", "/root"]}]}
EOF
mkdir -p "$WORK/audited" "$WORK/data"
cat > "$CONF_DIR/audit.json" << EOF
{"source_prefixes": ["$WORK/audited"], "log_dir": "$WORK/audit-log"}
EOF
# Default patterns: bind mounts of containers labelled mpp.cow=true.
echo '{"keep": false}' > "$CONF_DIR/cow.json"
cat > "$CFG" << EOF
{"runtime": "$REAL",
 "plugins": ["policy", "audit", "cow"],
 "plugin_dirs": ["$PLUGIN_DIR"],
 "state_dir": "$WORK/state"}
EOF

say "mpp demo: engine $ENGINE, runtime $REAL_NAME, build $BUILD, work directory $WORK"
heading "starting the plugins policy, audit and cow on sockets in $PLUGIN_DIR"
start_plugin policy
start_plugin audit --state-dir "$WORK/audit-state"
start_plugin cow --state-dir "$WORK/cow-state"
say "mpp configuration ($CFG):"
[ -n "$QUICK" ] || sed 's/^/    /' "$CFG"
[ -n "$QUICK" ] || show "$MPPCTL" --mpp-config="$CFG" plugins

# ---- containers --------------------------------------------------------------------------

ROOTFS=$WORK/rootfs
mkdir -p "$ROOTFS/bin"
cp /bin/busybox "$ROOTFS/bin/busybox"
for a in $(/bin/busybox --list); do
    [ "$a" = busybox ] || ln -s busybox "$ROOTFS/bin/$a"
done
mkdir -p "$ROOTFS"/{proc,sys,dev,tmp,etc,data}

rt() { "$MPP_RUNTIME" --mpp-config="$CFG" --root "$RUNC_ROOT" "$@"; }

# bundle DIR LABELS MOUNTS ARGS...: LABELS "k=v,k=v" (as mpp.labels.* annotations, which is how
# plain OCI bundles carry labels), MOUNTS "src:dst[:ro],..."
bundle() {
    local dir=$1 labels=$2 mounts=$3
    shift 3
    PYTHONPATH=$SRC/tests/system "$PY" - "$dir" "$ROOTFS" "$labels" "$mounts" "$@" << 'EOF'
import sys
from pathlib import Path
from mpp import make_bundle, oci_bind
d, rootfs, labels, mounts, *args = sys.argv[1:]
ann = {f"mpp.labels.{k}": v for k, v in (l.split("=", 1) for l in labels.split(",") if l)}
binds = []
for m in filter(None, mounts.split(",")):
    src, dst, *ro = m.split(":")
    binds.append(oci_bind(src, dst, ro=bool(ro)))
make_bundle(Path(d), Path(rootfs), args, binds, annotations=ann)
EOF
}

N=0
describe() { # LABELS MOUNTS ARGS...: what the next container is, for the reader
    local what lab a
    if [ "$ENGINE" = runtime ]; then
        what="mpp-runtime ${VERB:-run} demo-$N-$$ (bundle:" lab="label "
        [ -z "$2" ] || what+=" bind ${2//,/ bind }"
    else
        what="$ENGINE ${VERB:-run} --runtime mpp" lab="--label "
        [ "$ENGINE" != podman ] || lab="--annotation mpp.labels."
        [ -z "$2" ] || what+=" -v ${2//,/ -v }"
    fi
    [ -z "$1" ] || what+=" $lab${1//,/ $lab}"
    if [ "$ENGINE" = runtime ]; then what+=")"; else what+=" mpp-demo-bb"; fi
    shift 2
    for a in "$@"; do
        case "$a" in *" "*) what+=" '$a'" ;; *) what+=" $a" ;; esac
    done
    say "\$ $what"
}

# run LABELS MOUNTS ARGS...: a container through mpp, in the foreground, removed at its end.
run() {
    local labels=$1 mounts=$2 opts=() m l
    shift 2
    N=$((N + 1))
    describe "$labels" "$mounts" "$@"
    case "$ENGINE" in
    runtime)
        bundle "$WORK/bundle-$N" "$labels" "$mounts" "$@"
        rt run --bundle "$WORK/bundle-$N" "demo-$N-$$"
        ;;
    *)
        for l in ${labels//,/ }; do
            if [ "$ENGINE" = docker ]; then opts+=(--label "$l"); else opts+=(--annotation "mpp.labels.$l"); fi
        done
        for m in ${mounts//,/ }; do opts+=(-v "$m"); done
        engine_cli run --rm --network none "${opts[@]}" mpp-demo-bb "$@"
        ;;
    esac
}

# start LABELS MOUNTS ARGS...: a container left running; prints its ID.
start() {
    local labels=$1 mounts=$2 opts=() m l id
    shift 2
    N=$((N + 1))
    local verb=create+start
    [ "$ENGINE" = runtime ] || verb="run -d"
    VERB=$verb describe "$labels" "$mounts" "$@" >&2
    case "$ENGINE" in
    runtime)
        id="demo-$N-$$"
        bundle "$WORK/bundle-$N" "$labels" "$mounts" "$@"
        rt create --bundle "$WORK/bundle-$N" "$id" < /dev/null > /dev/null 2> "$WORK/create.err" ||
            die "create failed: $(cat "$WORK/create.err")"
        rt start "$id"
        ;;
    *)
        for l in ${labels//,/ }; do
            if [ "$ENGINE" = docker ]; then opts+=(--label "$l"); else opts+=(--annotation "mpp.labels.$l"); fi
        done
        for m in ${mounts//,/ }; do opts+=(-v "$m"); done
        id=$(engine_cli run -d --network none "${opts[@]}" mpp-demo-bb "$@")
        ;;
    esac
    echo "$id"
}

stop() { # ID
    case "$ENGINE" in
    runtime)
        rt kill "$1" KILL
        for _ in $(seq 100); do
            [ "$("$REAL" --root "$RUNC_ROOT" state "$1" 2> /dev/null |
                "$PY" -c 'import json,sys; print(json.load(sys.stdin)["status"])')" = stopped ] && break
            sleep 0.05
        done
        rt delete "$1"
        ;;
    docker) docker rm -f "$1" > /dev/null ;;
    podman) engine_cli rm -f -t 0 "$1" > /dev/null ;;
    esac
}

# ---- engines (DEMO_ENGINE=docker|podman), set up as tests/e2e/engines.py does ---------------

engine_cli() {
    case "$ENGINE" in
    docker) docker "$@" ;;
    podman) podman --runtime mpp "$@" ;;
    esac
}

if [ "$ENGINE" != runtime ]; then
    heading "starting $ENGINE with mpp-runtime registered as the runtime \"mpp\""
    tar -C "$ROOTFS" -cf "$WORK/bb.tar" .
fi
if [ "$ENGINE" = docker ]; then
    command -v dockerd > /dev/null || die "dockerd is not installed (scripts/deps.sh installs docker.io)"
    if [ -f /var/run/docker.pid ] && kill -0 "$(cat /var/run/docker.pid)" 2> /dev/null; then
        die "a dockerd is already running: the demo starts its own with mpp registered; stop it first"
    fi
    rm -f /var/run/docker.pid
    mkdir -p "$WORK/docker"
    cat > "$WORK/docker/daemon.json" << EOF
{"iptables": false, "ip-masq": false, "bridge": "none", "storage-driver": "overlay2",
 "runtimes": {"mpp": {"path": "$MPP_RUNTIME", "runtimeArgs": ["--mpp-config=$CFG"]}}}
EOF
    setsid dockerd --config-file "$WORK/docker/daemon.json" < /dev/null > "$WORK/docker/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    for _ in $(seq 300); do
        docker info > /dev/null 2>&1 && break
        kill -0 "$DOCKERD_PID" 2> /dev/null || die "dockerd exited: $(tail -20 "$WORK/docker/dockerd.log")"
        sleep 0.2
    done
    docker info > /dev/null 2>&1 || die "dockerd did not answer: $(tail -20 "$WORK/docker/dockerd.log")"
    docker import "$WORK/bb.tar" mpp-demo-bb > "$WORK/docker/import.log" 2>&1 ||
        die "docker import failed: $(cat "$WORK/docker/import.log")"
    say "dockerd (pid $DOCKERD_PID) runs containers with: docker run --runtime mpp ..."
    engine_cli() {
        if [ "$1" = run ]; then shift; docker run --runtime mpp "$@"; else docker "$@"; fi
    }
elif [ "$ENGINE" = podman ]; then
    command -v podman > /dev/null || die "podman is not installed (scripts/deps.sh installs podman)"
    [ "$(readlink /proc/self/ns/mnt)" != "$(readlink /proc/1/ns/mnt)" ] ||
        die "not in a private mount namespace: refusing to overlay /etc"
    mkdir -p "$WORK/podman/etc-upper/mpp" "$WORK/podman/etc-work"
    ln -s "$CFG" "$WORK/podman/etc-upper/mpp/mpp.json"
    mount -t overlay overlay \
        -o "lowerdir=/etc,upperdir=$WORK/podman/etc-upper,workdir=$WORK/podman/etc-work" /etc
    ETC_OVERLAY=1
    export CONTAINERS_CONF=$WORK/podman/containers.conf
    cat > "$WORK/podman/containers.conf" << EOF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime_supports_json = ["crun", "runc", "mpp"]
[engine.runtimes]
mpp = ["$MPP_RUNTIME"]
EOF
    podman import "$WORK/bb.tar" mpp-demo-bb \
        > "$WORK/podman/import.log" 2>&1 || die "podman import failed: $(cat "$WORK/podman/import.log")"
    say "podman runs containers with: podman --runtime mpp run ... (configuration at /etc/mpp/mpp.json)"
fi

# ---- a) a denied mount -------------------------------------------------------------------

heading "a) policy: a bind mount of /etc is denied, with the plugin's message"
say "The policy protects /etc/shadow; mounting /etc would expose it."
if show run "" "/etc:/host-etc" /bin/cat /host-etc/shadow; then
    die "the container started: the policy did not deny /etc"
fi
grep -q 'mount point plugin "policy" denied /etc -> /host-etc' "$WORK/out" ||
    die "no denial message from the policy plugin"
say "(the container was never created; the plugin also logged:)"
[ -n "$QUICK" ] || grep 'denies' "$WORK/logs/policy.stderr" | tail -1 | sed 's/^/    /'

# ---- b) an audited write -----------------------------------------------------------------

heading "b) audit: writes under $WORK/audited are logged as JSON lines"
show run "" "$WORK/audited:/secrets" /bin/sh -c \
    'echo token > /secrets/new-key; echo more >> /secrets/new-key; rm /secrets/new-key; mkdir /secrets/d; echo written'
LOG=$WORK/audit-log/audit.jsonl
for _ in $(seq 100); do
    grep -q '"summary"' "$LOG" 2> /dev/null && break
    sleep 0.05
done
say "excerpt of $LOG:"
"$PY" - "$LOG" << 'EOF'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("op") in ("create", "write", "delete", "rename"):
        who = f', by {r["comm"]} (pid {r["ns_pid"]} in the container)' if r.get("comm") else ""
        kind = " (directory)" if r.get("dir") else ""
        print(f'    {r["op"]:7} {r.get("path")}{kind}  host: {r.get("host_path")}{who}')
    elif r.get("op") == "summary" or "counts" in r:
        print(f'    summary: {json.dumps(r.get("counts"))}')
EOF

# ---- c) copy-on-write --------------------------------------------------------------------

heading "c) cow: the container changes its view of $WORK/data, the host directory does not change"
echo "original" > "$WORK/data/keep-me"
echo "precious" > "$WORK/data/delete-me"
BEFORE=$(cd "$WORK/data" && find . -type f | sort | xargs sha256sum)
say "before:"
echo "$BEFORE" | sed 's/^/    /'
show run "mpp.cow=true" "$WORK/data:/data" /bin/sh -c \
    'cat /data/delete-me; echo changed > /data/keep-me; rm /data/delete-me; echo new > /data/new-file; ls /data'
AFTER=$(cd "$WORK/data" && find . -type f | sort | xargs sha256sum)
say "after (the host's $WORK/data):"
echo "$AFTER" | sed 's/^/    /'
if [ "$BEFORE" = "$AFTER" ]; then
    echo "host directory unchanged: sha256 identical"
else
    die "the host directory changed"
fi

# ---- d) mppctl ps ------------------------------------------------------------------------

heading "d) mppctl ps: the plugin stacks of a running container"
ID=$(start "mpp.cow=true" "$WORK/data:/data,$WORK/audited:/secrets" /bin/sleep 1000)
[ "$ENGINE" = runtime ] || CONTAINERS+=("$ID")
show "$MPPCTL" --mpp-config="$CFG" ps
stop "$ID"
# An engine's delete may reach mpp-runtime after its CLI returned: wait (bounded) for the detach.
for _ in $(seq 100); do
    "$MPPCTL" --mpp-config="$CFG" ps 2> /dev/null | grep -q "^no containers" && break
    sleep 0.1
done
say "stopped and deleted $ID; the plugins were detached:"
show "$MPPCTL" --mpp-config="$CFG" ps

heading "done in $(awk "BEGIN {printf \"%.1f\", $(date +%s.%N) - $T0}") s; cleaning up"
