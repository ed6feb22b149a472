#!/usr/bin/env python3
"""The library's public API as one sorted listing, read from its rustdoc.

    python3 scripts/public-api.py           # compare with tests/public-api.txt (exit 1 on a difference)
    python3 scripts/public-api.py --write   # rewrite tests/public-api.txt (review the diff, then commit)

Run after `cargo doc --no-deps -p iotda-batchtask --all-features` (the CI gate does). Every item the crate
exports (structs, enums, traits, functions, constants, type aliases, macros), with each public method's
signature, each variant and each public field, so a change to the surface shows as a reviewable diff.
The generated `types` and `limits` modules are left out: their snapshots under tests/it/snapshots/ lock them.
"""
import html
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOC = ROOT / "target" / "doc" / "iotda_batchtask"
SNAPSHOT = ROOT / "tests" / "public-api.txt"
SKIP = ("types/", "limits/")


def text(fragment):
    """Tags stripped, entities decoded, whitespace collapsed."""
    plain = html.unescape(re.sub(r"<[^>]+>", "", fragment))
    plain = re.sub(r"\s+", " ", plain).replace("( ", "(").replace(" )", ")")
    return plain.replace(", )", ")").replace(",)", ")").strip()


def members(page):
    """Inherent methods (with signatures), variants and public fields of one item page."""
    found = []
    start = page.find('id="implementations-list"')
    end = page.find('id="trait-implementations"')
    if start != -1:
        inherent = page[start : end if end != -1 else len(page)]
        for m in re.finditer(r'<section id="method\.[^"]+"[^>]*>.*?<h4 class="code-header">(.*?)</h4>', inherent, re.S):
            found.append(text(m.group(1)))
    for m in re.finditer(r'<section id="variant\.([^"]+)"[^>]*>.*?<h3 class="code-header">(.*?)</h3>', page, re.S):
        found.append("variant " + text(m.group(2)))
    for m in re.finditer(r'<span id="structfield\.[^"]+" class="structfield[^"]*">.*?<code>(.*?)</code>', page, re.S):
        found.append("field " + text(m.group(1)))
    # Trait pages: required and provided methods.
    for m in re.finditer(r'<section id="tymethod\.[^"]+"[^>]*>.*?<h4 class="code-header">(.*?)</h4>', page, re.S):
        found.append(text(m.group(1)))
    return found


def listing():
    index = (DOC / "all.html").read_text()
    lines = []
    for href in sorted(set(re.findall(r'<a href="([^"#]+\.html)">', index))):
        if href.startswith(SKIP) or href.startswith(".."):
            continue
        page = pathlib.Path(href)
        if page.name == "index.html":
            lines.append("mod " + "::".join(["iotda_batchtask", *page.parent.parts]))
            continue
        kind, _, name = page.name.removesuffix(".html").partition(".")
        lines.append(f"{kind} " + "::".join(["iotda_batchtask", *page.parent.parts, name]))
        if kind in ("struct", "enum", "trait"):
            lines.extend(f"    {m}" for m in members((DOC / href).read_text()))
    return "\n".join(lines) + "\n"


def main():
    if not (DOC / "all.html").exists():
        sys.exit("no rustdoc: run `cargo doc --no-deps -p iotda-batchtask --all-features` first")
    now = listing()
    if sys.argv[1:] == ["--write"]:
        SNAPSHOT.write_text(now)
        return
    before = SNAPSHOT.read_text() if SNAPSHOT.exists() else ""
    if now != before:
        import difflib

        sys.stdout.writelines(difflib.unified_diff(before.splitlines(True), now.splitlines(True), "tests/public-api.txt", "rustdoc"))
        sys.exit("the public API changed: review the diff, then `python3 scripts/public-api.py --write` and commit")


if __name__ == "__main__":
    main()
