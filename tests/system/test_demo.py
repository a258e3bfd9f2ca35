"""`make demo`'s script in quick mode against the build under test: what it shows (the denial,
the audited write, the unchanged host directory, mppctl ps with the container) and that it
leaves nothing behind (no mount, no plugin process, no temporary directory)."""
import os
import re
import subprocess

from mpp import BUILD, SRC


def mounts_under(root):
    root = str(root)
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    return [p for p in points if p == root or p.startswith(root + "/")]


def plugin_processes(root):
    """Processes of this build's plugins whose command line names a path under root."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        if argv and "mpp-plugin-" in argv[0] and any(str(root) in a for a in argv):
            found.append((pid, argv))
    return found


def run_demo(tmp_path, **env):
    e = dict(os.environ, MPP_BUILD=str(BUILD), DEMO_QUICK="1", TMPDIR=str(tmp_path))
    e.pop("DEMO_ENGINE", None)
    e.update(env)
    return subprocess.run([str(SRC / "scripts/demo.sh")], capture_output=True, text=True, env=e,
                          timeout=120)


def test_demo_shows_each_plugin_at_work_and_leaves_nothing(tmp_path):
    r = run_demo(tmp_path)
    out = r.stdout
    assert r.returncode == 0, f"demo failed ({r.returncode}):\n{out}\n{r.stderr}"
    work = re.search(r"on sockets in (\S+)/plugins", out)
    assert work, out
    work = work.group(1)
    assert work.startswith(str(tmp_path) + "/mpp-demo.")

    # a) the policy's denial, as the user sees it
    assert ('mount point plugin "policy" denied /etc -> /host-etc: policy rule "protect-host" '
            "denies /etc -> /host-etc: it exposes /etc/shadow") in out

    # b) an audit record of the container's write, with its path in and outside the container
    assert re.search(rf"^\s+write\s+/secrets/new-key\s+host: {re.escape(work)}/audited/new-key",
                     out, re.M), out
    assert re.search(r"^\s+create\s+/secrets/d \(directory\)", out, re.M), out

    # c) the checksums before and after are the same lines, and the script says so
    section = out.split("== c)")[1].split("== d)")[0]
    sums = re.findall(r"^\s+([0-9a-f]{64})  \./(\S+)$", section, re.M)
    assert sorted(sums[:2]) == sorted(sums[2:]) and len(sums) == 4, section
    assert {name for _, name in sums} == {"keep-me", "delete-me"}
    assert "host directory unchanged" in section
    # ... while the container saw its own changes
    # (it read the host's file through its view, then `ls /data`: the deleted file gone, the new
    # one there)
    assert re.search(r"^\s+precious$", section, re.M), section
    assert re.search(r"^\s+keep-me\n\s+new-file\n", section, re.M), section

    # d) mppctl ps lists the running container with the plugins attached to it, then nothing
    section = out.split("== d)")[1]
    m = re.search(r"^\s+(demo-\d+-\d+)  teardown: attached", section, re.M)
    assert m, section
    assert re.search(r"\d cow\s+attached\s+EffectiveSource=\S+/cow-state/" + m.group(1), section)
    assert re.search(r"\d audit\s+attached", section)
    assert "no containers with mount point plugin state" in section

    # nothing left
    assert not os.path.exists(work)
    assert list(tmp_path.iterdir()) == []
    assert mounts_under(tmp_path) == []
    assert plugin_processes(tmp_path) == []


def test_demo_refuses_a_missing_build(tmp_path):
    r = run_demo(tmp_path, MPP_BUILD=str(tmp_path))
    assert r.returncode != 0
    assert "is missing: run make build" in r.stderr
    assert list(tmp_path.iterdir()) == []
