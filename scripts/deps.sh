#!/usr/bin/env bash
# Installs the Debian packages a step of mpp needs. Idempotent and quick when everything is
# already there: it asks dpkg first and calls apt only for what is missing.
#
#   scripts/deps.sh GROUP...          install the groups' packages (no group: all of them)
#   scripts/deps.sh --print GROUP...  print them, one a line, and install nothing
#
# Groups: build (compile and install; no runtime, no engine), check (build plus everything
# `make check` runs: unit, system and end-to-end tests, the format check), demo, engines (the
# real engines: `make demo` with DEMO_ENGINE=docker|podman), bench, fuzz. The Makefile asks for
# the group of each target.
set -euo pipefail

# compilers, build tools and the libraries the code links
BUILD=(gcc make meson ninja-build pkg-config
    libjansson-dev        # JSON codec
    libhttp-parser-dev    # plugin client: reads the plugins' HTTP answers
    libmicrohttpd-dev)    # plugin SDK server
# real runtimes and a static busybox for the containers' root filesystems
RUNTIMES=(crun runc busybox-static)
# end-to-end tests with the real engines (tests/e2e); rootful podman with --network none needs
# no network backend (slirp4netns, netavark) nor uidmap
ENGINES=(docker.io containerd podman conmon)
TESTS=(libcmocka-dev      # C unit tests
    clang-format          # make format-check
    python3 python3-pytest python3-yaml   # python3-yaml: the Kubernetes manifests' test
    groff-base            # the manual pages' test (tests/system/test_docs.py)
    strace)               # delays listen() in the plugin socket's test (test_plugin_socket.py)
BENCH=(python3 fio bindfs)   # benchmarks of the plugins' data paths (bench/bench.py)
FUZZ=(clang)                 # libFuzzer targets (make fuzz)

group() {
    case "$1" in
    build) echo "${BUILD[@]}" ;;
    check) echo "${BUILD[@]}" "${TESTS[@]}" "${RUNTIMES[@]}" "${ENGINES[@]}" ;;
    demo) echo "${BUILD[@]}" "${RUNTIMES[@]}" ;;
    engines) echo "${ENGINES[@]}" ;;
    bench) echo "${BUILD[@]}" "${RUNTIMES[@]}" "${BENCH[@]}" ;;
    fuzz) echo "${BUILD[@]}" "${FUZZ[@]}" ;;
    *)
        echo "deps.sh: unknown group '$1' (build, check, demo, engines, bench, fuzz)" >&2
        return 1
        ;;
    esac
}

print=0
if [ "${1:-}" = --print ]; then
    print=1
    shift
fi
groups=("$@")
[ ${#groups[@]} -gt 0 ] || groups=(build check demo engines bench fuzz)

declare -A seen=()
PACKAGES=()
for g in "${groups[@]}"; do
    list=$(group "$g")
    for p in $list; do
        if [ -z "${seen[$p]:-}" ]; then
            seen[$p]=1
            PACKAGES+=("$p")
        fi
    done
done

if [ $print -eq 1 ]; then
    printf '%s\n' "${PACKAGES[@]}"
    exit 0
fi

missing=()
for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "deps.sh: missing packages: ${missing[*]}; run as root to install them" >&2
    exit 1
fi
echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
