"""What plugins say reaches terminals and logs escaped: one line per message, control characters
(C0, DEL, C1) and invalid UTF-8 as \\xNN, and a long message cut at a character boundary with a
visible marker. Through mpp-runtime's stderr and its --log JSON file (where Docker reads errors
from), with the real crun and runc and a real plugin process."""
import json
import os

from mpp import make_bundle, oci_bind, unique_id

MARKER = "[truncated]"

# A denial that tries to forge a line of mpp-runtime's own, clear the screen, set the terminal's
# title, use a C1 CSI (U+009B) and NEL (U+0085), and carries a DEL. (Invalid UTF-8 cannot come
# this way: the SDK's JSON encoder replaces it and mpp's decoder refuses it; the unit tests cover
# it.)
FORGED = "no\nmpp-runtime: ok\r\x1b[2J\x1b]0;pwned\x07 \u009b31m \u0085 x\x7fy end"
ESCAPED = ("no\\x0ampp-runtime: ok\\x0d\\x1b[2J\\x1b]0;pwned\\x07 \\xc2\\x9b31m \\xc2\\x85 "
           "x\\x7fy end")


def run_denied(env, rootfs, rt, tmp, *plugin_args, detach=False):
    """Run a container through mpp-runtime with plugin "evil"; returns (stderr bytes, the log
    file's lines as bytes)."""
    src = env.root / "src"
    src.mkdir(exist_ok=True)
    env.plugin("evil", *plugin_args)
    env.write_config(["evil"], runtime=rt.real)
    b = make_bundle(env.root / f"b-{tmp}", rootfs, ["/bin/true"], [oci_bind(src, "/data")])
    log = env.root / f"log-{tmp}.json"
    cid = unique_id(f"c-{tmp}")
    r = rt.run(True, "--log", str(log), "--log-format", "json", "run", "--bundle", str(b),
               cid, config=env.config, text=False)
    assert rt.state(cid) is None
    return r, r.stderr, log.read_bytes().splitlines()


def assert_clean_text(data: bytes):
    """Valid UTF-8 with no control character but the newlines that end lines, and no C1."""
    text = data.decode("utf-8")  # raises on invalid UTF-8
    for ch in text:
        assert ch == "\n" or not (ord(ch) < 0x20 or 0x7f <= ord(ch) <= 0x9f), repr(ch)
    return text


def lines_with(text, word):
    return [l for l in text.split("\n") if word in l]


def test_forged_denial_is_one_escaped_line(env, rootfs, rt):
    r, err, log = run_denied(env, rootfs, rt, "f", "--attach", "deny:" + FORGED)
    assert r.returncode != 0
    text = assert_clean_text(err)
    mine = lines_with(text, 'plugin "evil"')
    assert len(mine) == 1, text
    assert mine[0].endswith('denied ' + str(env.root / "src") + ' -> /data: ' + ESCAPED), mine[0]
    # Nothing the plugin said starts a line of its own.
    assert not any(l.startswith("mpp-runtime: ok") for l in text.split("\n")), text
    assert not lines_with(text, "pwned")[1:]
    # The JSON log: every line is a JSON object, the error is there once, escaped.
    recs = [json.loads(l) for l in log]
    errs = [x for x in recs if x["level"] == "error" and 'plugin "evil"' in x["msg"]]
    assert len(errs) == 1, recs
    assert errs[0]["msg"].endswith(ESCAPED)
    for x in recs:
        assert_clean_text(x["msg"].encode())
    assert_clean_text(b"\n".join(log))


def test_long_multibyte_denial_is_cut_at_a_character(env, rootfs, rt):
    long = "\u20ac" * 3000 + "\nmpp-runtime: ok"  # 9000 bytes of euros, then a forged line
    r, err, log = run_denied(env, rootfs, rt, "l", "--attach", "deny:" + long)
    assert r.returncode != 0
    text = assert_clean_text(err)
    mine = lines_with(text, 'plugin "evil"')
    assert len(mine) == 1
    line = mine[0]
    assert line.endswith(MARKER), line[-40:]
    assert "mpp-runtime: ok" not in text
    body = line[line.index("/data: ") + len("/data: "):-len(MARKER)]
    assert len(body) > 500 and set(body) == {"\u20ac"}  # whole characters only
    assert len(line.encode()) < 4096
    recs = [json.loads(l) for l in log]
    errs = [x for x in recs if x["level"] == "error" and 'plugin "evil"' in x["msg"]]
    assert len(errs) == 1
    m = errs[0]["msg"]
    assert m.endswith(MARKER)
    assert set(m[m.index("/data: ") + 7:-len(MARKER)]) == {"\u20ac"}


def test_forged_detach_error_and_warning_are_escaped(env, rootfs, rt):
    # The plugin attaches, then fails its detach with the forged message: the teardown error
    # is reported (stderr, log, journal) as one escaped line.
    r, err, log = run_denied(env, rootfs, rt, "d", "--detach", "recoverable:" + FORGED)
    text = assert_clean_text(err)
    mine = lines_with(text, "failed to detach")
    assert len(mine) == 1, text
    assert mine[0].endswith(ESCAPED)
    assert not any(l.startswith("mpp-runtime: ok") for l in text.split("\n"))
    recs = [json.loads(l) for l in log]
    assert any(x["msg"].endswith(ESCAPED) for x in recs), recs
    for x in recs:
        assert_clean_text(x["msg"].encode())


def test_forged_emergency_warning_and_error_are_escaped(env, rootfs, rt):
    cid = unique_id("c-e")
    # The plugin is gone at the teardown: its emergency Warning and Error stand in for it, and
    # are reported as one escaped line each.
    src = env.root / "src"
    src.mkdir()
    p = env.plugin("evil", "--emergency", json.dumps([{"Warning": FORGED}, {"Error": FORGED}]))
    env.write_config(["evil"], runtime=rt.real)
    b = make_bundle(env.root / "b", rootfs, ["/bin/true"], [oci_bind(src, "/data")])
    log = env.root / "log.json"
    # The created container holds the output it inherits: a file, not a pipe.
    out = env.root / "create.out"
    with open(out, "w") as f:
        r = rt.run(True, "--log", str(log), "--log-format", "json", "create", "--bundle",
                   str(b), cid, config=env.config, stdout=f, stderr=f, capture_output=False)
    assert r.returncode == 0, out.read_text()
    p.kill()
    r = rt.run(True, "--log", str(log), "--log-format", "json", "delete", "--force", cid,
               config=env.config, text=False)
    text = assert_clean_text(r.stderr)
    mine = lines_with(text, 'plugin "evil": no')
    assert len(mine) == 2, text  # the warning and the error
    assert all(l.endswith(ESCAPED) for l in mine), mine
    assert any(l.startswith("mpp-runtime: warning:") for l in mine)
    assert not any(l.startswith("mpp-runtime: ok") for l in text.split("\n"))
    recs = [json.loads(l) for l in log.read_bytes().splitlines()]
    assert [x["level"] for x in recs if x["msg"].endswith(ESCAPED)] == ["warning", "error"]
    for x in recs:
        assert_clean_text(x["msg"].encode())
