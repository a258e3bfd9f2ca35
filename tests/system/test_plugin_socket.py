"""The SDK's own socket: a client that finds it can connect. bind() makes the file before
listen() makes it answer, so the SDK binds under a temporary name and links the socket into
place once it listens. strace makes that gap half a second long here."""
import os
import shutil
import signal
import socket
import subprocess

import pytest

from mpp import BUILD, wait_for

PLUGIN = BUILD / "tests/mpp-test-plugin"


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
def test_the_socket_appears_only_once_it_listens(tmp_path):
    sock = tmp_path / "slow.sock"
    pidfile = tmp_path.parent / f"{tmp_path.name}.pid"
    # LeakSanitizer cannot run under ptrace; the plugin's leaks are checked by the other tests.
    env = dict(os.environ, ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0")
    p = subprocess.Popen(["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=listen",
                          "-e", "inject=listen:delay_enter=500000", PLUGIN, "--socket", sock,
                          "--name", "slow", "--pidfile", pidfile],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        wait_for(lambda: sock.exists() or p.poll() is not None, what="the socket")
        assert p.poll() is None, p.stderr.read()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
            c.connect(str(sock))  # refused if the file came before listen()
        # Only the socket is left in the directory, not the name it was bound under.
        assert [x.name for x in tmp_path.iterdir()] == ["slow.sock"]
        wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(), what="the pid")
    finally:
        if pidfile.exists() and pidfile.read_text().strip():
            os.kill(int(pidfile.read_text()), signal.SIGTERM)
        else:
            p.kill()
        rc = p.wait(timeout=15)  # strace exits with the plugin's status
    assert rc == 0
    assert list(tmp_path.iterdir()) == []
