#!/usr/bin/env python3
"""The import graph of suifang's top-level modules, checked against the floors in ARCHITECTURE.md.

Reads every `crate::X` path in src/ (comments and doc comments excluded), maps each file to its
top-level module, and prints the arrows between modules. Fails (exit 1) when the modules form an
import cycle, when a module is on no floor, or when an arrow points up a floor and is not one of
the allowed exceptions listed below (each with its reason, also stated in ARCHITECTURE.md).

    scripts/import-graph.py            # check; prints the floors and any violation
    scripts/import-graph.py --arrows   # also prints every arrow with the files behind it
"""
import os
import re
import sys
from collections import defaultdict

# Floors, bottom to top: a module may use modules on its own floor or below (no cycle).
FLOORS = [
    ("foundation", ["clock", "private_fs", "thread_priority", "web"]),
    ("protocols and engines", ["rtp", "media", "sip", "calls", "transcribe"]),
    ("clinical domain", ["auth", "followup", "hl7", "fhir", "robot"]),
    ("storage", ["store"]),
    ("configuration", ["config"]),
    ("live plumbing", ["events", "webrtc"]),
    ("services", ["service", "telephony"]),
    ("application", ["app"]),
    ("web layer", ["api"]),
    ("entry points", ["server", "demo", "sim", "bench", "cli"]),
]
# Upward arrows allowed, and why (at most 4; ARCHITECTURE.md repeats them).
ALLOWED_UP = {}
# Cycles between the rooms inside one top-level module allowed for now, and why.
ALLOWED_INNER_CYCLES = {}

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
PATH = re.compile(r"crate::(\{[^}]*\}|[a-z_0-9]+)")
COMMENT = re.compile(r"//.*?$", re.M)


def graph():
    edges = defaultdict(lambda: defaultdict(set))
    for folder, _, files in os.walk(ROOT):
        for name in files:
            if not name.endswith(".rs"):
                continue
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, ROOT)
            top = rel.split(os.sep)[0].removesuffix(".rs")
            if top in ("lib", "main"):
                continue
            with open(path, encoding="utf-8") as f:
                text = COMMENT.sub("", f.read())
            for m in PATH.finditer(text):
                group = m.group(1)
                names = (
                    [group]
                    if not group.startswith("{")
                    else [p.strip().split("::")[0] for p in group[1:-1].split(",")]
                )
                for n in names:
                    if n and n != top and n != "self":
                        edges[top][n].add(rel)
    return edges


def inner_graph(top):
    """Arrows between the rooms of one top-level module (`crate::top::x`, and `super::x` in
    files directly inside it)."""
    edges = defaultdict(set)
    base = os.path.join(ROOT, top)
    if not os.path.isdir(base):
        return edges
    rooms = {n.removesuffix(".rs") for n in os.listdir(base)} - {"mod"}
    own = re.compile(r"crate::" + top + r"::(\{[^}]*\}|[a-z_0-9]+)")
    sup = re.compile(r"(?<![a-z_:])super::(\{[^}]*\}|[a-z_0-9]+)")
    for folder, _, files in os.walk(base):
        for name in files:
            if not name.endswith(".rs"):
                continue
            rel = os.path.relpath(os.path.join(folder, name), base)
            room = rel.split(os.sep)[0].removesuffix(".rs")
            if room == "mod":
                continue
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                text = COMMENT.sub("", f.read())
            found = list(own.finditer(text))
            if os.sep not in rel:
                found += list(sup.finditer(text))
            for m in found:
                group = m.group(1)
                names = (
                    [group]
                    if not group.startswith("{")
                    else [p.strip().split("::")[0] for p in group[1:-1].split(",")]
                )
                for n in names:
                    if n in rooms and n != room:
                        edges[room].add(n)
    return edges


def cycles(edges, nodes):
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, {}):
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
                out.append(sorted(comp))

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def main():
    show = "--arrows" in sys.argv
    edges = graph()
    floor = {m: i for i, (_, mods) in enumerate(FLOORS) for m in mods}
    nodes = set(edges) | {n for e in edges.values() for n in e}
    nodes |= {
        n.removesuffix(".rs")
        for n in os.listdir(ROOT)
        if n not in ("lib.rs", "main.rs") and (n.endswith(".rs") or os.path.isdir(os.path.join(ROOT, n)))
    }
    failures = []
    for m in sorted(nodes - set(floor)):
        failures.append(f"module `{m}` is on no floor: add it to FLOORS here and to ARCHITECTURE.md")
    arrows = sum(len(e) for e in edges.values())
    up = []
    for a in sorted(edges):
        for b in sorted(edges[a]):
            if a in floor and b in floor and floor[b] > floor[a]:
                up.append((a, b))
                if (a, b) not in ALLOWED_UP:
                    files = ", ".join(sorted(edges[a][b]))
                    failures.append(f"upward arrow {a} -> {b} ({FLOORS[floor[a]][0]} -> {FLOORS[floor[b]][0]}) in {files}")
    for c in cycles(edges, nodes):
        failures.append("import cycle between " + ", ".join(c))
    inner = 0
    for top in sorted(nodes):
        sub = inner_graph(top)
        rooms = set(sub) | {n for e in sub.values() for n in e}
        for c in cycles(sub, rooms):
            inner += 1
            if (top, tuple(c)) not in ALLOWED_INNER_CYCLES:
                failures.append(f"import cycle inside `{top}` between " + ", ".join(c))
    for i, (name, mods) in enumerate(FLOORS):
        print(f"floor {i} {name}: {' '.join(mods)}")
    if show:
        for a in sorted(edges):
            for b in sorted(edges[a]):
                print(f"  {a} -> {b}: {', '.join(sorted(edges[a][b]))}")
    print(
        f"{len(nodes)} modules, {arrows} arrows, {len(up)} upward ({len(ALLOWED_UP)} allowed), "
        f"{len(cycles(edges, nodes))} cycles; {inner} cycles inside modules "
        f"({len(ALLOWED_INNER_CYCLES)} allowed)"
    )
    for f in failures:
        print("error: " + f, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
