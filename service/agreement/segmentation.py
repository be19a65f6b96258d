"""Word, sentence and paragraph boundaries of a transcript, as code-point offsets.

A unit is a half-open ``[start, end)`` stretch of the text; units are disjoint,
sorted, never empty and never start or end with whitespace. Whitespace between
units belongs to no unit, so it can never make two coders disagree.

- **word**: a maximal run of non-whitespace characters (``str.isspace`` decides
  what whitespace is, so ``"don't"`` and ``"well-being,"`` are one word each).
- **paragraph**: a line of text. Every line break ends a paragraph, whether it is
  a single newline or a blank line, because transcripts usually put each turn on
  its own line; blank lines only separate, they are not units. The line breaks
  are those of ``str.splitlines`` (``\\n``, ``\\r``, ``\\r\\n``, ``\\u2028``,
  ``\\u2029`` and a few control characters).
- **sentence**: a paragraph is cut after a run of ``.``, ``!`` or ``?`` (and any
  closing quotes or brackets right after it) that is followed by whitespace or
  the end of the text, except when the next word starts with a lowercase letter
  (``"e.g. this"``) or the full stop ends a common abbreviation or a single-letter
  initial (``"Dr. Smith"``, ``"J. Smith"``). Sentences never cross a paragraph
  break.

Character classes are found with numpy over the whole text; only the sentence
rule walks the candidate full stops in Python (a few hundred per transcript).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_I64 = np.int64

# Every whitespace code point lies below U+3001 (U+3000 is the last one).
_WHITESPACE = np.array([c for c in range(0x3001) if chr(c).isspace()], dtype=np.uint32)
_LINE_BREAKS = np.array(
    [ord(c) for c in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"], dtype=np.uint32
)
_SENTENCE_END = re.compile(r"[.!?]+[\"'\u201d\u2019\u00bb)\]]*(?=\s|\Z)")
_NEXT_WORD = re.compile(r"\S")
_ABBREVIATIONS = frozenset(
    ("mr", "mrs", "ms", "mx", "dr", "prof", "sr", "jr", "st", "vs", "etc", "approx", "cf")
)


def _code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")


def _non_space(points: np.ndarray) -> np.ndarray:
    return ~np.isin(points, _WHITESPACE)


def word_bounds(text: str) -> tuple[np.ndarray, np.ndarray]:
    """``(starts, ends)`` of the words of ``text``."""
    solid = _non_space(_code_points(text)).astype(np.int8)
    edges = np.diff(solid, prepend=np.int8(0), append=np.int8(0))
    return np.flatnonzero(edges == 1).astype(_I64), np.flatnonzero(edges == -1).astype(_I64)


def _trimmed_pieces(cuts: np.ndarray, solid_at: np.ndarray, length: int):
    """Cut ``[0, length)`` at ``cuts`` and trim whitespace off each piece.

    ``solid_at`` lists the offsets of non-whitespace characters; pieces made only
    of whitespace disappear.
    """
    edges = np.unique(np.concatenate(([0], cuts, [length])).astype(_I64))
    first = np.searchsorted(solid_at, edges[:-1], side="left")
    last = np.searchsorted(solid_at, edges[1:], side="left") - 1
    keep = first <= last
    return solid_at[first[keep]], solid_at[last[keep]] + 1


def paragraph_bounds(text: str) -> tuple[np.ndarray, np.ndarray]:
    """``(starts, ends)`` of the paragraphs (non-blank lines) of ``text``."""
    points = _code_points(text)
    breaks = np.flatnonzero(np.isin(points, _LINE_BREAKS))
    return _trimmed_pieces(breaks, np.flatnonzero(_non_space(points)), len(text))


def _sentence_cuts(text: str) -> list[int]:
    cuts = []
    for match in _SENTENCE_END.finditer(text):
        after = _NEXT_WORD.search(text, match.end())
        if after is not None and after.group().islower():
            continue
        if match.group() == ".":
            word_start = match.start()
            while word_start > 0 and text[word_start - 1].isalpha():
                word_start -= 1
            word = text[word_start : match.start()]
            if len(word) == 1 or word.lower() in _ABBREVIATIONS:
                continue
        cuts.append(match.end())
    return cuts


def sentence_bounds(text: str) -> tuple[np.ndarray, np.ndarray]:
    """``(starts, ends)`` of the sentences of ``text``."""
    points = _code_points(text)
    breaks = np.flatnonzero(np.isin(points, _LINE_BREAKS))
    cuts = np.concatenate((breaks, np.asarray(_sentence_cuts(text), dtype=_I64)))
    return _trimmed_pieces(cuts, np.flatnonzero(_non_space(points)), len(text))


SPLITTERS = {"word": word_bounds, "sentence": sentence_bounds, "paragraph": paragraph_bounds}


@dataclass(frozen=True, slots=True)
class CorpusUnits:
    """Units of many documents stored back to back.

    The units of document ``d`` are ``start[first[d]:first[d + 1]]`` (and the same
    slice of ``end``), in text order.
    """

    first: np.ndarray
    start: np.ndarray
    end: np.ndarray

    @property
    def counts(self) -> np.ndarray:
        return np.diff(self.first)


def corpus_units(texts: Sequence[str], unit: str) -> CorpusUnits:
    """Split every text into ``unit`` ("word", "sentence" or "paragraph")."""
    split = SPLITTERS[unit]
    bounds = [split(text) for text in texts]
    counts = np.array([b[0].shape[0] for b in bounds], dtype=_I64)
    first = np.concatenate(([0], np.cumsum(counts))).astype(_I64)
    if not bounds:
        return CorpusUnits(first, np.zeros(0, _I64), np.zeros(0, _I64))
    start = np.concatenate([b[0] for b in bounds]).astype(_I64, copy=False)
    end = np.concatenate([b[1] for b in bounds]).astype(_I64, copy=False)
    return CorpusUnits(first, start, end)
