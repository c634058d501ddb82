"""Traits only from the user's own words: the check every extracted profile value must pass.

The extraction model returns its `evidence` (quotes of the user's words) with the values. A value
is kept only when the user's messages of the run support it: a quote that occurs in them (up to
case, punctuation and contractions) is checked first; a quote that does not (the assistant's
words, a paraphrase) is discarded, and the user's own sentences are searched instead. What is
stored as evidence is always the user's text. A sentence supports a value when:

- the value's content words are in the sentence (one in three may be missing: a short
  normalisation), one of them inside the quote; so "career growth" is not supported by
  "I'm a Python developer";
- the sentence says it about the user: the nearest person before the value (else after it) is
  "I / my / we", not "my wife", "she" or "they";
- it is a statement, not a question ("Is Rust faster?") or a hypothetical ("If I were a manager");
- its polarity matches: "I don't like Java" supports "dislikes Java", never "Java";
- it was not used for the same value under an earlier field (one statement, one trait).

Everything here is deterministic; a model that invents cannot get a value past it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from memwise.memory.wording import Message, Word, stem, words_of

FIRST_PERSON = frozenset("i me my mine myself we us our ours ourselves".split())
OTHERS = frozenset("he she they his her hers their theirs someone somebody everyone everybody people anyone".split())
RELATIONS = frozenset(
    "wife husband partner girlfriend boyfriend fiance fiancee friend friends boss manager managers colleague "
    "colleagues coworker coworkers teammate teammates brother brothers sister sisters mother father mom mum "
    "dad parents parent son daughter kids kid children child family cousin uncle aunt grandma grandmother "
    "grandpa grandfather neighbor neighbour roommate client clients customer customers student students "
    "teacher mentor cofounder dog cat".split()
)
NEGATIONS = frozenset(
    "not no never nor neither without non anti dislike dislikes disliked hate hates hated avoid avoids "
    "avoided stopped quit none nothing".split()
)
BOUNDARIES = frozenset("but although though however whereas while yet except".split())
HYPOTHETICAL = frozenset("suppose supposing imagine imagining pretend hypothetically hypothetical theoretically".split())
#: Words that carry no trait of their own ("prefers concise answers" -> concise, answers).
FILLER = frozenset(
    "a an the and or of to in on at for with by from as is am are was were be been being it its this that "
    "these those you your do does did have has had will would can could should may might must so very "
    "really just also about into more most some any all than then too up out only such other user users "
    "prefer prefers preferred preference preferences like likes liked love loves enjoy enjoys interested "
    "interest interests want wants use uses using used work works working know knows good familiar "
    "experience experienced".split()
) | FIRST_PERSON | NEGATIONS
_FILLER_STEMS = frozenset(stem(w) for w in FILLER)


class Evidenced(NamedTuple):
    """A value that passed the check, with the user's words that support it."""

    value: Any
    evidence: list[str]


@dataclass(frozen=True, slots=True)
class UserWords:
    """The user's messages of one run, read once."""

    messages: tuple[Message, ...]

    @classmethod
    def of(cls, texts: Iterable[str]) -> UserWords:
        return cls(tuple(Message.read(t) for t in texts if t and t.strip()))

    def support(self, quotes: Sequence[str], text: str, *, negative: bool) -> str | None:
        """The user's words (as written) that support `text`: the first quote that occurs in the
        user's messages and supports it, else the first sentence of the user's that does (a quote
        of the assistant, or a misquote, is discarded, never trusted); None when nothing does."""
        wanted = content_stems(text)
        if not wanted:
            return None
        for quote in quotes:
            if not isinstance(quote, str):
                continue
            for message in self.messages:
                for first, last in message.find(quote):
                    if _supports(message.words, first, last, wanted, negative):
                        return message.span(first, last)
        for message in self.messages:
            for first, last in message.sentences():
                if _supports(message.words, first, last, wanted, negative):
                    return message.span(first, last)
        return None


def content_stems(text: str) -> frozenset[str]:
    return frozenset(s for w in words_of(text) if w not in FILLER and (s := stem(w)) not in _FILLER_STEMS)


def is_negative(text: str) -> bool:
    return any(w in NEGATIONS for w in words_of(text))


def _supports(words: Sequence[Word], first: int, last: int, wanted: frozenset[str], negative: bool) -> bool:
    sentences = {w.sentence for w in words[first:last]}
    around = [i for i, w in enumerate(words) if w.sentence in sentences]
    found = {words[i].stem for i in around} & wanted
    inside = [i for i in range(first, last) if words[i].stem in wanted]
    if not inside or len(wanted) - len(found) > len(wanted) // 3:
        return False
    at = inside[0]
    sentence = [i for i in around if words[i].sentence == words[at].sentence]
    value = {i for i in sentence if words[i].stem in wanted}
    if words[at].question or _hypothetical(words, sentence, at):
        return False
    who, where = _speaker(words, sentence, at, value)
    return who != "other" and _negated(words, sentence, at, where, value) == negative


def _speaker(words: Sequence[Word], sentence: list[int], at: int, value: set[int]) -> tuple[str, int | None]:
    """Who the sentence is about at word `at`: ("user" | "other", where that person is named),
    by the nearest person before it, else after it; ("user", None) when it names nobody."""
    marks: list[tuple[int, str]] = []
    for n, i in enumerate(sentence):
        norm = words[i].norm
        if i in value:
            continue
        if norm in ("my", "our"):
            relation = next((j for j in sentence[n + 1 : n + 4] if words[j].norm in RELATIONS), None)
            marks.append((relation, "other") if relation is not None else (i, "user"))
        elif norm in FIRST_PERSON:
            marks.append((i, "user"))
        elif norm in OTHERS:
            marks.append((i, "other"))
    before = [m for m in marks if m[0] <= at]
    after = [m for m in marks if m[0] > at]
    if before:
        return before[-1][1], before[-1][0]
    if after:
        return after[0][1], after[0][0]
    return "user", None


def _clause(words: Sequence[Word], sentence: list[int], at: int) -> list[int]:
    """The words around `at` in its part of the sentence, between contrast words ("but", "while")."""
    part = [i for i in sentence if words[i].part == words[at].part]
    start = max((n for n, i in enumerate(part) if i <= at and words[i].norm in BOUNDARIES), default=0)
    end = min((n for n, i in enumerate(part) if i > at and words[i].norm in BOUNDARIES), default=len(part))
    return part[start:end]


def _negated(words: Sequence[Word], sentence: list[int], at: int, speaker: int | None, value: set[int]) -> bool:
    """Whether the clause of `at` is negative ("I don't like Java", "I tried it and didn't like it"),
    counting from the person it is about when that person comes first."""
    clause = _clause(words, sentence, at)
    if speaker is not None and speaker < at:
        clause = [i for i in clause if i > speaker]
    return any(words[i].norm in NEGATIONS for i in clause if i not in value)


def _hypothetical(words: Sequence[Word], sentence: list[int], at: int) -> bool:
    """A supposition before `at` in the sentence: "if I ...", "suppose", "imagine", "what if"."""
    before = [words[i].norm for i in sentence if i < at]
    pairs = set(zip(before, before[1:], strict=False))
    return (
        any(w in HYPOTHETICAL for w in before)
        or any(a == "if" and b in FIRST_PERSON for a, b in pairs)
        or ("let", "say") in pairs
    )


# ---------------------------------------------------------------- values of any shape
def ground(
    found: Mapping[str, tuple[Any, Sequence[str]]], user: UserWords, known: Mapping[str, Any] | None = None
) -> dict[str, Evidenced]:
    """Keep of `found` (field -> (value, quotes)) what the user's words support. A list keeps its
    supported items; a value already in the profile (`known`) passes (it was checked when stored).
    One sentence states a value once: the same value from the same words under a later field
    ("I'm a Python developer" -> expertise Python, and interests Python) is dropped there."""
    known = known or {}
    stated: set[tuple[str, str]] = set()
    kept: dict[str, Evidenced] = {}
    for field, (value, quotes) in found.items():
        checked = _ground_value(field, value, list(quotes or []), user, known.get(field), stated)
        if checked is not None:
            kept[field] = checked
    return kept


def _ground_value(
    field: str, value: Any, quotes: list[str], user: UserWords, known: Any, stated: set[tuple[str, str]]
) -> Evidenced | None:
    negative = is_negative(field.replace("_", " "))
    old = known if isinstance(known, list) else [] if known is None else [known]
    items, evidence = [], []
    for item in value if isinstance(value, list) else [value]:
        if _same_as_any(item, old):
            items.append(item)
            continue
        quote = _leaf_support(field, item, quotes, user, negative)
        said = (" ".join(words_of(str(item))), quote or "")
        if quote is None or (isinstance(item, (str, int, float)) and not isinstance(item, bool) and said in stated):
            continue
        stated.add(said)
        items.append(item)
        evidence.append(quote)
    if not items:
        return None
    return Evidenced(items if isinstance(value, list) else items[0], _unique(evidence))


def _leaf_support(field: str, value: Any, quotes: list[str], user: UserWords, negative: bool) -> str | None:
    """The quote supporting a value; a dict (nested model) needs every leaf supported."""
    if isinstance(value, dict):
        supports = [_leaf_support(k, v, quotes, user, negative) for k, v in value.items() if v is not None]
        found = [quote for quote in supports if quote is not None]
        return None if not supports or len(found) < len(supports) else " / ".join(_unique(found))
    if isinstance(value, bool):  # "is_vegetarian": the field name is what the user must have said
        return user.support(quotes, field.replace("_", " "), negative=negative != (not value))
    if isinstance(value, (int, float, str)):
        text = str(value)
        return user.support(quotes, text, negative=negative or is_negative(text))
    return None


def _same_as_any(value: Any, values: Sequence[Any]) -> bool:
    key = " ".join(words_of(str(value)))
    return bool(key) and any(" ".join(words_of(str(v))) == key for v in values)


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
