"""The evidence check: a profile value is kept only when the user's own words support it."""

from __future__ import annotations

import pytest

from memwise.memory.evidence import UserWords, ground

DEMO = "My name is Alice and I'm a Python developer"


def kept(text: str, value, quote: str, field: str = "trait", known=None):
    found = ground({field: (value, [quote])}, UserWords.of([text]), {field: known} if known is not None else None)
    return found[field].value if field in found else None


@pytest.mark.parametrize(
    ("text", "value", "quote"),
    [
        (DEMO, "Alice", "My name is Alice"),
        (DEMO, "Python developer", "I'm a Python developer"),
        (DEMO, "Python", "i am a python developer"),  # case, punctuation, contractions
        ("Please keep your answers short, I read on my phone.", "short answers", "keep your answers short"),
        ("My wife and I love hiking.", "hiking", "My wife and I love hiking"),
        ("I'm vegetarian, any dinner ideas?", "vegetarian", "I'm vegetarian"),
        ("I don't like Java at all.", "dislikes Java", "I don't like Java"),
        ("I tried VS Code and didn't like it. I use Emacs.", "dislikes VS Code", "I tried VS Code and didn't like it"),
        ("I tried VS Code and didn't like it. I use Emacs.", "Emacs", "I use Emacs"),
        ("I love Python but hate meetings.", "Python", "I love Python"),
        ("Spaces, four of them.", "four spaces", "Spaces, four of them"),
        ("I'm not from London, I live in Leeds.", "Leeds", "I live in Leeds"),
        ("I write C++ and use Node.js daily.", "Node.js", "use Node.js daily"),
    ],
)
def test_the_users_own_statements_are_kept(text, value, quote) -> None:
    assert kept(text, value, quote) == value


@pytest.mark.parametrize(
    ("text", "value", "quote", "why"),
    [
        (DEMO, "career growth", DEMO, "nothing of it in the quote"),
        (DEMO, "technical skills development", DEMO, "one word of three is not support"),
        (DEMO, "efficient, organized, detail-oriented", "I like to be efficient", "quote not in the user's text"),
        (DEMO, "Rust", "I'm a Rust developer", "quote not in the user's text"),
        ("What does my wife like? She loves gardening.", "gardening", "She loves gardening", "someone else"),
        ("My friend Tom is a great Haskell programmer.", "Haskell", "great Haskell programmer", "someone else"),
        ("My manager insists on Jira, but I prefer Linear.", "Jira", "insists on Jira", "someone else"),
        ("Is Rust faster than C++?", "Rust", "Is Rust faster", "a question"),
        ("Which language should I pick for a CLI tool?", "CLI tool", "a CLI tool", "a question"),
        ("If I were a manager, I'd want weekly reports.", "manager", "If I were a manager", "a hypothetical"),
        ("If I were a manager, I'd want weekly reports.", "weekly reports", "I'd want weekly reports", "a hypothetical"),
        ("Suppose I moved to Japan, would I need a visa?", "Japan", "moved to Japan", "a hypothetical"),
        ("I don't like Java at all.", "Java", "I don't like Java", "a negation"),
        ("I'm not from London, I live in Leeds.", "London", "I'm not from London", "a negation"),
        ("I stopped using Windows years ago.", "Windows", "using Windows", "a negation"),
        ("I love Python.", "dislikes Python", "I love Python", "the opposite"),
    ],
)
def test_unsupported_values_are_dropped(text, value, quote, why) -> None:
    assert kept(text, value, quote) is None, why


def test_evidence_is_the_users_words_as_written() -> None:
    found = ground({"expertise": (["Python", "Kubernetes"], ["i am a python DEVELOPER", "I run Kubernetes"])}, UserWords.of([DEMO]))
    assert found["expertise"].value == ["Python"]  # the list keeps its supported items only
    assert found["expertise"].evidence == ["I'm a Python developer"]


def test_values_of_other_types() -> None:
    user = UserWords.of(["I'm vegetarian and 34 years old. My sister has a cat. I'm not a smoker."])
    found = ground(
        {
            "vegetarian": (True, ["I'm vegetarian"]),
            "smoker": (True, ["I'm not a smoker"]),  # the user said the opposite
            "age": (34, ["34 years old"]),
            "height": (180, ["34 years old"]),
            "pets": (["cat"], ["My sister has a cat"]),
            "diet": ({"kind": "vegetarian", "since": 2019}, ["I'm vegetarian"]),  # 2019 never said
        },
        user,
    )
    assert {k: v.value for k, v in found.items()} == {"vegetarian": True, "age": 34}
    assert ground({"smoker": (False, ["I'm not a smoker"])}, user)["smoker"].value is False


def test_known_values_need_no_new_evidence() -> None:
    """A value already in the profile passed the check when stored (replace mode may repeat it)."""
    assert kept("Nothing new today.", "Alice", "", field="name", known="Alice") == "Alice"
    assert kept("Nothing new today.", ["Python", "Go"], "", field="expertise", known=["Python"]) == ["Python"]
    assert kept("Nothing new today.", "Bob", "", field="name", known="Alice") is None


def test_one_sentence_states_a_value_once() -> None:
    """The same value from the same words under a later field is a model smearing one statement
    over several traits ("interests: Python" from "I'm a Python developer")."""
    said = {"occupation": ("Python developer", [DEMO]), "expertise": (["Python"], [DEMO]), "interests": (["Python"], [DEMO])}
    assert list(ground(said, UserWords.of([DEMO]))) == ["occupation", "expertise"]
    both = UserWords.of([DEMO + ". I love Python."])
    found = ground({"expertise": (["Python"], [DEMO]), "interests": (["Python"], ["I love Python"])}, both)
    assert found["interests"].evidence == ["I love Python"]
