#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A mount point plugin in Python 3 with only the standard library.

It speaks the same protocol as plugins written on libmpp-plugin: HTTP/1.1 POSTs with JSON bodies
on a unix socket. Its behaviour is chosen on the command line, like mpp-test-plugin's:

    py_plugin.py --socket PATH --name NAME --log FILE [--patterns JSON]
                 [--attach yes|no|deny:MSG|redirect:DIR] [--detach ok|recoverable:MSG|fatal:MSG]
                 [--pidfile FILE] [--backlog N] [--accept-delay-ms MS]

--backlog sets listen()'s backlog; --accept-delay-ms makes it accept one connection at a time
that long apart: together, a busy plugin whose backlog overflows.

Every call appends one JSON line to FILE:
    {"plugin": NAME, "call": "activate"|"properties"|"attach"|"detach", "pid": PID,
     "request": {...}}
"""
import argparse
import http.server
import json
import os
import signal
import socketserver
import stat
import sys
import threading
import time

MEDIA_TYPE = "application/vnd.docker.plugins.v1.2+json"
MAX_BODY = 16 * 1024 * 1024


class Plugin:
    def __init__(self, args):
        self.name = args.name
        self.log = args.log
        self.patterns = json.loads(args.patterns)
        self.attach_mode, _, self.attach_arg = args.attach.partition(":")
        self.detach_mode, _, self.detach_arg = args.detach.partition(":")
        self.log_lock = threading.Lock()

    def record(self, call, request):
        line = json.dumps({"plugin": self.name, "call": call, "pid": os.getpid(),
                           "request": request}, separators=(",", ":")) + "\n"
        # One write per line on an O_APPEND file: concurrent calls never interleave.
        with self.log_lock:
            fd = os.open(self.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line.encode())
            finally:
                os.close(fd)

    def activate(self, req):
        self.record("activate", {})
        return {"Implements": ["mountpoint"]}

    def properties(self, req):
        self.record("properties", {})
        return {"Success": True, "Patterns": self.patterns}

    def attach(self, req):
        self.record("attach", req)
        mounts = req.get("Mounts") or []
        if self.attach_mode == "deny":
            return {"Success": False, "Err": self.attach_arg}
        if self.attach_mode == "no":
            return {"Success": True, "Attachments": [{"Attach": False} for _ in mounts]}
        attachment = {"Attach": True}
        if self.attach_mode == "redirect":
            attachment["Changes"] = {"EffectiveSource": self.attach_arg}
        # Attachments are positional: element k answers Mounts[k].
        return {"Success": True, "Attachments": [attachment for _ in mounts]}

    def detach(self, req):
        # A detach may name a container this plugin never saw (or arrive twice after a crash):
        # it must still succeed.
        self.record("detach", req)
        if self.detach_mode == "ok":
            return {"Success": True}
        answer = {"Success": False, "Err": self.detach_arg}
        if self.detach_mode == "recoverable":
            answer["Recoverable"] = True
        return answer


ROUTES = {
    "/Plugin.Activate": Plugin.activate,
    "/MountPointPlugin.MountPointProperties": Plugin.properties,
    "/MountPointPlugin.MountPointAttach": Plugin.attach,
    "/MountPointPlugin.MountPointDetach": Plugin.detach,
}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the client expects

    def reply(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", MEDIA_TYPE)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.close_connection = True
            return self.reply(413, {"Err": f"request body over {MAX_BODY} bytes"})
        body = self.rfile.read(length)
        route = ROUTES.get(self.path)
        if route is None:
            return self.reply(404, {"Err": f"unknown endpoint {self.path}"})
        try:
            req = json.loads(body) if body.strip() else {}
        except ValueError as e:
            return self.reply(400, {"Err": f"request is not JSON: {e}"})
        if not isinstance(req, dict):
            return self.reply(400, {"Err": "request: expected an object"})
        self.reply(200, route(self.server.plugin, req))

    def not_allowed(self):
        self.close_connection = True
        self.reply(405, {"Err": f"method {self.command} not allowed on {self.path}: use POST"})

    do_GET = do_PUT = do_DELETE = do_PATCH = not_allowed

    def log_message(self, format, *args):
        pass  # the call log is the record; unix peers have no address to print anyway


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    accept_delay = 0.0

    def get_request(self):
        if self.accept_delay:
            time.sleep(self.accept_delay)
        return super().get_request()


def listen(path, backlog):
    # Replace a stale socket, never anything else.
    try:
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            os.unlink(path)
    except FileNotFoundError:
        pass
    old = os.umask(0o177)  # born 0600
    try:
        server = Server(path, Handler, bind_and_activate=False)
        server.request_queue_size = backlog
        try:
            server.server_bind()
            server.server_activate()  # listen(request_queue_size)
        except BaseException:
            server.server_close()
            raise
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    return server


def main():
    ap = argparse.ArgumentParser(description="a mount point plugin in Python")
    ap.add_argument("--socket", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--patterns", default="[{}]")
    ap.add_argument("--attach", default="yes")
    ap.add_argument("--detach", default="ok")
    ap.add_argument("--pidfile")
    ap.add_argument("--backlog", type=int, default=5)  # socketserver's own default
    ap.add_argument("--accept-delay-ms", type=float, default=0.0)
    args = ap.parse_args()
    if args.attach.partition(":")[0] not in ("yes", "no", "deny", "redirect"):
        ap.error(f"--attach {args.attach}: expected yes, no, deny:MSG or redirect:DIR")
    if args.detach.partition(":")[0] not in ("ok", "recoverable", "fatal"):
        ap.error(f"--detach {args.detach}: expected ok, recoverable:MSG or fatal:MSG")
    try:
        json.loads(args.patterns)
    except ValueError as e:
        ap.error(f"--patterns: {e}")

    server = listen(args.socket, args.backlog)
    server.accept_delay = args.accept_delay_ms / 1000
    server.plugin = Plugin(args)
    # shutdown() waits for serve_forever() to return: call it from another thread.
    stop = lambda *_: threading.Thread(target=server.shutdown).start()  # noqa: E731
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    if args.pidfile:
        with open(args.pidfile + ".tmp", "w") as f:
            f.write(f"{os.getpid()}\n")
        os.rename(args.pidfile + ".tmp", args.pidfile)

    server.serve_forever()
    server.server_close()
    os.unlink(args.socket)
    return 0


if __name__ == "__main__":
    sys.exit(main())
