"""LoCoMo conversations as memwise sessions, and their questions with the evidence texts.

The data (CC BY-NC 4.0) is never part of memwise: it is read from a path the user gives (see
bench/README.md for where to get it). Loading follows issue 13: each LoCoMo session becomes one
session "{sample_id}-s{n}" owned by user_id = sample_id; speaker_a's turns are user prompts,
speaker_b's assistant answers, each stamped with its session's date; all through the public
storage API.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench.common import REPO, Unavailable

RELATIVE_PATH = Path("..", "shared", "data", "locomo", "locomo-dev.json")  # beside the repository
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}
_EVIDENCE = re.compile(r"D(\d+):(\d+)")
_SESSION = re.compile(r"session_(\d+)$")


@dataclass(frozen=True, slots=True)
class Question:
    sample_id: str
    text: str
    category: int
    evidence: tuple[str, ...]  # the rendered texts of its evidence turns


@dataclass(frozen=True, slots=True)
class Conversation:
    sample_id: str
    sessions: list[tuple[str, datetime, list[dict[str, Any]]]]  # (session id, date, turns)
    speaker_a: str
    questions: list[Question]
    unresolved: int  # questions of categories 1-4 with an evidence id that names no turn (those without any are left out)


def read(path: str | Path | None) -> list[dict[str, Any]]:
    """The raw LoCoMo JSON (a list of conversations); Unavailable when the file is missing."""
    file = Path(path) if path else default_path()
    if not file.is_file():
        raise Unavailable(
            f"LoCoMo data not found at {file.resolve()}; pass --locomo PATH to data/locomo10.json "
            "of the snap-research/LoCoMo repository (CC BY-NC 4.0, not shipped with memwise)"
        )
    data = json.loads(file.read_text())
    if not isinstance(data, list):
        raise Unavailable(f"{file}: expected a list of LoCoMo conversations")
    return data


def default_path() -> Path:
    """`../shared/data/locomo/locomo-dev.json` from the repository; from a git worktree, from
    the main checkout it belongs to."""
    path = REPO / RELATIVE_PATH
    git = REPO / ".git"
    if not path.exists() and git.is_file():  # a worktree: ".git" says "gitdir: <main>/.git/worktrees/<name>"
        gitdir = Path(git.read_text().partition("gitdir:")[2].strip())
        main = gitdir.parent.parent.parent if gitdir.parent.name == "worktrees" else None
        if main is not None and (main / RELATIVE_PATH).exists():
            return (main / RELATIVE_PATH).resolve()
    return path.resolve()


def turn_text(turn: dict[str, Any]) -> str:
    """A turn as stored: "{speaker}: {text}", plus " [shares {caption}]" when it shares an image."""
    text = f"{turn['speaker']}: {turn['text']}"
    caption = turn.get("blip_caption")
    return f"{text} [shares {caption}]" if caption else text


def session_date(value: str) -> datetime:
    """"1:56 pm on 8 May, 2023" -> an aware UTC datetime."""
    return datetime.strptime(value.strip(), "%I:%M %p on %d %B, %Y").replace(tzinfo=timezone.utc)


def conversation(raw: dict[str, Any]) -> Conversation:
    sample_id = raw["sample_id"]
    conv = raw["conversation"]
    numbers = sorted(int(m.group(1)) for key in conv if (m := _SESSION.match(key)) and conv[key])
    sessions = [(f"{sample_id}-s{n}", session_date(conv[f"session_{n}_date_time"]), conv[f"session_{n}"]) for n in numbers]
    texts = {turn["dia_id"]: turn_text(turn) for _, _, turns in sessions for turn in turns}
    questions, unresolved = [], 0
    for qa in raw["qa"]:
        if qa.get("category") not in CATEGORIES:
            continue
        ids = [f"D{s}:{t}" for item in qa.get("evidence", []) for s, t in _EVIDENCE.findall(item)]
        unresolved += any(i not in texts for i in ids)
        evidence = tuple(dict.fromkeys(texts[i] for i in ids if i in texts))
        if not evidence:
            continue
        questions.append(Question(sample_id, qa["question"], qa["category"], evidence))
    return Conversation(sample_id, sessions, conv["speaker_a"], questions, unresolved)


def messages(conv: Conversation, turns: list[dict[str, Any]], when: datetime) -> Iterator[Any]:
    """One session's turns as pydantic-ai messages, stamped with the session's date."""
    from pydantic_ai.messages import ModelRequest, ModelResponse, TextPart, UserPromptPart

    for turn in turns:
        text = turn_text(turn)
        if turn["speaker"] == conv.speaker_a:
            yield ModelRequest(parts=[UserPromptPart(content=text, timestamp=when)], timestamp=when)
        else:
            yield ModelResponse(parts=[TextPart(content=text)], timestamp=when)


def load(storage: Any, conv: Conversation) -> int:
    """Store one conversation; return how many messages were appended."""
    count = 0
    for session_id, when, turns in conv.sessions:
        storage.create_session(session_id, user_id=conv.sample_id)
        count += len(storage.append_messages(session_id, list(messages(conv, turns, when))))
    return count
