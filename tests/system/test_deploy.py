"""The Kubernetes manifests of deploy/kubernetes: parsed (python3-yaml), checked for what the
installation relies on, their install script checked by `sh -n`, and validated against the
Kubernetes API schema with the npm package kubernetes-models (installed once into the build
directory; skipped, saying why, when node or npm cannot provide it)."""
import json
import os
import shutil
import subprocess

import pytest
import yaml

from mpp import BUILD, SRC

K8S = SRC / "deploy/kubernetes"
MODELS_VERSION = "5.1.0"


def docs():
    out = []
    for f in sorted(K8S.glob("*.yaml")):
        out += [d for d in yaml.safe_load_all(f.read_text()) if d]
    return out


def by_kind(kind):
    return [d for d in docs() if d["kind"] == kind]


def test_manifests_parse_and_hold_the_installation():
    kinds = sorted(d["kind"] for d in docs())
    assert kinds == ["ConfigMap", "DaemonSet", "Namespace", "RuntimeClass"]
    [rc] = by_kind("RuntimeClass")
    assert rc["metadata"]["name"] == "mpp" and rc["handler"] == "mpp"

    [ds] = by_kind("DaemonSet")
    spec = ds["spec"]["template"]["spec"]
    [init] = spec["initContainers"]
    assert init["securityContext"]["privileged"] is True
    mounts = {m["name"]: m["mountPath"] for m in init["volumeMounts"]}
    vols = {v["name"]: v for v in spec["volumes"]}
    assert vols["host-usr-local"]["hostPath"]["path"] == "/usr/local"
    assert mounts["host-usr-local"] == "/host/usr/local"
    # Each plugin of the chain runs, in the host's mount namespace, with its config file.
    [cm] = by_kind("ConfigMap")
    chain = json.loads(cm["data"]["mpp.json"])["plugins"]
    cmds = {c["name"]: c["command"] for c in spec["containers"]}
    for p in chain:
        assert cmds[p][:5] == ["nsenter", "--target", "1", "--mount", "--"]
        assert cmds[p][5:] == [f"/usr/local/bin/mpp-plugin-{p}", "--config",
                               f"/etc/mpp/plugins/{p}.json"]
        json.loads(cm["data"][f"{p}.json"])
    assert init["command"] == ["/bin/sh", "/config/install.sh"]


def test_install_script_registers_the_runtime(tmp_path):
    [cm] = by_kind("ConfigMap")
    script = cm["data"]["install.sh"]
    (tmp_path / "install.sh").write_text(script)
    r = subprocess.run(["sh", "-n", str(tmp_path / "install.sh")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    # The TOML it appends is what docs/engines.md documents, and parses as TOML.
    toml_lib = pytest.importorskip("tomllib")
    start = script.index("<<'TOML'\n") + len("<<'TOML'\n")
    containerd = script[start:script.index("\nTOML\n", start)]
    t = toml_lib.loads(containerd)
    mpp = t["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"]["mpp"]
    assert mpp["runtime_type"] == "io.containerd.runc.v2"
    assert mpp["options"]["BinaryName"] == "/usr/local/bin/mpp-runtime"
    start = script.index("<<'TOML'\n", start) + len("<<'TOML'\n")
    crio = toml_lib.loads(script[start:script.index("\nTOML\n", start)])
    assert crio["crio"]["runtime"]["runtimes"]["mpp"]["runtime_path"] == \
        "/usr/local/bin/mpp-runtime"


def kubernetes_models():
    """The kubernetes-models package directory, installing it into the build dir if needed."""
    if shutil.which("node") is None:
        pytest.skip("node is not installed: cannot validate against the Kubernetes schema")
    d = BUILD / "k8s-validate"
    pkg = d / "node_modules/kubernetes-models"
    if not (pkg / "package.json").exists():
        if shutil.which("npm") is None:
            pytest.skip("npm is not installed: cannot fetch kubernetes-models")
        d.mkdir(exist_ok=True)
        (d / "package.json").write_text('{"name": "mpp-k8s-validate", "private": true}\n')
        r = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(d),
                            f"kubernetes-models@{MODELS_VERSION}"],
                           capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            pytest.skip(f"npm could not install kubernetes-models: {r.stderr[-500:]}")
    return pkg


def validate(objs):
    return subprocess.run(["node", str(SRC / "tests/tools/k8s-validate.mjs"),
                           str(kubernetes_models())], input=json.dumps(objs),
                          capture_output=True, text=True, timeout=120)


def test_manifests_match_the_kubernetes_schema():
    r = validate(docs())
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count(": valid ") == len(docs())


def test_the_validator_rejects_a_broken_manifest():
    [ds] = by_kind("DaemonSet")
    ds["spec"]["template"]["spec"]["containers"][0]["command"] = "not a list"
    r = validate([ds])
    assert r.returncode == 1 and "command must be array" in r.stdout, r.stdout + r.stderr
