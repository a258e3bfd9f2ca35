"""The build as packagers and plugin authors see it: the shared libraries export exactly the
public API (include/mpp/*.h) under a version node, and nothing only the tests use; a plugin
builds against the installed tree with nothing but what pkg-config says."""
import json
import os
import re
import signal
import socket
import subprocess

from mpp import BUILD, SRC, wait_for

PUBLIC = SRC / "include/mpp"


def declared(header):
    """The functions a public header declares (comments and function-pointer members left out)."""
    text = re.sub(r"/\*.*?\*/", "", header.read_text(), flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    return {m.group(1) for m in re.finditer(r"(?<!\(\*)(?<!\w)(mpp_\w+)\s*\(", text)}


def exported(lib):
    """{symbol: version node} of what a shared library exports."""
    out = subprocess.run(["nm", "-D", "--defined-only", str(lib)], capture_output=True,
                         text=True, check=True).stdout
    syms = {}
    for line in out.splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[1] != "A":
            name, _, version = fields[2].partition("@@")
            syms[name] = version
    return syms


def test_shared_libraries_export_exactly_the_public_api():
    sdk_api = declared(PUBLIC / "mpp-plugin.h")
    lib_api = set().union(*(declared(h) for h in PUBLIC.glob("*.h"))) - sdk_api
    assert len(lib_api) > 100 and len(sdk_api) >= 4  # the parser found the declarations

    lib = exported(BUILD / "src/lib/libmpp.so")
    sdk = exported(BUILD / "src/sdk/libmpp-plugin.so")
    assert sorted(set(lib) - lib_api) == [], "libmpp.so exports internals"
    assert sorted(lib_api - set(lib)) == [], "public functions missing from src/lib/libmpp.sym"
    assert sorted(set(sdk) - sdk_api) == [], "libmpp-plugin.so exports internals"
    assert sorted(sdk_api - set(sdk)) == [], \
        "public functions missing from src/sdk/libmpp-plugin.sym"
    assert set(lib.values()) == {"LIBMPP_0.1"}
    assert set(sdk.values()) == {"LIBMPP_PLUGIN_0.1"}


def test_sdk_test_hooks_are_not_in_the_installed_library():
    # The whole symbol table, local symbols included: not hidden, absent.
    out = subprocess.run(["nm", str(BUILD / "src/sdk/libmpp-plugin.so")], capture_output=True,
                         text=True, check=True).stdout
    names = {line.split()[-1] for line in out.splitlines() if line.strip()}
    assert "mpp_plugin_server_set_test_hooks" not in names
    assert "mpp_plugin_call_to_string" not in names
    # The test plugin has them (tests/plugins/mpp-test-plugin.c uses them).
    out = subprocess.run(["nm", str(BUILD / "tests/mpp-test-plugin")], capture_output=True,
                         text=True, check=True).stdout
    assert "mpp_plugin_server_set_test_hooks" in out


def call(path, endpoint, body=b""):
    """One POST over the plugin's socket: (status line, decoded body)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
        c.settimeout(10)
        c.connect(str(path))
        c.sendall(f"POST /{endpoint} HTTP/1.1\r\nHost: plugin\r\nContent-Length: {len(body)}\r\n"
                  "Connection: close\r\n\r\n".encode() + body)
        data = b""
        while chunk := c.recv(65536):
            data += chunk
    head, _, payload = data.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0].decode(), json.loads(payload)


def test_plugin_builds_against_the_installed_tree_with_pkg_config(tmp_path):
    dest = tmp_path / "dest"
    subprocess.run(["meson", "install", "-C", str(BUILD), "--no-rebuild", "--quiet",
                    "--destdir", str(dest)], check=True, capture_output=True)
    pcs = list(dest.rglob("pkgconfig/libmpp-plugin.pc"))
    assert len(pcs) == 1, "libmpp-plugin.pc is not installed"
    assert (pcs[0].parent / "libmpp.pc").exists()
    env = dict(os.environ, PKG_CONFIG_PATH=str(pcs[0].parent), PKG_CONFIG_SYSROOT_DIR=str(dest))
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "libmpp-plugin"], env=env,
                           capture_output=True, text=True, check=True).stdout.split()
    # Everything comes from the installed tree, nothing from the sources or the build.
    for f in flags:
        if f.startswith(("-I", "-L")):
            assert f[2:].startswith(str(dest)), flags

    # The guide's example plugin, built as docs/plugin-guide.md tells authors to.
    exe = tmp_path / "hello"
    san = ["-fsanitize=address,undefined"] if os.environ.get("MPP_SANITIZED") else []
    subprocess.run(["cc", "-std=gnu11", "-Wall", "-Wextra", "-Werror", *san,
                    str(SRC / "examples/hello-plugin.c"), "-o", str(exe), *flags],
                   check=True, capture_output=True, text=True)
    libdir = next(f[2:] for f in flags if f.startswith("-L"))
    ldd = subprocess.run(["ldd", str(exe)], env=dict(os.environ, LD_LIBRARY_PATH=libdir),
                         capture_output=True, text=True, check=True).stdout
    assert f"{libdir}/libmpp-plugin.so" in ldd and f"{libdir}/libmpp.so" in ldd, ldd

    # libmpp alone, through <mpp/mpp.h> (the generated <mpp/version.h> included).
    prog = tmp_path / "version.c"
    prog.write_text('#include <stdio.h>\n#include <mpp/mpp.h>\n'
                    'int main(void) { mpp_error e = {0}; mpp_error_set(&e, -1, "x");\n'
                    '    printf("%s %s\\n", MPP_VERSION, e.msg); return 0; }\n')
    lib_flags = subprocess.run(["pkg-config", "--cflags", "--libs", "libmpp"], env=env,
                               capture_output=True, text=True, check=True).stdout.split()
    subprocess.run(["cc", "-std=gnu11", "-Wall", "-Werror", *san, str(prog), "-o",
                    str(tmp_path / "version"), *lib_flags], check=True, capture_output=True)
    out = subprocess.run([str(tmp_path / "version")], env=dict(os.environ, LD_LIBRARY_PATH=libdir),
                         capture_output=True, text=True, check=True).stdout
    info = json.loads(subprocess.run(["meson", "introspect", "--projectinfo", str(BUILD)],
                                     capture_output=True, text=True, check=True).stdout)
    assert out == f"{info['version']} x\n"

    sock = tmp_path / "hello.sock"
    err = tmp_path / "stderr"
    with open(err, "wb") as f:
        p = subprocess.Popen([str(exe), "/srv/hello", str(sock)], stderr=f,
                             env=dict(os.environ, LD_LIBRARY_PATH=libdir))
    try:
        wait_for(lambda: sock.exists() or p.poll() is not None, what="the plugin's socket")
        assert p.poll() is None, err.read_text()
        assert call(sock, "Plugin.Activate") == ("HTTP/1.1 200 OK",
                                                 {"Implements": ["mountpoint"]})
        status, props = call(sock, "MountPointPlugin.MountPointProperties", b"{}")
        assert status == "HTTP/1.1 200 OK"
        assert props["Success"] is True
        assert props["Patterns"] == [{"Type": "bind", "Source": [{"PathPrefix": "/srv/hello"}]}]
    finally:
        p.send_signal(signal.SIGTERM)
        rc = p.wait(timeout=15)
    assert rc == 0, err.read_text()
    assert not sock.exists()


def test_the_version_is_written_once():
    info = json.loads(subprocess.run(["meson", "introspect", "--projectinfo", str(BUILD)],
                                     capture_output=True, text=True, check=True).stdout)
    version = info["version"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)
    # Everything that carries it is made from project() at build time...
    assert f'#define MPP_VERSION "{version}"' in (BUILD / "include/mpp/version.h").read_text()
    pages = sorted((SRC / "docs/man").glob("*.[158]"))
    assert pages
    for page in pages:
        th = (BUILD / "docs/man" / page.name).read_text().splitlines()[0]
        assert f'"mpp {version}"' in th, th
    for lib in ["src/lib/libmpp.so", "src/sdk/libmpp-plugin.so"]:
        assert os.path.realpath(BUILD / lib).endswith(f".so.{version}")
    # ... and no source, header or page repeats it.
    tracked = subprocess.run(["git", "-C", str(SRC), "ls-files", "src", "include", "plugins",
                              "docs/man", "examples", "meson.build"],
                             capture_output=True, text=True, check=True).stdout.split()
    repeats = [f for f in tracked if f != "meson.build" and version in (SRC / f).read_text()]
    assert repeats == []
    assert f"version : '{version}'" in (SRC / "meson.build").read_text()


def deps(*groups):
    return set(subprocess.run([str(SRC / "scripts/deps.sh"), "--print", *groups],
                              capture_output=True, text=True, check=True).stdout.split())


def test_each_step_installs_what_it_needs():
    engines = {"docker.io", "containerd", "podman", "conmon"}
    build = deps("build")
    assert {"meson", "ninja-build", "gcc", "libjansson-dev", "libmicrohttpd-dev"} <= build
    assert not build & (engines | {"crun", "runc", "libsystemd-dev"}), build
    # make check on a fresh machine: everything its tests run, the engines of tests/e2e included.
    check = deps("check")
    assert build | engines | {"crun", "runc", "busybox-static", "libcmocka-dev", "clang-format",
                              "python3-pytest"} <= check
    assert not deps("demo") & engines
    assert engines <= deps("demo", "engines")
    assert {"fio", "bindfs"} <= deps("bench") and "clang" in deps("fuzz")
    assert deps() == check | deps("demo", "engines", "bench", "fuzz")
    r = subprocess.run([str(SRC / "scripts/deps.sh"), "--print", "nosuch"], capture_output=True,
                       text=True)
    assert r.returncode != 0 and "unknown group 'nosuch'" in r.stderr

    def make_n(*args):
        out = subprocess.run(["make", "--no-print-directory", "-C", str(SRC), "-n", *args],
                             capture_output=True, text=True, check=True).stdout
        return [line.strip() for line in out.splitlines()]

    assert "scripts/deps.sh build" in make_n("build")
    assert "scripts/deps.sh demo" in make_n("demo")
    assert "scripts/deps.sh demo engines" in make_n("demo", "DEMO_ENGINE=docker")
    steps = make_n("check")
    assert "scripts/deps.sh check" in steps
    # The format check runs last, after the tests.
    assert steps[-1].startswith("clang-format --dry-run --Werror ")
    assert any("pytest -q tests/e2e" in line for line in steps[:-1])


def test_shared_helpers_depend_on_nothing_in_libmpp():
    # src/shared/ is below libmpp: its files include system headers and each other only.
    for f in (SRC / "src/shared").iterdir():
        for inc in re.findall(r'^\s*#\s*include\s*([<"][^>"]+[>"])', f.read_text(), re.M):
            assert inc.startswith("<") and not inc.startswith("<mpp/") or \
                (inc.startswith('"') and (SRC / "src/shared" / inc[1:-1]).exists()), (f, inc)
