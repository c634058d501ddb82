"""The structure-aware splitter: a LoadedDocument into Chunks that fit a token budget.

Rules, in order:
- Structure first. Consecutive sections with the same heading path are one run (loaders emit a
  section per paragraph, page or block where they can cite it); text of different heading paths
  never shares a chunk, with one exception: *tiny* runs (at most a quarter of `chunk_tokens`)
  next to each other under the same top heading are merged while the result fits, each keeping
  its own heading path on a line of its own, so that a page of small sections ("5.1.1 Using
  Lists as Stacks", "5.1.2 Using Lists as Queues") gives useful chunks rather than fragments.
- Within a run, chunks are filled greedily with whole paragraphs; a paragraph too big for one
  chunk is cut at line ends, then sentence ends, then spaces, then (a single giant "word")
  anywhere.
- Consecutive chunks of one run overlap: a chunk starts with the last whole paragraphs (or,
  when the last one is too long, sentences, then words) of the previous one, at most
  `overlap_tokens` and at most half a chunk. The overlap gives way (oldest part first, possibly
  all of it) when the chunk's next paragraph would not fit beside it: a paragraph is not cut to
  make room for repeated text, so chunks that meet at a paragraph boundary may not overlap;
  chunks cut inside a paragraph always do when the overlap holds a word. Runs never overlap.
- `Chunk.text` is the heading path joined with " > " (cut to HEADING_MAX_CHARS), a blank line,
  then the text; without headings, just the text.

Size guarantee (with memory's estimate, `estimate_tokens`, 4 characters a token): the text after
the heading line is at most `chunk_tokens - heading` tokens, and never less than half of
`chunk_tokens`, so `Chunk.tokens <= chunk_tokens` whenever the heading line (with its blank line)
costs at most half of `chunk_tokens`, and always `Chunk.tokens <= chunk_tokens +
HEADING_SLACK_TOKENS` (50).

`Chunk.location` spans the sections the chunk draws from: "lines 12-30", "pages 3-4", "rows
2-51"; within a run cut at line ends, the lines of each piece ("lines 14-20" of a .txt
paragraph); otherwise "first to last" ("#lists to #tuples", "$.a to $.b"). Pure and deterministic.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from memwise.errors import InvalidInputError
from memwise.knowledge.document import Chunk, LoadedDocument, Section
from memwise.memory.budget import CHARS_PER_TOKEN, estimate_tokens

#: The heading line is cut to this many characters; with the blank line after it, 200 characters.
HEADING_MAX_CHARS = 198
#: The most the heading line can add over `chunk_tokens`: (198 + 2) / 4.
HEADING_SLACK_TOKENS = -(-(HEADING_MAX_CHARS + 2) // CHARS_PER_TOKEN)
#: A run is tiny, and may merge with its tiny neighbours, when it is at most 1/TINY_SHARE of a chunk.
TINY_SHARE = 4

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
#: Where a piece too big for a chunk is cut, coarsest first; each keeps what it cuts at as a separator.
_CUTS = (re.compile(r"(\n)"), re.compile(r"(?<=[.!?;:。！？])(\s+)"), re.compile(r"(\s+)"))
_LINES = re.compile(r"lines? (\d+)(?:-(\d+))?")
_NUMBERED = re.compile(r"(line|row|page|paragraph)s? (\d+)(?:-(\d+))?")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class _Piece:
    """Text that goes into a chunk whole. `sep` joins it to the piece before it in the same chunk
    (a blank line between paragraphs, the original whitespace inside one); a chunk's first piece
    drops it."""

    sep: str
    text: str
    location: str


@dataclass(frozen=True, slots=True)
class _Run:
    headings: tuple[str, ...]
    pieces: tuple[_Piece, ...]


def split(document: LoadedDocument, *, chunk_tokens: int = 400, overlap_tokens: int = 50) -> list[Chunk]:
    """The document's chunks in document order, by the rules in this module's docstring."""
    _check("chunk_tokens", chunk_tokens, 1)
    _check("overlap_tokens", overlap_tokens, 0)
    if overlap_tokens >= chunk_tokens:
        raise InvalidInputError(f"overlap_tokens ({overlap_tokens}) must be less than chunk_tokens ({chunk_tokens})")
    chunks: list[Chunk] = []
    for group in _groups(_runs(document.sections), chunk_tokens):
        chunks.extend(_pack(_render(group), chunk_tokens, overlap_tokens))
    return chunks


def _check(name: str, value: object, least: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInputError(f"{name} must be an int, got {value!r}")
    if value < least:
        raise InvalidInputError(f"{name} must be at least {least}, got {value}")


def _runs(sections: Sequence[Section]) -> list[_Run]:
    """Consecutive sections with the same heading path, as paragraphs."""
    runs: list[_Run] = []
    for section in sections:
        pieces = tuple(_Piece("\n\n", text, section.location)
                       for part in _PARAGRAPH_BREAK.split(section.text) if (text := part.strip("\n").rstrip()).strip())
        if not pieces:
            continue
        headings = tuple(h for h in (_SPACES.sub(" ", h).strip() for h in section.headings) if h)
        if runs and runs[-1].headings == headings:
            runs[-1] = _Run(headings, runs[-1].pieces + pieces)
        else:
            runs.append(_Run(headings, pieces))
    return runs


def _groups(runs: list[_Run], chunk_tokens: int) -> list[list[_Run]]:
    """Runs one by one, except tiny neighbours under the same top heading, merged while they fit."""
    tiny = chunk_tokens * CHARS_PER_TOKEN // TINY_SHARE
    groups: list[list[_Run]] = []
    for run in runs:
        last = groups[-1] if groups else None
        if (last is not None and run.headings and last[0].headings[:1] == run.headings[:1]
                and all(_length(r.pieces) <= tiny for r in (*last, run))):
            merged = _render([*last, run])
            if _length(merged.pieces) <= _room(merged.headings, chunk_tokens):
                last.append(run)
                continue
        groups.append([run])
    return groups


def _render(group: list[_Run]) -> _Run:
    """A merged group as one run under the headings its members share; each member's own
    remaining headings lead its text on a line of their own."""
    if len(group) == 1:
        return group[0]
    common = group[0].headings
    for run in group[1:]:
        n = 0
        while n < min(len(common), len(run.headings)) and common[n] == run.headings[n]:
            n += 1
        common = common[:n]
    pieces: list[_Piece] = []
    for run in group:
        own = run.headings[len(common):]
        first = run.pieces[0]
        if own:
            first = _Piece(first.sep, " > ".join(own) + "\n" + first.text, first.location)
        pieces.extend((first, *run.pieces[1:]))
    return _Run(common, tuple(pieces))


def _heading_line(headings: tuple[str, ...]) -> str:
    line = " > ".join(headings)
    return line if len(line) <= HEADING_MAX_CHARS else line[:HEADING_MAX_CHARS - 1] + "…"


def _prefix(headings: tuple[str, ...]) -> str:
    return _heading_line(headings) + "\n\n" if headings else ""


def _room(headings: tuple[str, ...], chunk_tokens: int) -> int:
    """Characters of text a chunk under `headings` may hold (see the size guarantee)."""
    budget = max(chunk_tokens - estimate_tokens(_prefix(headings)), (chunk_tokens + 1) // 2)
    return budget * CHARS_PER_TOKEN


def _pack(run: _Run, chunk_tokens: int, overlap_tokens: int) -> list[Chunk]:
    room = _room(run.headings, chunk_tokens)
    overlap = min(overlap_tokens * CHARS_PER_TOKEN, room // 2)
    units = [unit for piece in run.pieces for unit in _fit(piece, room)]
    filled: list[list[_Piece]] = []
    current: list[_Piece] = []
    length = 0
    for unit in units:
        if current and length + len(unit.sep) + len(unit.text) > room:
            filled.append(current)
            current = _tail(current, overlap)
            while current and _length(current) + len(unit.sep) + len(unit.text) > room:
                current = current[1:]  # the overlap gives way to the next piece, oldest first
            length = _length(current)
        length += (len(unit.sep) if current else 0) + len(unit.text)
        current.append(unit)
    if current:
        filled.append(current)
    prefix = _prefix(run.headings)
    chunks = []
    for pieces in filled:
        text = prefix + pieces[0].text + "".join(p.sep + p.text for p in pieces[1:])
        chunks.append(Chunk(text=text, location=_span(pieces[0].location, pieces[-1].location),
                            tokens=estimate_tokens(text)))
    return chunks


def _fit(piece: _Piece, room: int, level: int = 0) -> list[_Piece]:
    """`piece` cut (at the coarsest level that works) into pieces of at most `room` characters."""
    if len(piece.text) <= room:
        return [piece]
    if level == len(_CUTS):
        return [_Piece(piece.sep if i == 0 else "", piece.text[i:i + room], piece.location)
                for i in range(0, len(piece.text), room)]
    return [fine for part in _cut(piece, level) for fine in _fit(part, room, level + 1)]


def _cut(piece: _Piece, level: int) -> list[_Piece]:
    """`piece` cut at every place of one level (line ends, sentence ends or spaces)."""
    parts = _CUTS[level].split(piece.text)
    texts, seps = parts[0::2], [piece.sep, *parts[1::2]]
    locations = _line_locations(piece.location, len(texts)) if level == 0 else None
    out: list[_Piece] = []
    pending = ""
    for i, (sep, text) in enumerate(zip(seps, texts, strict=True)):
        pending += sep
        if text:
            out.append(_Piece(pending, text, locations[i] if locations else piece.location))
            pending = ""
    return out


def _line_locations(location: str, count: int) -> list[str] | None:
    """"line N" for each line of a piece located "lines a-b" when it has exactly those lines."""
    match = _LINES.fullmatch(location)
    if match is None:
        return None
    first = int(match.group(1))
    last = int(match.group(2) or first)
    if last - first + 1 != count:
        return None
    return [f"line {first + i}" for i in range(count)]


def _tail(pieces: list[_Piece], limit: int) -> list[_Piece]:
    """The end of `pieces`, at most `limit` characters: whole pieces, or when not even the last
    one fits, its last sentences, or words, that do."""
    if limit <= 0 or not pieces:
        return []
    kept: list[_Piece] = []  # newest first
    length = 0
    for piece in reversed(pieces):
        cost = len(piece.text) + (len(kept[-1].sep) if kept else 0)
        if length + cost > limit:
            break
        kept.append(piece)
        length += cost
    if not kept:
        for level in range(len(_CUTS)):
            parts = _cut(pieces[-1], level)
            if len(parts) > 1:
                return _tail(parts, limit)
        return []  # one giant word: no overlap
    kept.reverse()
    return kept


def _length(pieces: Sequence[_Piece]) -> int:
    return sum(len(p.sep) + len(p.text) for p in pieces) - (len(pieces[0].sep) if pieces else 0)


def _span(first: str, last: str) -> str:
    """One location for a chunk from its first and last pieces' ("lines 3-5" + "line 9": "lines 3-9")."""
    if first == last or not last:
        return first
    if not first:
        return last
    a, b = _NUMBERED.fullmatch(first), _NUMBERED.fullmatch(last)
    if a and b and a.group(1) == b.group(1):
        start, end = int(a.group(2)), int(b.group(3) or b.group(2))
        return f"{a.group(1)}s {start}-{end}" if end > start else f"{a.group(1)} {start}"
    return f"{first} to {last}"
