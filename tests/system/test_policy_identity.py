"""mpp-plugin-policy judges the object, not its name: aliases made by bind mounts, a bind mount
of a protected directory's subdirectory, hard links and volumes that are binds of a protected
directory are refused under crun and runc through mpp-runtime; plain sources still start.
Everything is made under the test's own directory (never the real /etc) and unmounted after."""
import os
import subprocess

import pytest

from test_plugin_policy import denied, run, start_policy, tree
from mpp import oci_bind, unique_id


@pytest.fixture
def binds():
    """mount --bind, undone (in reverse order) when the test ends, whatever happened."""
    made = []

    def bind(src, dst):
        os.makedirs(dst, exist_ok=True)
        subprocess.run(["mount", "--bind", str(src), str(dst)], check=True)
        made.append(dst)
        return dst

    yield bind
    for dst in reversed(made):
        subprocess.run(["umount", str(dst)], check=True)


def protected(env):
    return tree(env.root / "protected", {"secret": "s\n", "sub/key": "k\n", "other": "o\n"})


def test_an_alias_of_a_protected_directory_is_refused(env, rootfs, rt, binds):
    prot = protected(env)
    alias = binds(prot, env.root / "alias")
    start_policy(env, [{"name": "prot", "protect": [str(prot)]}])
    r = run(env, rt, rootfs, [oci_bind(alias, "/data")], "a1")
    denied(r, alias, "/data",
           f'policy rule "prot" denies {alias} -> /data: {alias} is, or lies inside, the '
           f"protected {prot}: {alias} is the same file system object under another name")
    # Below the alias: inside the protected directory, whatever the name says.
    r = run(env, rt, rootfs, [oci_bind(alias / "sub", "/data")], "a2")
    denied(r, alias / "sub", "/data", "lies inside it, reached under another name")
    # What does not exist yet would be created inside it.
    r = run(env, rt, rootfs, [oci_bind(alias / "new" / "dir", "/data")], "a3")
    denied(r, alias / "new" / "dir", "/data",
           "does not exist yet and would be created inside it, reached under another name")
    assert not (prot / "new").exists()


def test_an_alias_of_an_ancestor_exposes_the_protected_directory(env, rootfs, rt, binds):
    outer = env.root / "outer"
    prot = tree(outer / "prot", {"secret": "s\n"})
    alias = binds(outer, env.root / "alias")
    start_policy(env, [{"name": "prot", "protect": [str(prot)]}])
    r = run(env, rt, rootfs, [oci_bind(alias, "/data")], "e1")
    denied(r, alias, "/data", f"{alias} exposes the protected {prot}")


def test_a_bind_mounted_subdirectory_of_a_protected_directory_is_refused(env, rootfs, rt, binds):
    prot = protected(env)
    elsewhere = binds(prot / "sub", env.root / "elsewhere")
    start_policy(env, [{"name": "prot", "protect": [str(prot)]}])
    r = run(env, rt, rootfs, [oci_bind(elsewhere, "/data")], "s1")
    denied(r, elsewhere, "/data",
           f"is, or lies inside, the protected {prot}: {elsewhere} lies inside it on its file "
           "system (its mount is a bind mount of a directory inside it)")


def test_a_hard_link_to_a_protected_file_is_refused(env, rootfs, rt):
    prot = protected(env)
    allowed = env.root / "allowed"
    allowed.mkdir()
    link = allowed / "innocent"
    os.link(prot / "secret", link)
    start_policy(env, [{"name": "prot", "protect": [str(prot / "secret")]}])
    r = run(env, rt, rootfs, [oci_bind(link, "/data/f")], "h1", ["/bin/cat", "/data/f"])
    denied(r, link, "/data/f", "is the same file system object under another name")
    assert "s\n" not in r.stdout


def test_deny_hard_links_refuses_a_link_into_a_protected_directory(env, rootfs, rt):
    prot = protected(env)
    allowed = tree(env.root / "allowed", {"plain": "p\n"})
    link = allowed / "innocent"
    os.link(prot / "other", link)
    # A link to a file inside a protected directory has no ancestry in it: only the option
    # that refuses multiply linked files on that file system catches it.
    start_policy(env, [{"name": "prot", "protect": [str(prot)], "deny_hard_links": True}])
    r = run(env, rt, rootfs, [oci_bind(link, "/data/f")], "l1", ["/bin/cat", "/data/f"])
    denied(r, link, "/data/f", "is a file with several hard links on its file system")
    assert "o\n" not in r.stdout
    # A file with one link is still fine.
    r = run(env, rt, rootfs, [oci_bind(allowed / "plain", "/data/f")], "l2",
            ["/bin/cat", "/data/f"])
    assert (r.returncode, r.stdout) == (0, "p\n"), r.stderr


def test_a_volume_that_binds_a_protected_directory_is_refused(env, rootfs, rt, binds):
    # What `docker volume create --opt type=none --opt o=bind --opt device=DIR V` leaves:
    # DOCKER_ROOT/volumes/V/_data is a bind mount of DIR.
    prot = protected(env)
    data = binds(prot, env.root / "docker/volumes/V/_data")
    start_policy(env, [{"name": "prot", "protect": [str(prot)]}])
    r = run(env, rt, rootfs, [oci_bind(data, "/v")], "v1")
    denied(r, data, "/v", f"{data} is the same file system object under another name")


def test_read_only_judges_the_object_too(env, rootfs, rt, binds):
    cid = unique_id("r1")
    prot = protected(env)
    alias = binds(prot, env.root / "alias")
    start_policy(env, [{"name": "ro", "read_only": [str(prot)]}])
    r = run(env, rt, rootfs, [oci_bind(alias, "/data")], cid)
    denied(r, alias, "/data",
           f'policy rule "ro" denies the read-write mount {alias} -> /data: {prot} may only be '
           "mounted read-only, and")
    r = run(env, rt, rootfs, [oci_bind(alias, "/data", ro=True)], "r2", ["/bin/cat",
                                                                         "/data/secret"])
    assert (r.returncode, r.stdout) == (0, "s\n"), r.stderr


def test_plain_sources_are_still_allowed(env, rootfs, rt, binds):
    prot = protected(env)
    binds(prot, env.root / "alias")  # an alias exists; other sources do not care
    src = tree(env.root / "src", {"f": "hello\n"})
    vol = binds(src, env.root / "docker/volumes/ok/_data")
    start_policy(env, [{"name": "prot", "protect": [str(prot)], "deny_hard_links": True},
                       {"name": "ro", "read_only": [str(prot)]}])
    for i, s in enumerate([src, vol]):
        r = run(env, rt, rootfs, [oci_bind(s, "/data")], f"ok{i}", ["/bin/cat", "/data/f"])
        assert (r.returncode, r.stdout) == (0, "hello\n"), r.stderr


def test_what_cannot_be_identified_is_refused(env, rootfs, rt):
    # A source behind a magic link names an object by a path the plugin will not follow: it
    # cannot be shown not to be protected, so it is refused (fail closed).
    prot = protected(env)
    src = tree(env.root / "src", {"f": "hello\n"})
    start_policy(env, [{"name": "prot", "protect": [str(prot)]}])
    magic = f"/proc/self/root{src}"
    r = run(env, rt, rootfs, [oci_bind(magic, "/data")], "m1")
    denied(r, magic, "/data", f'policy rule "prot" denies {magic} -> /data: cannot tell what '
           f"{magic} is: Too many levels of symbolic links")
    # So is every source when a protected path exists but cannot be identified.
    env.stop_all()
    start_policy(env, [{"name": "prot", "protect": [f"/proc/self/root{prot}"]}])
    r = run(env, rt, rootfs, [oci_bind(src, "/data")], "m2")
    denied(r, src, "/data", f"cannot tell what the protected /proc/self/root{prot} is")
