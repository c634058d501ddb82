"""Reading a user's message word by word, for the evidence check of profile traits.

Words are compared in a normal form (lower case, punctuation dropped, contractions spelled out:
"I'm" -> "i am", "don't" -> "do not") and by a light stem ("developer", "development" ->
"develop"), and each word knows its sentence, its comma-separated part and whether that part is
a question. Deterministic and dependency-free: a plain-English heuristic, not a parser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(
    r"(?P<word>[^\W_][\w+#]*(?:['’][^\W_]+)?)"  # words, C++ and C#, contractions
    r"|(?P<end>[!?;\n]|\.(?=\s|$))"  # sentence ends (a dot inside "node.js" is not one)
    r"|(?P<part>[,:—]|\s[-–]\s)"  # parts of a sentence
)
_SHORT = {"m": ["am"], "re": ["are"], "ve": ["have"], "ll": ["will"], "d": ["would"], "s": []}
_NOT_STEMS = {"ca": "can", "wo": "will", "sha": "shall", "ai": "is"}
_GLUED = {
    "im": ["i", "am"], "ive": ["i", "have"], "dont": ["do", "not"], "doesnt": ["does", "not"],
    "didnt": ["did", "not"], "cant": ["can", "not"], "isnt": ["is", "not"], "arent": ["are", "not"],
    "wasnt": ["was", "not"], "havent": ["have", "not"], "wouldnt": ["would", "not"],
}
_SUFFIXES = ("ations", "ation", "ments", "ment", "ings", "ing", "ers", "er", "ies", "ied", "ed", "es", "ly", "s", "e")
#: A question part starts with one of these ("I'm vegetarian, any ideas?": only the second part).
INTERROGATIVES = frozenset(
    "what which who whom whose where when why how do does did is are was were am can could should "
    "would will shall may might have has had any".split()
)


def normal_words(raw: str) -> list[str]:
    """One written word in normal form: lower case, a contraction spelled out."""
    word = raw.lower().replace("’", "'")
    if word in _GLUED:
        return _GLUED[word]
    head, _, tail = word.partition("'")
    if not tail:
        return [head]
    if tail == "t" and head.endswith("n"):
        base = head[:-1]
        return [_NOT_STEMS.get(base, base), "not"]
    return [head, *_SHORT.get(tail, [tail])]


def stem(word: str) -> str:
    """A light suffix-stripping stem, so a word matches its other forms (hikes, hiking -> hik)."""
    while True:
        for suffix in _SUFFIXES:
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                word = word[: -len(suffix)] + ("y" if suffix in ("ies", "ied") else "")
                break
        else:
            break
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiouls":
        word = word[:-1]  # running -> runn -> run
    return word


def words_of(text: str) -> list[str]:
    """The normal-form words of `text`, punctuation dropped."""
    return [w for m in _TOKEN.finditer(text) if m.lastgroup == "word" for w in normal_words(m.group())]


@dataclass(frozen=True, slots=True)
class Word:
    norm: str
    stem: str
    start: int  # where it was written in the message
    end: int
    sentence: int
    part: int  # comma-separated part, numbered across the message
    question: bool = False


@dataclass(frozen=True, slots=True)
class Message:
    """One message read into words."""

    text: str
    words: tuple[Word, ...]

    @classmethod
    def read(cls, text: str) -> Message:
        words: list[Word] = []
        sentence = part = 0
        first_of_sentence = 0  # index into `words` where the current sentence begins
        for match in _TOKEN.finditer(text):
            kind = match.lastgroup
            if kind == "word":
                for norm in normal_words(match.group()):
                    words.append(Word(norm, stem(norm), match.start(), match.end(), sentence, part))
            elif kind == "part":
                part += 1
            else:  # a sentence ends
                if match.group() == "?":
                    _mark_question(words, first_of_sentence)
                sentence += 1
                part += 1
                first_of_sentence = len(words)
        return cls(text, tuple(words))

    def find(self, quote: str) -> list[tuple[int, int]]:
        """Where `quote` occurs, as (first, last + 1) word indices, up to case, punctuation and
        contractions."""
        wanted = words_of(quote)
        norms = [w.norm for w in self.words]
        n = len(wanted)
        if not n:
            return []
        return [(i, i + n) for i in range(len(norms) - n + 1) if norms[i : i + n] == wanted]

    def sentences(self) -> list[tuple[int, int]]:
        """Each sentence as (first, last + 1) word indices."""
        bounds: dict[int, list[int]] = {}
        for i, word in enumerate(self.words):
            bounds.setdefault(word.sentence, [i, i])[1] = i
        return [(first, last + 1) for first, last in bounds.values()]

    def span(self, first: int, last: int) -> str:
        """The text as written from word `first` to word `last - 1`."""
        return self.text[self.words[first].start : self.words[last - 1].end]


def _mark_question(words: list[Word], first: int) -> None:
    """Mark the question parts of the sentence words[first:]: all of it when it opens with a
    question word or no part does, else the parts from the first one that opens with one."""
    if first >= len(words):
        return
    starts: dict[int, str] = {}
    for word in words[first:]:
        starts.setdefault(word.part, word.norm)
    opening = [p for p, norm in starts.items() if norm in INTERROGATIVES]
    since = words[first].part if not opening or words[first].norm in INTERROGATIVES else opening[0]
    for i in range(first, len(words)):
        if words[i].part >= since:
            w = words[i]
            words[i] = Word(w.norm, w.stem, w.start, w.end, w.sentence, w.part, True)
