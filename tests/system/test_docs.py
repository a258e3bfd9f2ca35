"""The manual pages (docs/man): one for every installed program and one for the configuration
file, installed by meson, formatted without a single groff warning, and kept honest against the
code: every long option a program's --help prints, every key the configuration files accept, is
in its page. The README's figures come from docs/performance.md."""
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from mpp import BUILD, SRC

MAN = SRC / "docs/man"

# page -> the program it documents, in the build (None: a file format)
PAGES = {
    "mppctl.1": "src/ctl/mppctl",
    "mpp.json.5": None,
    "mpp-runtime.8": "src/runtime/mpp-runtime",
    "mpp-hook.8": "src/hook/mpp-hook",
    "mpp-init.8": "src/init/mpp-init",
    "mpp-plugin-policy.8": "plugins/policy/mpp-plugin-policy",
    "mpp-plugin-audit.8": "plugins/audit/mpp-plugin-audit",
    "mpp-plugin-cow.8": "plugins/cow/mpp-plugin-cow",
    "mpp-plugin-idmap.8": "plugins/idmap/mpp-plugin-idmap",
}

# Each plugin's configuration file parser, whose key lists the page must cover.
PLUGIN_CONFIGS = {
    "mpp-plugin-policy.8": "plugins/policy/config.c",
    "mpp-plugin-audit.8": "plugins/audit/config.c",
    "mpp-plugin-cow.8": "plugins/cow/config.c",
    "mpp-plugin-idmap.8": "plugins/idmap/config.c",
}


def groff_warnings(page):
    r = subprocess.run(["groff", "-man", "-ww", "-z", "-Tutf8", str(page)], capture_output=True,
                       text=True, timeout=60)
    return r.returncode, r.stderr


def page_source(page):
    """The page's roff with the escapes that hide plain text undone: \\- is -, fonts dropped."""
    text = (MAN / page).read_text()
    text = text.replace("\\-", "-").replace("\\e", "\\")
    return re.sub(r"\\f(\[[^]]*\]|\(..|.)", "", text)


def tags(page):
    """The words of the tag lines of .TP entries (option names, keys)."""
    words = set()
    lines = page_source(page).splitlines()
    for prev, line in zip(lines, lines[1:]):
        if prev.startswith(".TP") and line.startswith(".") and " " in line:
            words.update(re.findall(r"[A-Za-z_][A-Za-z0-9_.-]*", line.split(None, 1)[1]))
    return words


def documented(page):
    """Words a page documents: its tags, and what it sets in bold."""
    raw = (MAN / page).read_text().replace("\\-", "-")
    bold = re.findall(r"\\fB([A-Za-z_][A-Za-z0-9_.-]*)", raw)
    bold += re.findall(r"^\.BR? ([A-Za-z_][A-Za-z0-9_.-]*)", raw, re.M)
    return tags(page) | set(bold)


def help_text(program):
    r = subprocess.run([str(BUILD / program), "--help"], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode not in (86, 87), f"sanitizer report:\n{r.stderr}"
    return r.stdout + r.stderr


def long_options(text):
    return set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", text))


# Formatting

@pytest.mark.skipif(not shutil.which("groff"), reason="groff is not installed (scripts/deps.sh)")
@pytest.mark.parametrize("page", sorted(PAGES))
def test_page_formats_without_warnings(page):
    rc, err = groff_warnings(MAN / page)
    assert rc == 0 and err == "", f"groff on {page}:\n{err}"
    if shutil.which("man"):
        r = subprocess.run(["man", "-l", "--warnings", "-E", "UTF-8", str(MAN / page)],
                           capture_output=True, text=True, timeout=60,
                           env={"PATH": "/usr/bin:/bin", "MANWIDTH": "80"})
        assert r.returncode == 0 and r.stderr == "", f"man on {page}:\n{r.stderr}"
        out = r.stdout.replace("\u2212", "-").replace("\u2010", "-")
        name = page.rsplit(".", 1)[0].upper()
        assert out.startswith(f"{name}({page.rsplit('.', 1)[1]})"), out[:200]
        for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "SEE ALSO"):
            assert f"\n{section}\n" in out, f"{page} has no {section}"


@pytest.mark.skipif(not shutil.which("groff"), reason="groff is not installed (scripts/deps.sh)")
def test_the_warning_check_can_fail(tmp_path):
    """A page with a mistake in it does make groff warn, so the test above means something."""
    bad = tmp_path / "bad.8"
    bad.write_text((MAN / "mpp-init.8").read_text().replace(
        ".SH OPTIONS", ".SH OPTIONS\n.BOGUS macro\n...and a line that starts with a dot"))
    rc, err = groff_warnings(bad)
    assert "BOGUS" in err and "warning" in err


@pytest.mark.parametrize("page", sorted(PAGES))
def test_page_has_the_sections_it_needs(page):
    src = page_source(page)
    heads = re.findall(r"^\.SH (.*)$", src, re.M)
    for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "FILES", "EXAMPLES", "SEE ALSO"):
        assert section in heads, f"{page}: no {section} section"
    if PAGES[page]:
        assert "EXIT STATUS" in heads and "OPTIONS" in heads, page
    stem, section = page.rsplit(".", 1)
    assert re.match(rf'^\.TH {re.escape(stem.upper())} {section} ', src), src.splitlines()[0]


# Pages against the programs

def test_every_installed_program_has_an_installed_page():
    r = subprocess.run(["meson", "introspect", "--installed", str(BUILD)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    installed = json.loads(r.stdout).values()
    programs = {p.rsplit("/", 1)[1] for p in installed if re.search(r"/(bin|libexec/mpp)/[^/]+$", p)}
    pages = {p.rsplit("/", 1)[1] for p in installed if re.search(r"/share/man/man\d/", p)}
    assert programs == {p.rsplit("/", 1)[1] for p in PAGES.values() if p}
    for prog in programs:
        assert any(page.rsplit(".", 1)[0] == prog for page in pages), f"{prog}: no page installed"
    assert pages == set(PAGES) == {p.name for p in MAN.iterdir() if re.search(r"\.\d$", p.name)}


@pytest.mark.parametrize("page", sorted(p for p in PAGES if PAGES[p] and
                                        p != "mpp-runtime.8"))
def test_page_documents_every_option_of_the_help(page):
    opts = long_options(help_text(PAGES[page]))
    assert opts, f"{PAGES[page]} --help prints no option"
    src = page_source(page)
    missing = sorted(o for o in opts if not re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", src))
    assert not missing, f"{page} does not document {missing}"


def test_runtime_page_documents_the_options_mpp_runtime_reads():
    """mpp-runtime has no help of its own (--help is the real runtime's): its page must cover
    what it takes for itself and the runc options it reads (src/runtime/cli.c)."""
    cli = (SRC / "src/runtime/cli.c").read_text()
    read = set(re.findall(r'is\(name, len, "([a-z][a-z-]+)"\)', cli))
    assert {"mpp-config", "root", "bundle", "force"} <= read, read
    src = page_source("mpp-runtime.8")
    missing = sorted(o for o in read if f"--{o}" not in src)
    assert not missing, f"mpp-runtime.8 does not document {missing}"


# Pages against the configuration files

def c_string_lists(path):
    """The strings of every `static const char *const NAME[] = {...}` in a C file."""
    out = {}
    for name, body in re.findall(r"static const char \*const (\w+)\[\] = \{(.*?)\};",
                                 path.read_text(), re.S):
        out.setdefault(name, set()).update(re.findall(r'"([^"]*)"', body))
    return out


def test_config_page_documents_every_key():
    keys = c_string_lists(SRC / "src/lib/config.c")["known_keys"]
    assert {"plugins", "state_dir", "runtime"} <= keys
    documented = tags("mpp.json.5")
    assert not sorted(keys - documented), f"mpp.json.5 lacks {sorted(keys - documented)}"
    # ... and nothing more: a key the parser refuses must not be in the page.
    src = page_source("mpp.json.5")
    section = src[src.index(".SH KEYS"):src.index(".SH EXAMPLES")]
    entries = set(re.findall(r"^\.TP\n\.BR? (\w+)", section, re.M))
    assert entries == keys


@pytest.mark.parametrize("page", sorted(PLUGIN_CONFIGS))
def test_plugin_page_documents_every_config_key(page):
    keys = set().union(*c_string_lists(SRC / PLUGIN_CONFIGS[page]).values())
    assert keys, f"no key list found in {PLUGIN_CONFIGS[page]}"
    missing = sorted(keys - documented(page))
    assert not missing, f"{page} lacks configuration keys {missing}"


def test_config_page_defaults_match_the_code():
    hdr = (SRC / "include/mpp/config.h").read_text()
    src = page_source("mpp.json.5")
    for macro, key in (("MPP_DEFAULT_CALL_TIMEOUT_MS", "call_timeout_ms"),
                       ("MPP_DEFAULT_DETACH_TIMEOUT_MS", "detach_timeout_ms")):
        value = re.search(rf"#define {macro} (\d+)u", hdr).group(1)
        assert re.search(rf'\.BR {key} " \(integer, [^;]*; default: {value}\)"', src), key
    assert re.search(r'#define MPP_DEFAULT_STATE_DIR "/run/mpp"', hdr)
    assert '.BR state_dir " (string: an absolute path; default: /run/mpp)"' in src
    m = re.search(r"#define MPP_DEFAULT_MAX_RESPONSE_BYTES \((\d+)u \* (\d+)u \* (\d+)u\)", hdr)
    assert f"default: {int(m[1]) * int(m[2]) * int(m[3])})" in src


# README

def test_readme_performance_figures_come_from_performance_md():
    readme = (SRC / "README.md").read_text()
    perf = (SRC / "docs/performance.md").read_text()
    assert "](docs/performance.md)" in readme
    section = readme[readme.index("## Performance"):]
    section = section[:section.index("\n## ", 1)]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "---" not in line]
    figures = [r for r in rows if re.search(r"\d", r)]
    assert len(figures) >= 5, section
    for row in figures:
        cells = [c.strip() for c in row.strip("|").split("|")]
        for value in cells[1:]:
            # Each figure, as performance.md states it.
            if re.search(r"\d", value):
                assert value.replace("**", "") in perf, f"README figure {value!r} ({cells[0]})"


# ---- docs/protocol.md: the sections the code cites ----

PROTOCOL = SRC / "docs/protocol.md"
CITED_SUFFIXES = {".c", ".h", ".md", ".py", ".1", ".5", ".8", ".build", ".txt", ".sh"}
# A "§N" anywhere in the tree names a section of docs/protocol.md (optionally followed by the
# quoted name of a paragraph in it, e.g. §6 "Source").
CITATION = re.compile(r'§\s*(\d+(?:\.\d+)*)(?:\s+"([^"]+)")?')


def protocol_sections(text):
    """Section number -> its own text (heading and body, up to the next heading of any level);
    a citation of N covers N's subsections too (see bad_citations)."""
    sections = {}
    current = None
    for line in text.splitlines():
        m = re.match(r"#{2,4} (\d+(?:\.\d+)*)\.? ", line)
        if m:
            current = m.group(1)
            sections[current] = ""
        elif line.startswith("#"):
            current = None
        if current:
            sections[current] += line + "\n"
    return sections


def bad_citations(files, sections):
    """(file:line, what) for each citation of a section that docs/protocol.md lacks, and each
    citation of the old, absent "spec"."""
    bad = []
    for path, text in files:
        for n, line in enumerate(text.splitlines(), 1):
            where = f"{path}:{n}"
            if re.search(r"(?i)\bspec\s*§", line):
                bad.append((where, "cites \"spec §\": cite docs/protocol.md as \"protocol §N\""))
            for m in CITATION.finditer(line):
                num, name = m.group(1), m.group(2)
                if num not in sections:
                    bad.append((where, f"§{num}: no such section in docs/protocol.md"))
                elif name and not any(name in body for k, body in sections.items()
                                      if k == num or k.startswith(num + ".")):
                    bad.append((where, f"§{num} \"{name}\": section {num} does not mention it"))
    return bad


def tree_files():
    for dirpath, dirnames, filenames in os.walk(SRC):
        dirnames[:] = [d for d in dirnames if not d.startswith((".", "build"))]
        for f in filenames:
            p = Path(dirpath) / f
            if p.suffix in CITED_SUFFIXES and p != Path(__file__).resolve():
                yield p.relative_to(SRC), p.read_text(errors="replace")


def test_every_protocol_citation_names_a_section_of_protocol_md():
    """Comments, docs and tests cite the protocol as "protocol §N": every such N (and every
    other § in the tree, including docs/protocol.md's own cross-references) is a numbered
    heading of docs/protocol.md, and no citation of the old spec is left."""
    assert PROTOCOL.exists(), "docs/protocol.md is missing"
    sections = protocol_sections(PROTOCOL.read_text())
    # The sections the code has always cited.
    for n in ("1", "2", "3", "4", "4.1", "4.2", "4.3", "5", "6", "7", "8"):
        assert n in sections, f"docs/protocol.md has no section {n}"
    files = list(tree_files())
    assert sum("§" in text for _, text in files) > 20, "no citations found: wrong tree?"
    bad = bad_citations(files, sections)
    assert not bad, "\n".join(f"{w}: {why}" for w, why in bad)


def test_the_citation_check_can_fail():
    sections = protocol_sections("## 1. One\ntext\n### 1.1 Sub\n## 6. Six\n**Source.** x\n")
    assert set(sections) == {"1", "1.1", "6"}
    files = [("a.c", '/* protocol §1, §1.1 and §6 "Source"; §1 "Sub" */\n'
                     '/* protocol §6 "Nowhere" */\n'),
             ("b.h", "/* (protocol §4.2) */\n/* spec §1 */\n")]
    bad = bad_citations(files, sections)
    assert [w for w, _ in bad] == ["a.c:2", "b.h:1", "b.h:2"], bad
