"""Words and index terms of a text, the way SQLite FTS5's `porter unicode61` tokenizer makes them.

The memwise-side search index (backends without native search) and the query sent to native
ones both come from here, so a question finds the same messages on every backend (up to the
details of each engine's stemmer and ranking):

- words: runs of Unicode letters and digits, lowercased, diacritics removed ("Zürich" -> "zurich");
  anything else separates words ("Caroline's" -> "caroline", "s");
- English stopwords dropped (PostgreSQL's `english` list, so both agree on what is never indexed);
- ASCII words of 3 to 64 letters stemmed with the Porter algorithm, as FTS5's `porter` does
  (`snowballstemmer`'s "porter": "painting" -> "paint").
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import snowballstemmer

_WORD = re.compile(r"[^\W_]+")
_MARKS = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")

#: PostgreSQL's english.stop (the Snowball list): words never indexed, so never searched for.
STOPWORDS = frozenset(
    """i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she
    her hers herself it its itself they them their theirs themselves what which who whom this that
    these those am is are was were be been being have has had having do does did doing a an the and
    but if or because as until while of at by for with about against between into through during
    before after above below to from up down in out on off over under again further then once here
    there when where why how all any both each few more most other some such no nor not only own same
    so than too very s t can will just don should now""".split()
)

_porter = snowballstemmer.stemmer("porter")


def words(text: str) -> list[str]:
    """Every word of `text`, lowercased and without diacritics, in order (stopwords included)."""
    if not text.isascii():
        text = _MARKS.sub("", unicodedata.normalize("NFKD", text))
    return _WORD.findall(text.lower())


def query_words(text: str) -> list[str]:
    """The words of a query worth searching for: no stopwords, no repeats, in order."""
    return list(dict.fromkeys(word for word in words(text) if word not in STOPWORDS))


def terms(text: str) -> list[str]:
    """The index terms of `text`: its words without stopwords, stemmed (repeats kept: they count)."""
    return [stem(word) for word in words(text) if word not in STOPWORDS]


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Porter stem of an ASCII word of 3 to 64 characters; other words as they are (as FTS5)."""
    if 3 <= len(word) <= 64 and word.isascii():
        stemmed: str = _porter.stemWord(word)
        return stemmed
    return word
