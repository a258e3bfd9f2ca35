"""A client that talks to a plugin's socket directly (raw HTTP, bypassing mpp's pattern matching)
cannot make the shipped plugins act on a mount their own patterns do not select, nor on "/": the
attach is refused (Success false, an Err naming the mount) and nothing is created, no overlay, no
idmapped mount, no watch, no state. Against the real cow, idmap, audit and policy plugins."""
import http.client
import json
import socket

import pytest

from test_plugin_audit import start_audit
from test_plugin_cow import start_cow
from test_plugin_idmap import mapping, start_idmap
from test_plugin_policy import start_policy

NOT_SELECTED = "is not one this plugin's patterns select"
NOT_CLEAN = "is not a clean absolute path other than /"


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=10):
        super().__init__("plugin", timeout=timeout)
        self.unix_path = str(path)

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def call(sock, ep, obj):
    c = UnixHTTPConnection(sock)
    try:
        c.request("POST", "/" + ep, json.dumps(obj),
                  {"Content-Type": "application/vnd.docker.plugins.v1.2+json"})
        r = c.getresponse()
        return r.status, json.loads(r.read())
    finally:
        c.close()


def attach(sock, cid, *mounts):
    return call(sock, "MountPointPlugin.MountPointAttach", {"ID": cid, "Mounts": list(mounts)})


def detach(sock, cid, *mounts):
    return call(sock, "MountPointPlugin.MountPointDetach", {"ID": cid, "Mounts": list(mounts)})


def mount(src, dst="/host", typ="bind", labels=None):
    m = {"Source": str(src), "Destination": dst, "Type": typ}
    if labels:
        m["Container"] = {"Labels": labels}
    return m


def mounts_below(*dirs):
    """Mount points (field 5 of mountinfo) under the test's own directories."""
    out = []
    for line in open("/proc/self/mountinfo"):
        mp = line.split()[4]
        if any(mp == str(d) or mp.startswith(str(d) + "/") for d in dirs):
            out.append(mp)
    return out


def refused(sock, cid, m, words):
    status, resp = attach(sock, cid, m)
    assert status == 200, resp
    assert resp.get("Success") is not True, resp
    assert words in resp["Err"], resp["Err"]
    return resp["Err"]


def state_entries(state, cid):
    if not state.exists():
        return []
    return sorted(p.name for p in state.iterdir() if p.name.startswith(cid))


def test_cow_refuses_unselected_mounts_and_the_root(env):
    d = start_cow(env)
    label = {"mpp.cow": "true"}
    src = env.root / "src"
    src.mkdir()
    cases = [
        ("c1", mount("/"), NOT_SELECTED),                              # no label
        ("c2", mount(src, typ="volume", labels=label), NOT_SELECTED),  # not a bind
        ("c3", mount("/", labels=label), NOT_CLEAN),                   # selected, but "/"
        ("c4", mount("/srv/../", labels=label), NOT_CLEAN),
    ]
    try:
        for cid, m, words in cases:
            err = refused(d.socket, cid, m, words)
            if words == NOT_SELECTED:
                assert f"({m['Source']} -> /host)" in err
            assert state_entries(d.state, cid) == []
            assert mounts_below(d.state, env.root) == []
        # What the patterns select is served: the refusals above came from the checks.
        status, resp = attach(d.socket, "c5", mount(src, labels=label))
        assert resp["Success"] is True and resp["Attachments"][0]["Attach"], resp
        assert len(mounts_below(d.state)) == 1
    finally:
        for cid, _, _ in cases + [("c5", None, None)]:
            detach(d.socket, cid)
    assert mounts_below(d.state, env.root) == []
    d.stop()


def test_idmap_refuses_unselected_mounts_and_the_root(env):
    src = env.root / "src"
    src.mkdir()
    d = start_idmap(env, {"mappings": [mapping(prefix=src),
                                       mapping(labels={"mpp.idmap": "yes"})]})
    try:
        refused(d.socket, "i1", mount("/"), NOT_SELECTED)
        refused(d.socket, "i2", mount("/etc"), NOT_SELECTED)
        refused(d.socket, "i3", mount("/", labels={"mpp.idmap": "yes"}), NOT_CLEAN)
        for cid in ("i1", "i2", "i3"):
            assert state_entries(d.state, cid) == []
        assert mounts_below(d.state, env.root) == []
        status, resp = attach(d.socket, "i4", mount(src))
        assert resp["Success"] is True and resp["Attachments"][0]["Attach"], resp
    finally:
        for cid in ("i1", "i2", "i3", "i4"):
            detach(d.socket, cid)
    assert mounts_below(d.state, env.root) == []
    d.stop()


def test_audit_refuses_unselected_mounts_and_the_root(env):
    d = start_audit(env)
    try:
        refused(d.socket, "a1", mount("/"), NOT_SELECTED)
        refused(d.socket, "a2", mount("/", labels={"mpp.audit": "true"}), NOT_CLEAN)
        for cid in ("a1", "a2"):
            assert state_entries(d.state, cid) == []
            assert state_entries(d.logs, cid) == []
    finally:
        for cid in ("a1", "a2"):
            detach(d.socket, cid)
    d.stop()


def test_policy_judges_what_is_sent_directly(env):
    # Its patterns select every mount (the rules decide): "/" is judged by the rules, and a
    # source that is not absolute is denied.
    d = start_policy(env, [{"name": "protect-host", "protect": ["/etc/shadow"]}])
    refused(d.socket, "p1", mount("/"), 'policy rule "protect-host" denies / -> /host')
    refused(d.socket, "p2", mount("/etc/../"), 'policy rule "protect-host" denies')
    status, resp = attach(d.socket, "p3", mount("etc"))
    assert resp.get("Success") is not True and "not an absolute path" in resp["Err"], resp
    d.stop()
