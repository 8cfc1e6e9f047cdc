#!/usr/bin/env python3
"""Generate a synthetic Suborbital v0 storage root (SPEC.md §2) for benchmarks.

    scripts/gen-v0-root.py DIR [--size-dist many-small|huge|fixed|lognormal:SIGMA]
                               [--binaries N | --functions-per-tenant N]
                               [--tenants N] [--versions N|MIN-MAX] [--namespaces N]
                               [--total-bytes BYTES] [--seed S] [--manifest FILE]

Layout written under DIR (which must not exist or be empty):

    <tenant>/<ns>/<name>/.runnable.yaml            current version
    <tenant>/<ns>/<name>/<version>/<name>.wasm     one binary per version
    <tenant>/<ns>/<name>/<version>/<draft file>    lib.rs, lib.ts, lib.js, main.go (by lang; most versions)
    <tenant>/<ns>/<name>/<version>/.runnable.yaml  for ~10% of functions (also allowed by §2)

Shape presets (--size-dist; every preset value can be overridden by a flag):

    many-small   ~4,000 binaries, 2 GiB in total, log-normal spread of sizes
                 (median ~250 KiB, a tail of multi-MiB modules), 10 tenants,
                 1-7 versions per function
    huge         --binaries (default 1) binaries sharing --total-bytes
                 (default 2 GiB), one tenant, one version per function
    fixed        every binary the same size (total / binaries)
    lognormal:S  log-normal spread with sigma S (many-small uses 1.2)

Output is a deterministic function of the flags and --seed: the same
command writes byte-identical files. Binary bytes come from a 16 MiB
pseudo-random pool (seeded) read at a per-file offset, behind a per-file
header, so every binary is distinct (except the deliberate ~2% of versions
that repeat the previous version's bytes, as rebuilds without changes do)
and generation runs at page-cache speed (2 GiB in a few seconds).
Each binary is a valid (if useless) wasm module: the magic, then one custom
section that spans the rest of the file.

--manifest FILE writes a JSON summary (counts, bytes, flags).
"""

import argparse
import json
import math
import os
import random
import sys
import time

MIB = 1 << 20
GIB = 1 << 30
POOL_BYTES = 16 * MIB
BLOCK = 1 * MIB
MIN_BINARY = 64

LANGS = [  # (lang, draft file or None, weight)
    ("rust", "lib.rs", 40),
    ("javascript", "lib.js", 15),
    ("typescript", "lib.ts", 10),
    ("assemblyscript", "lib.ts", 10),
    ("tinygo", "main.go", 15),
    ("grain", None, 4),
    ("swift", None, 3),
    ("wat", None, 3),
]

WORDS = ("hello greet echo invoice billing resize thumbnail auth token parse render "
         "notify webhook fetch cache score rank filter enrich route audit export "
         "import sync ledger quote order cart payment refund report metrics").split()

PRESETS = {
    "many-small": dict(tenants=10, binaries=4000, versions="1-7", total_bytes=2 * GIB, sigma=1.2),
    "huge": dict(tenants=1, binaries=1, versions="1", total_bytes=2 * GIB, sigma=None),
    "fixed": dict(tenants=4, binaries=400, versions="1-4", total_bytes=256 * MIB, sigma=None),
}


def parse_size(text):
    text = text.strip()
    units = {"": 1, "k": 1 << 10, "m": MIB, "g": GIB, "t": 1 << 40}
    num = text.rstrip("kKmMgGtTiIbB")
    suffix = text[len(num):].lower().replace("ib", "").replace("b", "")
    if suffix not in units:
        raise argparse.ArgumentTypeError(f"bad size {text!r} (use e.g. 512M, 2G, 1048576)")
    return int(float(num) * units[suffix])


def parse_range(text):
    if "-" in text:
        lo, hi = text.split("-", 1)
        lo, hi = int(lo), int(hi)
    else:
        lo = hi = int(text)
    if lo < 1 or hi < lo:
        raise argparse.ArgumentTypeError(f"bad range {text!r} (N or MIN-MAX, N >= 1)")
    return lo, hi


def leb128(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def wasm_header(size, unique):
    """Bytes that start a wasm module of exactly `size` bytes: magic + version,
    then a custom section named `unique` whose payload runs to the end."""
    name = unique.encode()[:100]
    head = b"\x00asm\x01\x00\x00\x00"
    content_prefix = leb128(len(name)) + name
    # section = 0x00, LEB(content_len), content; content_len depends on its own LEB length
    for leb_len in range(1, 6):
        content_len = size - len(head) - 1 - leb_len
        if content_len >= len(content_prefix) and len(leb128(content_len)) == leb_len:
            return head + b"\x00" + leb128(content_len) + content_prefix
    raise ValueError(f"binary too small for a header: {size}")


def version_names(rng, count):
    """`count` distinct ascending semver versions, with some MAJOR >= 10 so
    that numeric order differs from string order."""
    major = rng.choice([0, 0, 1, 1, 1, 2, 8, 9])
    minor, patch = 0, rng.choice([0, 0, 1])
    out = []
    for _ in range(count):
        out.append(f"v{major}.{minor}.{patch}")
        step = rng.random()
        if step < 0.5:
            patch += 1
        elif step < 0.85:
            minor, patch = minor + 1, 0
        else:
            major, minor, patch = major + 1, 0, 0
    return out


def draft_text(lang, name, version, rng):
    body_lines = rng.randint(5, 60)
    filler = "\n".join(f"    // step {i}: {rng.choice(WORDS)} {rng.getrandbits(32):08x}" for i in range(body_lines))
    if lang == "rust":
        return (f"use suborbital::runnable::*;\n\nstruct {name.title()}{{}}\n\n"
                f"impl Runnable for {name.title()} {{\n    fn run(&self, input: Vec<u8>) -> Result<Vec<u8>, RunErr> {{\n"
                f"{filler}\n        Ok(input) // {version}\n    }}\n}}\n")
    if lang == "javascript":
        return f"import {{ log }} from \"@suborbital/runnable\";\n\nexport const run = (input) => {{\n{filler}\n  return input; // {version}\n}};\n"
    if lang in ("typescript", "assemblyscript"):
        return f"import {{ log }} from \"@suborbital/suborbital\";\n\nexport function run(input: ArrayBuffer): ArrayBuffer {{\n{filler}\n  return input; // {version}\n}}\n"
    if lang == "tinygo":
        return (f"package main\n\nimport \"github.com/suborbital/reactr/api/tinygo/runnable\"\n\ntype {name.title()} struct{{}}\n\n"
                f"func (h {name.title()}) Run(input []byte) ([]byte, error) {{\n{filler}\n\treturn input, nil // {version}\n}}\n\n"
                f"func main() {{ runnable.Use({name.title()}{{}}) }}\n")
    raise ValueError(lang)


def runnable_yaml(ident, ns, name, lang, version, draft_version, api_version):
    lines = [f"name: {name}", f"namespace: {ns}", f"lang: {lang}", f"version: {version}",
             f"fqfn: {ident}#{ns}::{name}@{version}"]
    if draft_version:
        lines.append(f"draftVersion: {draft_version}")
    if api_version:
        lines.append(f"apiVersion: {api_version}")
    return "\n".join(lines) + "\n"


def plan_functions(args, rng):
    """Returns a list of function dicts with their version counts."""
    vlo, vhi = args.versions
    functions = []
    tenants = [f"com.bench{i:03d}.t{rng.getrandbits(16):04x}" for i in range(args.tenants)]
    if args.binaries is not None:
        remaining = args.binaries
        i = 0
        while remaining > 0:
            n = min(rng.randint(vlo, vhi), remaining)
            functions.append(dict(tenant=tenants[i % len(tenants)], versions=n))
            remaining -= n
            i += 1
    else:
        for t in tenants:
            for _ in range(args.functions_per_tenant):
                functions.append(dict(tenant=t, versions=rng.randint(vlo, vhi)))
    seen = set()
    ns_names = ["default"] + [f"ns{i}" for i in range(1, args.namespaces)]
    langs, weights = [l[0] for l in LANGS], [l[2] for l in LANGS]
    for k, f in enumerate(functions):
        ns = "default" if len(ns_names) == 1 or rng.random() < 0.6 else rng.choice(ns_names[1:])
        base = rng.choice(WORDS)
        name = f"{base}-{k:05d}"
        assert (f["tenant"], ns, name) not in seen
        seen.add((f["tenant"], ns, name))
        f.update(ns=ns, name=name, lang=rng.choices(langs, weights)[0],
                 version_names=version_names(rng, f["versions"]),
                 api_version=rng.choice(["0.4.0", "0.4.0", "0.3.2", ""]),
                 per_version_yaml=rng.random() < 0.10)
    return functions


def binary_sizes(count, total, dist, sigma, rng):
    if count == 0:
        return []
    if dist in ("huge", "fixed") or sigma is None:
        base = total // count
        sizes = [base] * count
        sizes[-1] += total - base * count
        return [max(MIN_BINARY, s) for s in sizes]
    raw = [rng.lognormvariate(0.0, sigma) for _ in range(count)]
    scale = total / sum(raw)
    sizes = [max(MIN_BINARY, int(r * scale)) for r in raw]
    sizes[-1] = max(MIN_BINARY, sizes[-1] + total - sum(sizes))
    return sizes


class Writer:
    def __init__(self, pool):
        self.pool = memoryview(pool)
        self.bytes = 0

    def binary(self, path, size, unique, offset):
        head = wasm_header(size, unique)
        with open(path, "wb", buffering=0) as f:
            f.write(head)
            left = size - len(head)
            pos = offset % POOL_BYTES
            while left > 0:
                n = min(left, BLOCK, POOL_BYTES - pos)
                f.write(self.pool[pos:pos + n])
                left -= n
                pos = (pos + n) % POOL_BYTES
        self.bytes += size


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("dir")
    p.add_argument("--size-dist", default="many-small",
                   help="many-small, huge, fixed or lognormal:SIGMA (default many-small)")
    p.add_argument("--tenants", type=int)
    p.add_argument("--functions-per-tenant", type=int,
                   help="functions per tenant (instead of --binaries)")
    p.add_argument("--binaries", type=int, help="total number of binaries (versions) to write")
    p.add_argument("--versions", type=parse_range, help="versions per function: N or MIN-MAX")
    p.add_argument("--namespaces", type=int, default=3, help="namespaces per tenant incl. default (default 3)")
    p.add_argument("--total-bytes", type=parse_size, help="bytes of all binaries together (e.g. 2G)")
    p.add_argument("--dup-fraction", type=float, default=0.02,
                   help="fraction of versions repeating the previous version's bytes (default 0.02)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--manifest", help="write a JSON summary here")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args()

    dist, sigma = args.size_dist, None
    if dist.startswith("lognormal:"):
        preset = dict(PRESETS["many-small"])
        sigma = float(dist.split(":", 1)[1])
    elif dist in PRESETS:
        preset = dict(PRESETS[dist])
        sigma = preset["sigma"]
    else:
        p.error(f"unknown --size-dist {dist!r}")
    if args.functions_per_tenant is not None and args.binaries is not None:
        p.error("give --binaries or --functions-per-tenant, not both")
    if args.tenants is None:
        args.tenants = preset["tenants"]
    if args.versions is None:
        args.versions = parse_range(preset["versions"])
    if args.functions_per_tenant is None and args.binaries is None:
        args.binaries = preset["binaries"]
    if args.total_bytes is None:
        args.total_bytes = preset["total_bytes"]
    if args.tenants < 1 or args.namespaces < 1:
        p.error("--tenants and --namespaces must be >= 1")

    out = args.dir
    if os.path.exists(out) and os.listdir(out):
        p.error(f"{out} exists and is not empty")
    os.makedirs(out, exist_ok=True)

    rng = random.Random(args.seed)
    t0 = time.monotonic()
    pool = random.Random(args.seed ^ 0x5E2).randbytes(POOL_BYTES)
    functions = plan_functions(args, rng)
    n_bins = sum(f["versions"] for f in functions)
    sizes = binary_sizes(n_bins, args.total_bytes, dist, sigma, rng)
    rng.shuffle(sizes)

    w = Writer(pool)
    stats = dict(tenants=len({f["tenant"] for f in functions}), functions=len(functions), binaries=0,
                 binary_bytes=0, duplicate_binaries=0, drafts=0, draft_bytes=0, yaml_files=0)
    k = 0
    for f in functions:
        ident, ns, name, lang = f["tenant"], f["ns"], f["name"], f["lang"]
        draft_name = next(d for l, d, _ in LANGS if l == lang)
        fdir = os.path.join(out, ident, ns, name)
        versions = f["version_names"]
        has_draft = {}
        prev = None  # (size, unique, offset) of the previous version's binary
        for v in versions:
            vdir = os.path.join(fdir, v)
            os.makedirs(vdir, exist_ok=True)
            size = sizes[k]
            k += 1
            if prev is not None and rng.random() < args.dup_fraction:
                size, unique, offset = prev
                stats["duplicate_binaries"] += 1
            else:
                unique = f"se2-bench:{args.seed}:{ident}/{ns}/{name}/{v}"
                offset = rng.randrange(POOL_BYTES)
            prev = (size, unique, offset)
            w.binary(os.path.join(vdir, f"{name}.wasm"), size, unique, offset)
            stats["binaries"] += 1
            stats["binary_bytes"] += size
            has_draft[v] = draft_name is not None and rng.random() < 0.8
            if has_draft[v]:
                text = draft_text(lang, name, v, rng).encode()
                with open(os.path.join(vdir, draft_name), "wb") as fh:
                    fh.write(text)
                stats["drafts"] += 1
                stats["draft_bytes"] += len(text)
            if f["per_version_yaml"]:
                dv = v if has_draft[v] else ""
                with open(os.path.join(vdir, ".runnable.yaml"), "w") as fh:
                    fh.write(runnable_yaml(ident, ns, name, lang, v, dv, f["api_version"]))
                stats["yaml_files"] += 1
        current = versions[-1]
        with_draft = [v for v in versions if has_draft[v]]
        if not with_draft:
            draft_version = ""
        elif has_draft[current] or rng.random() < 0.5:
            draft_version = with_draft[-1]
        else:
            draft_version = rng.choice(with_draft)
        with open(os.path.join(fdir, ".runnable.yaml"), "w") as fh:
            fh.write(runnable_yaml(ident, ns, name, lang, current, draft_version, f["api_version"]))
        stats["yaml_files"] += 1

    elapsed = time.monotonic() - t0
    stats.update(seed=args.seed, size_dist=dist, total_bytes_requested=args.total_bytes,
                 versions=list(args.versions), namespaces=args.namespaces,
                 seconds=round(elapsed, 2))
    if args.manifest:
        with open(args.manifest, "w") as fh:
            json.dump(stats, fh, indent=1)
            fh.write("\n")
    if not args.quiet:
        mb = stats["binary_bytes"] / MIB
        print(f"gen-v0-root: {out}: {stats['tenants']} tenants, {stats['functions']} functions, "
              f"{stats['binaries']} binaries ({mb:.1f} MiB, {stats['duplicate_binaries']} duplicates), "
              f"{stats['drafts']} drafts in {elapsed:.1f}s ({mb / max(elapsed, 1e-9):.0f} MiB/s)",
              file=sys.stderr)


if __name__ == "__main__":
    main()
