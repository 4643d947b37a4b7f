"""FAQ Sipol ranking accuracy and speed on the labelled question set.

    python bench/faq_accuracy.py [--faq PATH] [--questions PATH] [--threshold X]
                                 [--baseline] [-v]

Prints top-1 and top-3 accuracy over the in-scope questions, how the DEFAULT_THRESHOLD
separates in-scope from out-of-scope questions, and search time (the first pass includes
Sastrawi stemming of unseen words; later passes hit the stem cache). With -v it lists every
in-scope question whose expected entry is not ranked first, and every out-of-scope score.
With --baseline it also ranks with rank_bm25.BM25Okapi over the same tokens (question and
keywords twice, answer once) for comparison with the module's own BM25F.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
import tomllib
from pathlib import Path

from kpudesk.tickets.faq import DEFAULT_FAQ_PATH, DEFAULT_THRESHOLD, RELATED_THRESHOLD, FaqBase
from kpudesk.tickets.faq_text import tokenize

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_QUESTIONS = ROOT / "tests" / "data" / "faq_questions.toml"


def load_questions(path: Path) -> list[tuple[str, list[str]]]:
    with path.open("rb") as fh:
        return [(q["text"], list(q["expected"])) for q in tomllib.load(fh)["question"]]


def top_score(base: FaqBase, text: str) -> float:
    hits = base.search(text, limit=1)
    return hits[0].score if hits else 0.0


def baseline(base: FaqBase, questions: list[tuple[str, list[str]]]) -> tuple[float, float, float]:
    """Top-1, top-3 and mean ms of rank_bm25.BM25Okapi on the same tokens."""
    from rank_bm25 import BM25Okapi

    docs = [
        tokenize(e.question) * 2 + tokenize(" . ".join(e.keywords)) * 2 + tokenize(e.answer)
        for e in base.entries
    ]
    bm25 = BM25Okapi(docs)
    inscope = [(t, e) for t, e in questions if e]
    top1 = top3 = 0
    start = time.perf_counter()
    for text, expected in inscope:
        scores = bm25.get_scores(list(dict.fromkeys(tokenize(text))))
        order = sorted(range(len(scores)), key=lambda i: -scores[i])[:3]
        ids = [base.entries[i].id for i in order]
        top1 += ids[0] in expected
        top3 += any(i in expected for i in ids)
    ms = (time.perf_counter() - start) * 1000 / len(inscope)
    return top1 / len(inscope), top3 / len(inscope), ms


def evaluate(base: FaqBase, questions: list[tuple[str, list[str]]], threshold: float) -> dict:
    """Accuracy and separation figures; shared with tests/unit/tickets/test_faq.py."""
    inscope = [(t, e) for t, e in questions if e]
    outscope = [t for t, e in questions if not e]
    top1 = top3 = above = 0
    misses: list[tuple[str, list[str], list[tuple[str, float]]]] = []
    for text, expected in inscope:
        hits = base.search(text, limit=3)
        ids = [h.entry.id for h in hits]
        top1 += bool(ids) and ids[0] in expected
        top3 += any(i in expected for i in ids)
        above += base.is_covered(hits, threshold)
        if not ids or ids[0] not in expected:
            misses.append((text, expected, [(h.entry.id, h.score) for h in hits]))
    out_scores = []
    for text in outscope:
        hits = base.search(text, limit=1)
        out_scores.append((text, hits[0].score if hits else 0.0, hits[0].entry.id if hits else "-"))
    in_scores = [top_score(base, t) for t, _ in inscope]
    # Naming precision: of the questions whose top hit scores >= RELATED_THRESHOLD, the share
    # whose top hit is an expected entry (an out-of-scope question's top hit is never right).
    named = [(text, expected) for text, expected in questions
             if (h := base.search(text, limit=1)) and h[0].score >= RELATED_THRESHOLD]
    right = sum(base.search(t, limit=1)[0].entry.id in e for t, e in named)
    return {
        "named": len(named),
        "named_right": right / max(1, len(named)),
        "n_in": len(inscope),
        "n_out": len(outscope),
        "top1": top1 / len(inscope),
        "top3": top3 / len(inscope),
        "in_above": above / len(inscope),
        "out_below": sum(s < threshold for _, s, _ in out_scores) / max(1, len(outscope)),
        "in_scores": in_scores,
        "out_scores": out_scores,
        "misses": misses,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--faq", type=Path, default=DEFAULT_FAQ_PATH)
    ap.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS)
    ap.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    ap.add_argument("--baseline", action="store_true", help="also rank with rank_bm25.BM25Okapi")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    base = FaqBase.load(args.faq)
    load_ms = (time.perf_counter() - t0) * 1000
    questions = load_questions(args.questions)

    timings: list[list[float]] = []
    for _ in range(3):  # pass 1 cold stem cache, passes 2-3 warm
        run = []
        for text, _expected in questions:
            t = time.perf_counter()
            base.search(text, limit=3)
            run.append((time.perf_counter() - t) * 1000)
        timings.append(run)

    r = evaluate(base, questions, args.threshold)
    print(f"FAQ: {len(base)} entries from {args.faq} (load + index {load_ms:.0f} ms)")
    print(f"questions: {r['n_in']} in scope, {r['n_out']} out of scope")
    print(f"top-1 accuracy: {r['top1']:.3f}")
    print(f"top-3 accuracy: {r['top3']:.3f}")
    ins = sorted(r["in_scores"])
    outs = sorted(s for _, s, _ in r["out_scores"])
    print(f"threshold {args.threshold:.2f}: in-scope top hit >= threshold {r['in_above']:.3f}; "
          f"out-of-scope best < threshold {r['out_below']:.3f}")
    print(f"  in-scope top score  min {ins[0]:.3f}  p10 {ins[len(ins) // 10]:.3f}  "
          f"median {statistics.median(ins):.3f}")
    if outs:
        print(f"  out-of-scope score  max {outs[-1]:.3f}  median {statistics.median(outs):.3f}")
    print(f"naming precision at RELATED_THRESHOLD {RELATED_THRESHOLD:.2f}: {r['named_right']:.3f} "
          f"({r['named']} of {r['n_in'] + r['n_out']} questions get an entry named)")
    cold, warm = timings[0], timings[1] + timings[2]
    print(f"search time: first pass (new words stemmed) mean {statistics.mean(cold):.2f} ms; "
          f"repeat passes mean {statistics.mean(warm):.3f} ms, "
          f"p95 {sorted(warm)[int(len(warm) * 0.95)]:.3f} ms")
    if args.baseline:
        b1, b3, bms = baseline(base, questions)
        print(f"rank_bm25 BM25Okapi baseline: top-1 {b1:.3f}, top-3 {b3:.3f}, mean {bms:.3f} ms")
    if args.verbose:
        print("\nnot ranked first:")
        for text, expected, got in r["misses"]:
            shown = ", ".join(f"{i} {s:.2f}" for i, s in got)
            print(f"  {text[:70]!r}\n      expected {expected}; got {shown}")
        print("\nout of scope:")
        for text, score, fid in r["out_scores"]:
            print(f"  {score:.3f} {fid:14} {text[:70]!r}")
        print("\nlowest in-scope top scores:")
        inscope = [(t, e) for t, e in questions if e]
        low = sorted((top_score(base, t), t) for t, _ in inscope)[:8]
        for s, t in low:
            print(f"  {s:.3f} {t[:80]!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
