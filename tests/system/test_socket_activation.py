"""The plugins started as deploy/systemd starts them: no --socket, the listening socket passed by
socket activation (LISTEN_FDS/LISTEN_PID, fd 3), by a small launcher and, when installed, by
systemd-socket-activate. Also: the units of deploy/systemd pass `systemd-analyze verify`."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess

import pytest

from mpp import BUILD, PYTHON, SRC, wait_for

PLUGINS = ["policy", "audit", "cow", "idmap"]


def configs(tmp_path, name):
    cfg = {
        "policy": {"rules": [{"name": "p", "protect": ["/root"]}]},
        "audit": {"log_dir": str(tmp_path / "audit-logs")},
        "cow": {},
        "idmap": {"mappings": [{"match": {"source_prefix": "/srv/x"},
                                "uid": [{"host": 1000, "container": 0}]}]},
    }[name]
    p = tmp_path / f"{name}.json"
    p.write_text(json.dumps(cfg))
    return p


def argv(tmp_path, name):
    a = [str(BUILD / f"plugins/{name}/mpp-plugin-{name}"), "--config", str(configs(tmp_path, name))]
    if name != "policy":
        a += ["--state-dir", str(tmp_path / f"{name}-state")]
    return a


# A launcher doing what systemd does for a .socket unit: bind and listen, then exec the service
# with the socket as fd 3 and LISTEN_FDS=1, LISTEN_PID=its own pid.
LAUNCHER = r"""
import os, socket, sys
path, argv = sys.argv[1], sys.argv[2:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
os.chmod(path, 0o600)
s.listen(16)
if s.fileno() != 3:
    os.dup2(s.fileno(), 3)
os.set_inheritable(3, True)
env = dict(os.environ, LISTEN_FDS="1", LISTEN_PID=str(os.getpid()))
os.execve(argv[0], argv, env)
"""


def activate(path):
    """Plugin.Activate over the socket: the answer's body."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
        c.settimeout(10)
        c.connect(str(path))
        c.sendall(b"POST /Plugin.Activate HTTP/1.1\r\nHost: plugin\r\nContent-Length: 0\r\n"
                  b"Connection: close\r\n\r\n")
        data = b""
        while True:
            chunk = c.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), data
    return json.loads(body)


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=15)


@pytest.mark.parametrize("name", PLUGINS)
def test_plugin_serves_the_activated_socket(tmp_path, name):
    sock = tmp_path / f"{name}.sock"
    default = f"/run/docker/plugins/{name}.sock"
    had_default = os.path.exists(default)
    err = tmp_path / "stderr"
    with open(err, "wb") as f:
        p = subprocess.Popen([PYTHON, "-c", LAUNCHER,
                              str(sock)] + argv(tmp_path, name), stderr=f)
    try:
        wait_for(lambda: "serving on" in err.read_text() or p.poll() is not None,
                 what=f"{name} to serve")
        assert p.poll() is None, err.read_text()
        assert "serving on the socket passed by socket activation" in err.read_text()
        assert activate(sock) == {"Implements": ["mountpoint"]}
        # It served the passed socket and made none at its default path.
        assert os.path.exists(default) == had_default
    finally:
        rc = stop(p)
    assert rc == 0, err.read_text()
    # The SDK leaves a passed socket to whoever made it (systemd removes it).
    assert sock.exists()


# What the launcher passes, made wrong: the plugin refuses to start rather than serve a socket
# that is not its own (the SDK reads LISTEN_FDS/LISTEN_PID itself, without libsystemd).
# (A LISTEN_PID of another process means "not for this process": the plugins then make their
# default socket, as sd_listen_fds(3) would have them.)
@pytest.mark.parametrize("fds,message", [
    ("2", "socket activation passed 2 sockets, expected exactly one"),
    ("0", "socket activation passed 0 sockets, expected exactly one"),
    ("x", "socket activation: invalid LISTEN_FDS=x"),
])
def test_plugin_refuses_a_wrong_activation(tmp_path, fds, message):
    sock = tmp_path / "policy.sock"
    launcher = LAUNCHER.replace('LISTEN_FDS="1"', f'LISTEN_FDS="{fds}"')
    r = subprocess.run([PYTHON, "-c", launcher, str(sock)] + argv(tmp_path, "policy"),
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert message in r.stderr, r.stderr
    assert "serving on" not in r.stderr


@pytest.mark.skipif(shutil.which("systemd-socket-activate") is None,
                    reason="systemd-socket-activate is not installed (Debian package systemd)")
def test_plugin_under_systemd_socket_activate(tmp_path):
    sock = tmp_path / "policy.sock"
    err = tmp_path / "stderr"
    with open(err, "wb") as f:
        p = subprocess.Popen(["systemd-socket-activate", "-l", str(sock)]
                             + argv(tmp_path, "policy"), stderr=f)
    try:
        # The socket's file appears at bind(), before listen(): a connect then is refused.
        # systemd-socket-activate says "Listening on" once it listens.
        wait_for(lambda: "Listening on" in err.read_text() or p.poll() is not None,
                 what="the socket")
        # The first connection starts the plugin, which then answers it.
        assert activate(sock) == {"Implements": ["mountpoint"]}
        assert "serving on the socket passed by socket activation" in err.read_text()
    finally:
        rc = stop(p)
    assert rc == 0, err.read_text()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_units_verify(tmp_path):
    units = sorted((SRC / "deploy/systemd").glob("mpp-plugin-*.s*"))
    names = {u.name for u in units}
    for n in PLUGINS:
        assert {f"mpp-plugin-{n}.socket", f"mpp-plugin-{n}.service"} <= names
    for u in units:
        text = u.read_text()
        if u.suffix == ".socket":
            n = u.stem.removeprefix("mpp-plugin-")
            assert f"ListenStream=/run/docker/plugins/{n}.sock\n" in text
            assert "SocketMode=0600\n" in text
        else:
            n = u.stem.removeprefix("mpp-plugin-")
            m = re.search(r"^ExecStart=(\S+) (.*)$", text, re.M)
            assert m and m.group(1) == f"/usr/local/bin/mpp-plugin-{n}"
            assert m.group(2) == f"--config /etc/mpp/plugins/{n}.json"
            assert "--socket" not in m.group(2)
        # verify checks that ExecStart exists: point it at this build.
        (tmp_path / u.name).write_text(
            text.replace("/usr/local/bin/", str(BUILD / "plugins" / "NAME") + "/")
            .replace("/NAME/mpp-plugin-", f"/{u.stem.removeprefix('mpp-plugin-')}/mpp-plugin-"))
    r = subprocess.run(["systemd-analyze", "verify", "--man=no"]
                       + [str(tmp_path / u.name) for u in units],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stderr.strip() == "", r.stderr
