#!/usr/bin/env python3
"""Import cycles between the modules of each crate under crates/ (a module is a source
file), and imports against the server's layers. An edge a -> b means a's code names b's
items through `crate::`, `super::` or `self::` paths, or a child module by name; a
module's declaration of its children (`mod x;`) is not an edge. Prints every cycle and
every upward import and exits 1 if there is one.

The server's layers, lowest first (a module may import its own layer's and lower ones):
0. everything not named below: state, settings, urls, routes, extract, error, bearer,
   limits, brute_force, boundary, fetch, metrics;
1. `service` (the admin operations and what the surfaces share) and `oidc` (the protocol);
2. the surfaces built on them: `registration`, `admin`, `console`;
3. the crate root (the router), `openapi`, `ops`, `bootstrap`.

    scripts/module_cycles.py
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent / "crates"
PATH = re.compile(r"\b((?:crate|super|self)(?:::[A-Za-z_][A-Za-z0-9_]*)+)")
GROUP = re.compile(r"\b((?:crate|super|self)(?:::[A-Za-z_][A-Za-z0-9_]*)*)::\{([^;]*?)\}", re.S)


def strip(text):
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    # Unit tests may reach anywhere: they are not part of the module graph.
    return re.split(r"#\[cfg\(test\)\]\s*mod\s+tests\s*\{", text)[0]


def modules(src):
    """Module path (tuple) -> file, for one crate's src/."""
    out = {}
    for f in src.rglob("*.rs"):
        rel = f.relative_to(src).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] in ("mod", "lib", "main"):
            parts = parts[:-1]
        if f.parent.name == "bin" or "tests" in parts and f.name == "tests.rs":
            continue
        out[tuple(parts)] = f
    return out


def resolve(mods, here, path):
    segs = path.split("::")
    if segs[0] == "crate":
        base, rest = (), segs[1:]
    else:
        base = here
        while segs and segs[0] in ("super", "self"):
            if segs[0] == "super":
                base = base[:-1]
            segs = segs[1:]
        rest = segs
    best = None
    for i in range(len(rest) + 1):
        cand = base + tuple(rest[:i])
        if cand in mods:
            best = cand
    return best


def expand(text):
    """`a::{b, c::d}` -> `a::b a::c::d` (one level of nesting is enough here)."""
    def one(m):
        prefix = m.group(1)
        items = [i.strip() for i in m.group(2).split(",") if i.strip()]
        return " ".join(f"{prefix}::{i.split(' as ')[0].strip()}" for i in items)
    for _ in range(3):
        text = GROUP.sub(one, text)
    return text


def cycles_of(crate):
    src = crate / "src"
    if not src.is_dir():
        return []
    mods = modules(src)
    edges = edges_of(src, mods)
    return strongly_connected(crate, edges)


def edges_of(src, mods):
    edges = {m: set() for m in mods}
    for m, f in mods.items():
        text = expand(strip(f.read_text()))
        children = {c[-1] for c in mods if len(c) == len(m) + 1 and c[: len(m)] == m}
        names = PATH.findall(text) + [
            "self::" + c for c in children if re.search(rf"(?<![:\w]){c}::", text)
        ]
        for p in names:
            target = resolve(mods, m, p)
            if target is not None and target != m:
                edges[m].add(target)
    return edges


def strongly_connected(crate, edges):
    # Tarjan's strongly connected components.
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    sys.setrecursionlimit(10000)
    for v in edges:
        if v not in index:
            visit(v)
    named = []
    for comp in out:
        names = sorted("::".join(c) or "(root)" for c in comp)
        links = sorted(
            f"{'::'.join(a) or '(root)'} -> {'::'.join(b) or '(root)'}"
            for a in comp for b in edges[a] if b in comp
        )
        named.append((crate.name, names, links))
    return named


SERVER_LAYERS = {
    "service": 1, "oidc": 1,
    "registration": 2, "admin": 2, "console": 2,
    "": 3, "openapi": 3, "ops": 3, "bootstrap": 3,
}


def layer(module):
    return SERVER_LAYERS.get(module[0] if module else "", 0)


def upward_imports():
    src = ROOT / "latchkey-server" / "src"
    mods = modules(src)
    out = []
    for m, edges in edges_of(src, mods).items():
        for t in edges:
            if layer(t) > layer(m):
                out.append(f"latchkey-server: {'::'.join(m) or '(root)'} (layer {layer(m)}) "
                           f"imports {'::'.join(t) or '(root)'} (layer {layer(t)})")
    return sorted(out)


def main():
    found = []
    for crate in sorted(ROOT.iterdir()):
        found.extend(cycles_of(crate))
    for crate, names, links in found:
        print(f"{crate}: cycle among {', '.join(names)}")
        for link in links:
            print(f"    {link}")
    upward = upward_imports()
    for line in upward:
        print(line)
    if found or upward:
        sys.exit(1)
    print("no import cycles between modules, no upward import between the server's layers")


if __name__ == "__main__":
    main()
