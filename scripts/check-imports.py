#!/usr/bin/env python3
"""Module hygiene for tug (issue 10), run by `make lint`.

1. No import cycle between top-level modules. Every src/**/*.rs belongs to
   one top-level module (src/X.rs or src/X/**; src/lib.rs is the crate
   root, "lib", and src/main.rs the binary, "main", which are the top and
   may use anything). A reference is a path in *code* that names another
   top-level module: `crate::Y...` (also inside `use crate::{Y, Z::w}`
   groups) and `super::` chains that climb to the crate root
   (`super::super::Y` from src/X/a.rs). Comments, doc comments, strings and
   char literals are stripped first, so prose mentioning `crate::jobs` is
   not an edge. An item the crate root itself defines (`crate::run`) is an
   edge to "lib". Test code counts: a `#[cfg(test)]` module or item of
   config that needs jobs still means config cannot be built, read or
   moved without jobs, so the layering must hold for it too (tests of a
   combination belong to the upper module or to tests/). Cycles are found
   as strongly connected components and each is printed with every edge
   in it and file:line evidence.

2. `unsafe` lives in src/sys/. Outside it the word `unsafe` may appear in
   code only as the `#[unsafe(no_mangle)]` attribute in src/main.rs (the
   C entry point and the unwinder stubs must be defined by the binary
   crate itself: the library is also linked into the test harnesses,
   which bring their own `main` and std's personality routine). The crate
   root must say `#![deny(unsafe_code)]`, main.rs too, and the only
   `allow(unsafe_code)` in lib.rs is the one on `pub mod sys;`.

3. Every `unsafe { ... }` block and `unsafe impl` has exactly one
   `// SAFETY` comment between the previous statement boundary (`;`, `{`
   or `}`) and the `unsafe` keyword, i.e. directly above the statement.

4. No `{:?}` (Debug formatting) in non-test code: messages quote with
   crate::quote (q, qc, list), which keeps core's Unicode printability
   tables and str's Debug out of the binary (src/quote.rs says why).
   Files named *_tests.rs and `#[cfg(test)]` items are test code.

Exit status 1 with a list of every finding; 0 and one summary line when
clean. Usage: scripts/check-imports.py [SRC_DIR] (default: src).
"""

import os
import re
import sys
from collections import defaultdict

IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def tokenize(text):
    """Rust source -> (tokens, comments). A token is (kind, value, line,
    pos); kind is 'id' or 'p' (punctuation; `::` is one token). Strings,
    chars and comments produce no tokens; comments are returned as
    (line, pos, text) so the SAFETY rule can look for them."""
    toks, comments = [], []
    i, n, line = 0, len(text), 1
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            i += 1
        elif c.isspace():
            i += 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            comments.append((line, i, text[i:j]))
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            comments.append((line, i, text[i:j]))
            line += text.count("\n", i, j)
            i = j
        elif m := re.compile(r'b?r(#*)"').match(text, i):
            # Raw string: ends at `"` followed by as many `#`.
            end = '"' + m.group(1)
            j = text.find(end, m.end())
            j = n if j < 0 else j + len(end)
            line += text.count("\n", i, j)
            i = j
        elif c == '"' or text.startswith('b"', i) or text.startswith('c"', i):
            j = i + (1 if c == '"' else 2)
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            line += text.count("\n", i, j)
            i = j + 1
        elif c == "'" or text.startswith("b'", i):
            # A char literal ('a', '\n', '\u{1F}', b'x') or a lifetime ('a).
            j = i + (1 if c == "'" else 2)
            m = re.compile(r"\\(u\{[0-9a-fA-F]*\}|x..|.)'|[^\\']'").match(text, j)
            if m:
                i = m.end()
            else:  # lifetime or label: skip the quote, the ident follows
                i = j
        elif m := IDENT.match(text, i):
            toks.append(("id", m.group(), line, i))
            i = m.end()
        elif text.startswith("::", i):
            toks.append(("p", "::", line, i))
            i += 2
        else:
            toks.append(("p", c, line, i))
            i += 1
    return toks, comments


def module_path(rel):
    """src-relative path -> list of module names from the crate root."""
    parts = rel[:-3].split("/")
    if parts[-1] == "mod":
        parts = parts[:-1]
    if parts in (["lib"], ["main"]):
        return []
    return parts


def is_cfg_test(toks, k):
    """Does an attribute `#[cfg(...test...)]` start at toks[k] (`#`)?
    Returns the index after `]`, or None. `cfg(not(test))` is not test."""
    if toks[k][1] != "#" or k + 1 >= len(toks) or toks[k + 1][1] != "[":
        return None
    depth, j = 0, k + 1
    while j < len(toks):
        if toks[j][1] == "[":
            depth += 1
        elif toks[j][1] == "]":
            depth -= 1
            if depth == 0:
                break
        j += 1
    words = [t[1] for t in toks[k + 2 : j]]
    if words[:1] == ["cfg"] and "test" in words and "not" not in words:
        return j + 1
    return None


def test_ranges(toks):
    """Token index ranges [a, b) of items under #[cfg(test)]."""
    ranges, k = [], 0
    while k < len(toks):
        after = is_cfg_test(toks, k)
        if after is None:
            k += 1
            continue
        j, depth = after, 0
        while j < len(toks):
            v = toks[j][1]
            if v in "{([":
                depth += 1
            elif v in "})]":
                depth -= 1
                if depth == 0 and v == "}":
                    j += 1
                    break
            elif v == ";" and depth == 0:
                j += 1
                break
            j += 1
        ranges.append((k, j))
        k = j
    return ranges


def inline_modules(toks):
    """For each token index, how many inline `mod x { }` enclose it."""
    extra = [0] * len(toks)
    stack, depth = [], 0  # brace depths at which an inline mod opened
    for k, (kind, v, _, _) in enumerate(toks):
        extra[k] = len(stack)
        if v == "{":
            if k >= 2 and toks[k - 2][1] == "mod" and toks[k - 1][0] == "id":
                stack.append(depth)
            depth += 1
        elif v == "}":
            depth -= 1
            if stack and stack[-1] == depth:
                stack.pop()
    return extra


def use_group_heads(toks, k):
    """toks[k] is `{` right after `crate::`: the first segment of each
    path in the group (`crate::{a::b, c, d::{e}}` -> a, c, d)."""
    heads, depth, expect = [], 0, True
    j = k
    while j < len(toks):
        v = toks[j][1]
        if v == "{":
            depth += 1
            expect = depth == 1
        elif v == "}":
            depth -= 1
            if depth == 0:
                break
        elif v == "," and depth == 1:
            expect = True
        elif expect and depth == 1 and toks[j][0] == "id":
            heads.append((v, toks[j][2]))
            expect = False
        j += 1
    return heads


def references(toks, path, tops):
    """(target top-level module, line, in test code) for each reference."""
    out = []
    tests = test_ranges(toks)
    extra = inline_modules(toks)

    def in_test(k):
        return any(a <= k < b for a, b in tests)

    def add(name, line, k):
        out.append((name if name in tops else "lib", line, in_test(k)))

    for k, (kind, v, line, _) in enumerate(toks):
        nxt = toks[k + 1][1] if k + 1 < len(toks) else None
        if v == "crate" and nxt == "::" and k + 2 < len(toks):
            # `$crate` in a macro body is the same path.
            head = toks[k + 2]
            if head[1] == "{":
                for name, ln in use_group_heads(toks, k + 2):
                    if name not in ("self",):
                        add(name, ln, k)
            elif head[0] == "id":
                add(head[1], line, k)
        elif v == "super" and nxt == "::" and (k == 0 or toks[k - 1][1] != "::"):
            ups, j = 0, k
            while j + 1 < len(toks) and toks[j][1] == "super" and toks[j + 1][1] == "::":
                ups += 1
                j += 2
            here = path + ["<inline>"] * extra[k]
            if ups < len(here):
                continue  # stays below the crate root: same top module
            if ups > len(here) or j >= len(toks):
                continue  # rustc would reject it
            if toks[j][1] == "{":
                for name, ln in use_group_heads(toks, j):
                    add(name, ln, k)
            elif toks[j][0] == "id":
                add(toks[j][1], line, k)
    return out


def unsafe_findings(rel, toks, comments):
    errs = []
    in_sys = rel.startswith("sys/")
    for k, (kind, v, line, pos) in enumerate(toks):
        if v != "unsafe" or kind != "id":
            continue
        nxt = toks[k + 1][1] if k + 1 < len(toks) else ""
        prev = toks[k - 1][1] if k else ""
        attribute = prev == "[" and nxt == "("
        if not in_sys and not (rel == "main.rs" and attribute
                               and k + 2 < len(toks) and toks[k + 2][1] == "no_mangle"):
            errs.append(f"src/{rel}:{line}: `unsafe` outside src/sys/ "
                        "(wrap it in a typed, safe function there)")
            continue
        if nxt == "{" or nxt == "impl":
            # Back to the statement's start; a `;` inside brackets
            # (`[u8; 4]`) or parentheses is not one.
            j, depth = k - 1, 0
            while j >= 0:
                v = toks[j][1]
                if v in ")]":
                    depth += 1
                elif v in "([":
                    depth -= 1
                elif v in (";", "{", "}") and depth <= 0:
                    break
                j -= 1
            start = toks[j][3] if j >= 0 else -1
            said = [c for c in comments if start < c[1] < pos and "SAFETY" in c[2]]
            what = "unsafe block" if nxt == "{" else "unsafe impl"
            if len(said) != 1:
                errs.append(f"src/{rel}:{line}: {what} with {len(said)} `// SAFETY:` "
                            "comments above it (exactly one says why it is sound)")
    return errs


DEBUG_FMT = re.compile(r"(?<!\{)\{[A-Za-z0-9_.]*:[^{}\s]*\?\}")


def debug_fmt_findings(rel, text, toks):
    if rel.endswith("_tests.rs"):
        return []
    test_lines = set()
    for a, b in test_ranges(toks):
        test_lines.update(range(toks[a][2], toks[min(b, len(toks)) - 1][2] + 1))
    errs = []
    for n, l in enumerate(text.split("\n"), 1):
        if n in test_lines or l.lstrip().startswith("//"):
            continue
        if DEBUG_FMT.search(l):
            errs.append(f"src/{rel}:{n}: `{{:?}}` in non-test code: quote with "
                        "crate::quote::{q, qc, list} (src/quote.rs)")
    return errs


def crate_root_findings(src):
    errs = []
    for rel in ("lib.rs", "main.rs"):
        p = os.path.join(src, rel)
        if os.path.exists(p):
            text = open(p, encoding="utf-8").read()
            if "#![deny(unsafe_code)]" not in text and "#![forbid(unsafe_code)]" not in text:
                errs.append(f"src/{rel}: no `#![deny(unsafe_code)]` at the crate root")
    p = os.path.join(src, "lib.rs")
    if os.path.exists(p):
        lines = open(p, encoding="utf-8").read().split("\n")
        for i, l in enumerate(lines):
            if "allow(unsafe_code)" in l:
                nxt = next((x.strip() for x in lines[i + 1 :] if x.strip() and not x.strip().startswith("//")), "")
                if nxt != "pub mod sys;":
                    errs.append(f"src/lib.rs:{i + 1}: `allow(unsafe_code)` on something other than `pub mod sys;`")
    return errs


def cycles(edges):
    """Strongly connected components with more than one module (Tarjan)."""
    graph = defaultdict(set)
    for (a, b) in edges:
        graph[a].add(b)
    index, low, onstack, stack, out = {}, {}, set(), [], []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        onstack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in onstack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                onstack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(set(graph) | {b for bs in graph.values() for b in bs}):
        if v not in index:
            visit(v)
    return out


def shortest_cycles(edges, members):
    """The shortest cycle through each module of a component, each once."""
    graph = defaultdict(list)
    for (a, b) in sorted(edges):
        if a in members and b in members:
            graph[a].append(b)
    seen, out = set(), []
    for start in sorted(members):
        prev, queue = {start: None}, [start]
        found = None
        while queue and found is None:
            nxt = []
            for v in queue:
                for w in graph[v]:
                    if w == start:
                        found = v
                        break
                    if w not in prev:
                        prev[w] = v
                        nxt.append(w)
                if found is not None:
                    break
            queue = nxt
        if found is None:
            continue
        path, v = [], found
        while v is not None:
            path.append(v)
            v = prev[v]
        path.reverse()
        key = frozenset(zip(path, path[1:] + path[:1]))
        if key not in seen:
            seen.add(key)
            out.append(path)
    return out


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "src"
    files = []
    for root, _, names in os.walk(src):
        for name in names:
            if name.endswith(".rs"):
                full = os.path.join(root, name)
                files.append(os.path.relpath(full, src).replace(os.sep, "/"))
    files.sort()
    tops = {f.split("/")[0].removesuffix(".rs") for f in files} - {"lib", "main"}

    edges = defaultdict(list)  # (from, to) -> [evidence]
    errors = crate_root_findings(src)
    for rel in files:
        text = open(os.path.join(src, rel), encoding="utf-8").read()
        toks, comments = tokenize(text)
        errors += unsafe_findings(rel, toks, comments)
        errors += debug_fmt_findings(rel, text, toks)
        top = rel.split("/")[0].removesuffix(".rs")
        for target, line, test in references(toks, module_path(rel), tops):
            if target != top:
                edges[(top, target)].append(f"src/{rel}:{line}" + (" (test)" if test else ""))

    for comp in cycles(edges):
        errors.append("import cycle between top-level modules: " + " <-> ".join(comp))
        members = set(comp)
        for c in shortest_cycles(edges, members):
            errors.append("  cycle: " + " -> ".join(c + [c[0]]))
        for (a, b), where in sorted(edges.items()):
            if a in members and b in members and a not in ("lib", "main"):
                errors.append(f"  {a} -> {b}: " + ", ".join(where))

    if errors:
        for e in errors:
            print(e, file=sys.stderr)
        sys.exit(1)
    mods = len(tops)
    print(f"check-imports: {len(files)} files, {mods} top-level modules, "
          f"{len(edges)} edges, no cycle; unsafe only in src/sys/, each block with its SAFETY; "
          "no {:?} outside tests")


if __name__ == "__main__":
    main()
