#!/usr/bin/env bash
# Installs every Debian package mpp needs to build, test and demo. Idempotent and quick when
# everything is already there: it asks dpkg first and calls apt only for what is missing.
set -euo pipefail

PACKAGES=(
    # build
    gcc make meson ninja-build pkg-config clang clang-format
    # libraries
    libjansson-dev        # JSON codec
    libhttp-parser-dev    # plugin client: reads the plugins' HTTP answers
    libmicrohttpd-dev     # plugin SDK server
    libcmocka-dev         # C unit tests
    libfuse3-dev fuse3    # FUSE-based plugins
    # tests
    python3 python3-pytest python3-yaml   # python3-yaml: the Kubernetes manifests' test
    groff-base            # the manual pages' test (tests/system/test_docs.py)
    strace                # delays listen() in the plugin socket's test (test_plugin_socket.py)
    crun runc busybox-static
    # end-to-end tests with the real engines (tests/e2e); rootful podman with --network none
    # needs no network backend (slirp4netns, netavark) nor uidmap
    docker.io containerd podman conmon
    fio bindfs            # benchmarks of the plugins' data paths (bench/bench.py)
)

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
