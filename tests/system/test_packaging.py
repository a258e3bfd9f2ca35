"""The build as packagers and plugin authors see it: the shared libraries export exactly the
public API (include/mpp/*.h) under a version node, and nothing only the tests use."""
import re
import subprocess

from mpp import BUILD, SRC

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
