"""Benchmark: the interval sweep against per-character boolean arrays.

    .venv/bin/python bench/agreement_units.py           # full corpus, writes the JSON
    .venv/bin/python bench/agreement_units.py --quick   # small corpus, prints only

Full corpus: 1,000 documents of 50,000 characters, 2 coders, 40 themes and
200,000 coded segments from a seeded generator (coders mostly code the same
passages with jittered boundaries, as real double coding looks). The character
unit over every (document, theme) cell is computed by the sweep and by the naive
method (a boolean array per document x theme x coder, patterns counted with
numpy), the two results are checked to be identical, and medians of several
runs are reported. Peak memory (tracemalloc) of both is measured at 50,000 and
500,000 characters per document with the same segments, to show that the
sweep's memory follows the number of segments, not the length of the text.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from service.agreement.segmentation import corpus_units
from service.agreement.units import (
    EncodedSpans,
    encode_spans,
    tables_from_encoded,
)

RESULTS = Path(__file__).resolve().parent / "results" / "agreement_units.json"
FULL = {"documents": 1000, "length": 50_000, "long_length": 500_000, "themes": 40,
        "coders": 2, "segments": 200_000, "sweep_repeats": 7, "naive_repeats": 3,
        "naive_long_documents": 50, "text_documents": 200}  # fmt: skip
QUICK = {"documents": 50, "length": 5_000, "long_length": 50_000, "themes": 10,
         "coders": 2, "segments": 5_000, "sweep_repeats": 5, "naive_repeats": 3,
         "naive_long_documents": 50, "text_documents": 50}  # fmt: skip


def generate(cfg: dict, length: int, seed: int = 20_261_128) -> EncodedSpans:
    """Seeded double-coded corpus: half the segments are anchors coded by the first
    coder; the second coder recodes most of them with shifted boundaries and puts
    the rest somewhere else."""
    rng = np.random.default_rng(seed)
    n_docs, n_themes, n_coders = cfg["documents"], cfg["themes"], cfg["coders"]
    per_coder = cfg["segments"] // n_coders
    doc = rng.integers(0, n_docs, per_coder)
    theme = rng.integers(0, n_themes, per_coder)
    size = np.clip(rng.lognormal(5.5, 0.8, per_coder).astype(np.int64), 20, 5_000)
    start = rng.integers(0, length - size)
    columns = {k: [] for k in ("document", "theme", "coder", "start", "end")}
    for coder in range(n_coders):
        s, e = start.copy(), start + size
        if coder:
            jitter = np.maximum(size // 10, 1)
            s = s + rng.integers(-jitter, jitter + 1)
            e = e + rng.integers(-jitter, jitter + 1)
            elsewhere = rng.random(per_coder) < 0.25
            s[elsewhere] = rng.integers(0, length - size[elsewhere])
            e[elsewhere] = s[elsewhere] + size[elsewhere]
        s = np.clip(s, 0, length - 1)
        e = np.clip(e, s + 1, length)
        for name, values in (("document", doc), ("theme", theme), ("start", s), ("end", e)):
            columns[name].append(values)
        columns["coder"].append(np.full(per_coder, coder))
    arrays = {name: np.concatenate(parts) for name, parts in columns.items()}
    return EncodedSpans.from_arrays(
        **arrays,
        document_lengths=np.full(n_docs, length),
        n_themes=n_themes,
        n_coders=n_coders,
    )


def sweep(encoded: EncodedSpans, unit: str = "character"):
    return tables_from_encoded(encoded, unit=unit)


def naive(encoded: EncodedSpans, documents: int | None = None) -> np.ndarray:
    """Per-character baseline: counts[document, theme, mask]."""
    n_docs = len(encoded.documents) if documents is None else documents
    n_themes, n_coders = len(encoded.themes), len(encoded.coders)
    n_masks = 1 << n_coders
    counts = np.zeros((n_docs, n_themes, n_masks), dtype=np.int64)
    order = np.argsort(encoded.document, kind="stable")
    bounds = np.searchsorted(encoded.document[order], np.arange(n_docs + 1))
    for d in range(n_docs):
        rows = order[bounds[d] : bounds[d + 1]]
        coded = np.zeros((n_themes, n_coders, int(encoded.document_lengths[d])), dtype=bool)
        for t, k, s, e in zip(
            encoded.theme[rows].tolist(),
            encoded.coder[rows].tolist(),
            encoded.start[rows].tolist(),
            encoded.end[rows].tolist(),
            strict=True,
        ):
            coded[t, k, s:e] = True
        masks = np.zeros(coded.shape[::2], dtype=np.uint8)
        for k in range(n_coders):
            masks |= coded[:, k].view(np.uint8) << k
        for t in range(n_themes):
            counts[d, t] = np.bincount(masks[t], minlength=n_masks)
    return counts


def as_counts(tables, n_docs: int | None = None) -> np.ndarray:
    n_themes, n_masks = len(tables.themes), 1 << len(tables.coders)
    n_cells = tables.offsets.shape[0] - 1
    cells = np.repeat(np.arange(n_cells), np.diff(tables.offsets))
    flat = np.bincount(cells * n_masks + tables.masks, tables.weights, n_cells * n_masks)
    counts = flat.astype(np.int64).reshape(-1, n_themes, n_masks)
    return counts if n_docs is None else counts[:n_docs]


def timed(function, repeats: int) -> dict:
    runs = []
    for _ in range(repeats):
        gc.collect()
        began = time.perf_counter()
        function()
        runs.append(time.perf_counter() - began)
    return {"median_s": round(statistics.median(runs), 4), "runs_s": [round(r, 4) for r in runs]}


def peak_mb(function) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        function()
        return round(tracemalloc.get_traced_memory()[1] / 2**20, 2)
    finally:
        tracemalloc.stop()


def labelled(encoded: EncodedSpans) -> tuple[list[tuple], dict, list]:
    """The same spans as (document, theme, coder, start, end) records with string labels."""
    docs = [f"doc-{d}" for d in range(len(encoded.documents))]
    themes = [f"theme-{t}" for t in range(len(encoded.themes))]
    coders = [f"coder-{k}" for k in range(len(encoded.coders))]
    records = [
        (docs[d], themes[t], coders[k], s, e)
        for d, t, k, s, e in zip(
            encoded.document.tolist(),
            encoded.theme.tolist(),
            encoded.coder.tolist(),
            encoded.start.tolist(),
            encoded.end.tolist(),
            strict=True,
        )
    ]
    lengths = dict(zip(docs, encoded.document_lengths.tolist(), strict=True))
    return records, lengths, coders


def random_texts(n_docs: int, length: int, seed: int = 7) -> list[str]:
    """Word-like text: words of 1-12 letters, sentences of ~15 words, lines of ~4 sentences."""
    rng = np.random.default_rng(seed)
    texts = []
    for _ in range(n_docs):
        chars = rng.choice(np.frombuffer(b"etaoinshrdlucmfw", dtype=np.uint8), length)
        gaps = np.cumsum(rng.integers(2, 13, length // 2))
        gaps = gaps[gaps < length]
        chars[gaps] = ord(" ")
        ends = gaps[rng.random(gaps.shape[0]) < 1 / 15]
        chars[np.maximum(ends - 1, 0)] = ord(".")
        chars[np.minimum(ends + 1, length - 1)] = ord("T")  # capital after a full stop
        chars[ends[rng.random(ends.shape[0]) < 1 / 4]] = ord("\n")
        texts.append(chars.tobytes().decode("ascii"))
    return texts


def text_units(cfg: dict, repeats: int) -> dict:
    """Word, sentence and paragraph units on a corpus with text (fewer documents)."""
    sub = dict(cfg, documents=cfg["text_documents"])
    sub["segments"] = cfg["segments"] * sub["documents"] // cfg["documents"]
    encoded = generate(sub, cfg["length"])
    texts = random_texts(sub["documents"], cfg["length"])
    with_text = EncodedSpans.from_arrays(
        **{f: getattr(encoded, f) for f in ("document", "theme", "coder", "start", "end")},
        document_lengths=encoded.document_lengths,
        n_themes=sub["themes"],
        n_coders=sub["coders"],
        texts=texts,
    )
    out = {"documents": sub["documents"], "segments": int(encoded.start.shape[0])}
    for unit in ("word", "sentence", "paragraph"):
        out[unit] = {
            "total": timed(lambda u=unit: sweep(with_text, u), repeats),
            "segmentation_only": timed(lambda u=unit: corpus_units(texts, u), repeats),
            "units": int(corpus_units(texts, unit).start.shape[0]),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small corpus, a few seconds")
    parser.add_argument("--output", type=Path, help="where to write the JSON figures")
    args = parser.parse_args()
    cfg = QUICK if args.quick else FULL
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    output = args.output or (None if args.quick else RESULTS)

    def say(message: str) -> None:
        print(message, flush=True)

    encoded = generate(cfg, cfg["length"])
    say(
        f"corpus: {cfg['documents']} documents x {cfg['length']} characters, "
        f"{encoded.start.shape[0]} segments, {cfg['themes']} themes, {cfg['coders']} coders"
    )

    tables = sweep(encoded)
    assert np.array_equal(as_counts(tables), naive(encoded)), "sweep and naive disagree"
    say("check: sweep tables == naive per-character tables")

    sweep_time = timed(lambda: sweep(encoded), cfg["sweep_repeats"])
    say(f"sweep (character unit, all cells): median {sweep_time['median_s']} s")
    naive_time = timed(lambda: naive(encoded), cfg["naive_repeats"])
    say(f"naive per-character arrays: median {naive_time['median_s']} s")
    speedup = round(naive_time["median_s"] / sweep_time["median_s"], 1)
    say(f"speed-up: {speedup}x")

    records, lengths, coders = labelled(encoded)
    end_to_end = timed(
        lambda: tables_from_encoded(encode_spans(spans=records, documents=lengths, coders=coders)),
        cfg["naive_repeats"],
    )
    say(f"from labelled records (validation + encoding + sweep): {end_to_end['median_s']} s")
    other = {
        unit: timed(lambda u=unit: sweep(encoded, u), cfg["sweep_repeats"])
        for unit in ("coded_only", "segment", "document")
    }
    say("other units: " + ", ".join(f"{u} {t['median_s']} s" for u, t in other.items()))

    long = generate(cfg, cfg["long_length"])
    n_long = cfg["naive_long_documents"]
    assert np.array_equal(as_counts(sweep(long), n_long), naive(long, n_long))
    memory = {
        "sweep_peak_mb": {
            str(cfg["length"]): peak_mb(lambda: sweep(encoded)),
            str(cfg["long_length"]): peak_mb(lambda: sweep(long)),
        },
        "naive_peak_mb": {
            str(cfg["length"]): peak_mb(lambda: naive(encoded, n_long)),
            str(cfg["long_length"]): peak_mb(lambda: naive(long, n_long)),
        },
        "note": (
            "naive peaks measured on the first "
            f"{n_long} documents: it holds one document at a time, so its peak does not "
            "depend on the number of documents; the sweep holds the whole corpus"
        ),
    }
    say(f"peak memory: {json.dumps({k: v for k, v in memory.items() if k != 'note'})}")
    long_times = {
        "sweep_full_corpus": timed(lambda: sweep(long), cfg["sweep_repeats"]),
        "naive_first_documents": {
            "documents": n_long,
            **timed(lambda: naive(long, n_long), cfg["naive_repeats"]),
        },
    }
    sweep_long = long_times["sweep_full_corpus"]["median_s"]
    naive_long = long_times["naive_first_documents"]["median_s"]
    say(
        f"at {cfg['long_length']} characters: sweep {sweep_long} s for all documents, "
        f"naive {naive_long} s for the first {n_long} documents"
    )

    texts = text_units(cfg, 3)
    for unit in ("word", "sentence", "paragraph"):
        total, split = texts[unit]["total"], texts[unit]["segmentation_only"]
        say(
            f"{unit} unit on {texts['documents']} documents with text: {total['median_s']} s "
            f"(of which segmentation {split['median_s']} s)"
        )

    figures = {
        "command": " ".join(["bench/agreement_units.py", *sys.argv[1:]]),
        "mode": "quick" if args.quick else "full",
        "machine": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "processor": platform.machine(),
            "cpus": os.cpu_count(),
            # The machine is shared: load averages tell how much the timings suffered.
            "load_average_at_start": load_at_start,
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        },
        "config": cfg,
        "segments": int(encoded.start.shape[0]),
        "check": "sweep and naive tables identical",
        "character_sweep": sweep_time,
        "naive_per_character": naive_time,
        "speedup": speedup,
        "end_to_end_from_labelled_records": end_to_end,
        "other_units": other,
        "memory": memory,
        "long_documents": long_times,
        "text_units": texts,
    }
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(figures, indent=2) + "\n")
        say(f"wrote {output}")


if __name__ == "__main__":
    main()
