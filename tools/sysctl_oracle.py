"""Dev tool for the sysctl peer oracle: `dump OUTDIR` runs the real procps and systemd-sysctl on the crafted trees
and keeps each tree with what the peers wrote; `compare OUTDIR` asks swapctl about each tree and counts agreement."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.system.sysctl_peers import (  # noqa: E402  (the checkout root must be on sys.path first)
    PEERS,
    REPO,
    Observed,
    compare_tree,
    observed_from_json,
    report,
    run_peers,
    swapctl_vm_get,
    unavailable,
)
from tests.system.sysctl_trees import DEFAULT_SEED, KNOBS, Census, family, generate, host_tree  # noqa: E402


def dump(args: argparse.Namespace) -> int:
    reason = unavailable()
    if reason:
        print(f"sysctl_oracle: {reason}", file=sys.stderr)
        return 3
    out = Path(args.outdir)
    if out.exists() and any(out.iterdir()):
        print(f"sysctl_oracle: {out} is not empty", file=sys.stderr)
        return 2
    trees = generate(seed=args.seed, mixed=args.mixed)
    if args.host:
        trees.append(host_tree())
    for t in trees:
        t.write(out / t.id / "tree")
    result = run_peers(trees, jobs=args.jobs)
    for t in trees:
        doc = {
            "id": t.id,
            "tags": list(t.tags),
            "files": t.listing(),
            "texts": list(t.texts),
            **{peer: run.as_json() for peer, run in result.runs[t.id].items()},
        }
        (out / t.id / "result.json").write_text(json.dumps(doc, indent=1) + "\n")
    summary = {
        "seed": args.seed,
        "trees": len(trees),
        "peers": {p: str(PEERS[p].host_binary) for p in PEERS},
        "argv": {p: list(PEERS[p].argv) for p in PEERS},
        "seconds": round(result.seconds, 2),
        "real_sysctl_lock_held": result.locked,
        "guard_notes": result.guard_notes,
        "tags": dict(sorted(Census.of(trees).counts.items())),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(f"{len(trees)} trees, both peers, in {result.seconds:.1f} s -> {out}")
    for note in result.guard_notes:
        print(f"guard: {note}")
    return 0


def _results(out: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(out.glob("*/result.json"))]


def compare(args: argparse.Namespace) -> int:
    out = Path(args.outdir)
    docs = _results(out)
    if not docs:
        print(f"sysctl_oracle: no */result.json under {out}; run dump first", file=sys.stderr)
        return 2
    with ThreadPoolExecutor(max_workers=args.jobs or 4) as pool:
        answers = list(pool.map(lambda d: swapctl_vm_get(out / d["id"] / "tree", Path(args.checkout)), docs))
    bad: dict[str, Counter] = {p: Counter() for p in PEERS}
    knob_bad: dict[str, Counter] = {p: Counter() for p in PEERS}
    total: Counter = Counter()
    reports: dict[str, list[str]] = {p: [] for p in PEERS}
    bad_ids: dict[str, list[str]] = {p: [] for p in PEERS}
    errors = []
    for doc, (rows, error) in zip(docs, answers, strict=True):
        if error:
            errors.append(f"{doc['id']}: {error}")
        seen: dict[str, dict[str, Observed]] = {
            p: {k: observed_from_json(doc[p], k) for k in KNOBS} for p in PEERS if p in doc
        }
        total.update(doc["tags"])
        found = compare_tree(seen, rows)
        for peer in PEERS:
            mine = [f for f in found if f[0] == peer]
            if not mine:
                continue
            bad[peer].update(doc["tags"])
            bad_ids[peer].append(doc["id"])
            knob_bad[peer].update(k for _, k, _ in mine)
            _, knob, why = mine[0]
            reports[peer].append(
                report(
                    doc["id"],
                    doc["tags"],
                    doc["files"],
                    peer,
                    knob,
                    why + (f" (swapctl: {error})" if error else ""),
                    seen[peer][knob],
                    doc[peer]["rc"],
                    rows.get(f"vm.{knob}"),
                )
            )
    n = len(docs)
    print(f"{n} trees")
    for peer in PEERS:
        agree = n - len(bad_ids[peer])
        print(f"  {peer:8} agrees on {agree}/{n} trees; knobs disagreeing: {dict(knob_bad[peer]) or 'none'}")
    tags = sorted(total, key=lambda t: (family(t), t))
    shown = [
        t for t in tags if args.all_tags or family(t) == t or t.startswith("layout.") or any(bad[p][t] for p in PEERS)
    ]
    width = max(len(t) for t in shown)
    print(f"\n  {'class':{width}}  trees  " + "  ".join(f"{p:>8}" for p in PEERS))
    for t in shown:
        cells = "  ".join(f"{bad[p][t]:>8}" for p in PEERS)
        print(f"  {t:{width}}  {total[t]:>5}  {cells}")
    if errors:
        print(f"\nswapctl failed on {len(errors)} trees:", *errors[:10], sep="\n  ")
    for peer in PEERS:
        for r in reports[peer][: args.show]:
            print("\n" + r)
    summary = {
        "trees": n,
        "errors": errors,
        "disagreeing_trees": bad_ids,
        "by_tag": {t: {"trees": total[t], **{p: bad[p][t] for p in PEERS}} for t in tags},
        "by_knob": {p: dict(knob_bad[p]) for p in PEERS},
    }
    (out / "compare.json").write_text(json.dumps(summary, indent=1) + "\n")
    return 0 if not any(bad[p] for p in PEERS) else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="sysctl_oracle.py", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dump", help="generate the trees, run both peers, write OUTDIR/<id>/{tree,result.json}")
    d.add_argument("outdir")
    d.add_argument("--seed", type=int, default=DEFAULT_SEED)
    d.add_argument("--mixed", type=int, default=110, help="how many mixed trees (default 110)")
    d.add_argument("--no-host", dest="host", action="store_false", help="leave out this machine's own files")
    d.add_argument("--jobs", type=int, default=None)
    d.set_defaults(func=dump)
    c = sub.add_parser("compare", help="run swapctl on each dumped tree and count agreement per peer and class")
    c.add_argument("outdir")
    c.add_argument("--show", type=int, default=3, help="detailed reports per peer (default 3)")
    c.add_argument("--all-tags", action="store_true", help="list every case tag, not only classes and failures")
    c.add_argument("--jobs", type=int, default=None)
    c.add_argument(
        "--checkout",
        default=str(REPO),
        help="the swapctl source tree to ask (default this checkout; e.g. a `git worktree` of HEAD)",
    )
    c.set_defaults(func=compare)
    args = ap.parse_args(argv)
    started = time.monotonic()
    rc = args.func(args)
    print(f"({time.monotonic() - started:.1f} s)", file=sys.stderr)
    return rc


if __name__ == "__main__":
    sys.exit(main())
