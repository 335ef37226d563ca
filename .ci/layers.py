#!/usr/bin/env python3
"""Checks that the engine's input stage is layered: inputs flow one way
(bytes read from blobs are scanned into evidence, which source hands on), so
its modules use each other one way only, down the declared order below — no
import cycle among them and no edge going up.

Reads every `crate::…` path (and every `super::…` path that climbs to the
crate root) in the files of the modules below, outside comments and string
literals; the module of a path is its first segment after `crate::` (a folder
`engine/src/NAME/` or a file `engine/src/NAME.rs`). Paths into modules not
listed here are not part of the check.

Usage: layers.py [CHECKOUT]   (default: the checkout holding this script)
Exits 1 naming each cycle and each edge against the order; on success prints
the edges of the graph.
"""

import re
import sys
from pathlib import Path

# Lowest first: a module may use only modules listed before it. `nesting`
# bounds what every parser descends into; `tarstream` reads tar as Go's
# archive/tar does, for archives and layers alike; `oci` uses `digest`; `blob`
# (named files: directories, tar archives, the registry's blob cache) uses
# neither; the scanner reads blobs; evidence carries the
# scan; the registry serves its cache as a blob container; source reads
# local and pulled inputs into evidence.
ORDER = ["nesting", "tarstream", "digest", "oci", "blob", "scan", "evidence", "registry", "source"]

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
PATH_START = re.compile(r"(?<![\w$:])(crate|super(?:\s*::\s*super)*)\s*::\s*(\{|" + IDENT + ")")
RAW_STRING = re.compile(r'r(#*)"')
CHAR_LITERAL = re.compile(r"'(\\(u\{[0-9a-fA-F]+\}|x[0-9a-fA-F]{2}|.)|[^\\'\n])'")


def is_ident_char(ch):
    return ch.isalnum() or ch == "_"


def raw_string_start(text, i):
    """Whether the `r` at `i` opens a raw string (`r"`, `r#"`, `br#"`)
    rather than ending an identifier."""
    if not RAW_STRING.match(text, i):
        return False
    before = text[i - 1] if i > 0 else " "
    if before == "b":
        before = text[i - 2] if i > 1 else " "
    return not is_ident_char(before)


def strip(text):
    """The text with comments, string and char literals blanked out (newlines
    kept, so line numbers still hold)."""
    out = []
    i, n = 0, len(text)

    def blank(j):
        out.append(re.sub(r"[^\n]", " ", text[i:j]))
        return j

    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = blank(n if j < 0 else j)
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            i = blank(j)
        elif c == "r" and raw_string_start(text, i):
            hashes = RAW_STRING.match(text, i).group(1)
            end = text.find('"' + hashes, i + 2 + len(hashes))
            i = blank(n if end < 0 else end + 1 + len(hashes))
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            i = blank(j + 1)
        elif c == "'":
            m = CHAR_LITERAL.match(text, i)
            if m:  # a char literal; otherwise a lifetime
                i = blank(m.end())
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def group_heads(text, start):
    """The first segment of each item of the `{…}` use group opening at
    `start`."""
    depth, j, item, heads = 0, start, "", []
    while j < len(text):
        ch = text[j]
        if ch == "{":
            depth += 1
            if depth == 1:
                j += 1
                continue
        elif ch == "}":
            depth -= 1
            if depth == 0:
                break
        if depth == 1 and ch == ",":
            heads.append(item)
            item = ""
        else:
            item += ch
        j += 1
    heads.append(item)
    names = []
    for h in heads:
        m = re.match(r"\s*(" + IDENT + ")", h)
        if m and m.group(1) != "self":
            names.append(m.group(1))
    return names


def module_path(src, file):
    parts = list(file.relative_to(src).with_suffix("").parts)
    if parts[-1] == "mod":
        parts.pop()
    return parts


def references(src, file):
    """(top-level module, line) for each path of `file` that leaves its own
    module through the crate root."""
    text = strip(file.read_text(encoding="utf-8"))
    depth = len(module_path(src, file))
    for m in PATH_START.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        if m.group(1) != "crate":
            # super::…: only a path climbing to the crate root names another
            # top-level module (inline `mod x { … }` blocks are not tracked,
            # so this errs towards the file's own module).
            if m.group(1).count("super") != depth:
                continue
        if m.group(2) == "{":
            names = group_heads(text, m.start(2))
        else:
            names = [m.group(2)]
        for name in names:
            yield name, line


def module_files(src, name):
    files = []
    if (src / f"{name}.rs").is_file():
        files.append(src / f"{name}.rs")
    if (src / name).is_dir():
        files.extend(sorted((src / name).rglob("*.rs")))
    return files


def graph(src):
    """{module: {used module: first place it is used}} among ORDER."""
    present = [m for m in ORDER if module_files(src, m)]
    edges = {m: {} for m in present}
    for m in present:
        for f in module_files(src, m):
            for used, line in references(src, f):
                if used in edges and used != m and used not in edges[m]:
                    edges[m][used] = f"{f.relative_to(src.parent.parent)}:{line}"
    return edges


def cycles(edges):
    """Every elementary cycle, each listed once (from its lowest module)."""
    rank = {m: i for i, m in enumerate(ORDER)}
    found = []

    def walk(start, node, path):
        for nxt in sorted(edges[node], key=rank.get):
            if nxt == start:
                found.append(path + [start])
            elif rank[nxt] > rank[start] and nxt not in path:
                walk(start, nxt, path + [nxt])

    for start in sorted(edges, key=rank.get):
        walk(start, start, [start])
    return found


def main():
    root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent)
    src = root / "engine" / "src"
    if not src.is_dir():
        print(f"layers: {src} is not a directory", file=sys.stderr)
        return 2
    edges = graph(src)
    rank = {m: i for i, m in enumerate(ORDER)}
    problems = []
    for c in cycles(edges):
        hops = ", ".join(f"{a} -> {b} at {edges[a][b]}" for a, b in zip(c, c[1:]))
        problems.append(f"cycle {' -> '.join(c)} ({hops})")
    for a in sorted(edges, key=rank.get):
        for b in sorted(edges[a], key=rank.get):
            if rank[b] > rank[a]:
                problems.append(f"{a} -> {b} at {edges[a][b]}: {a} is below {b} in the declared order")
    print("layers (lowest first): " + " < ".join(ORDER))
    if problems:
        for p in problems:
            print(f"error: {p}", file=sys.stderr)
        return 1
    count = 0
    for a in sorted(edges, key=rank.get, reverse=True):
        for b in sorted(edges[a], key=rank.get, reverse=True):
            print(f"  {a} -> {b}  ({edges[a][b]})")
            count += 1
    print(f"ok: {len(edges)} modules, {count} edges, no cycle, every edge goes down the order")
    return 0


if __name__ == "__main__":
    sys.exit(main())
