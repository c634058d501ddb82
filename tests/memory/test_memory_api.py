"""Memory's public methods (sync and `_async` twins), validation and session ownership."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from memwise import Agent, Memory
from memwise.errors import InvalidInputError
from memwise.memory.errors import SessionAccessError


def test_methods_and_async_twins(storage, reader) -> None:
    memory = Memory(storage, session_id="s1", user_id="u1", full_session_memory=True, user_analysis_memory=True)
    agent = Agent(reader.model, memory=memory)
    agent.do("My name is Alice")
    agent.do("I like chess")

    assert len(memory.get_messages()) == 4
    assert len(memory.get_messages(last_turns=1)) == 2
    assert memory.get_session().session_id == "s1"
    assert [s.session_id for s in memory.list_sessions()] == ["s1"]
    assert memory.find_session("s1").user_id == "u1"
    assert memory.set_metadata({"a": 1}) == {"a": 1}
    assert memory.set_metadata({"b": 2}) == {"a": 1, "b": 2}
    assert memory.set_metadata({"c": 3}, replace=True) == {"c": 3}
    assert memory.get_metadata() == {"c": 3}
    assert memory.get_user_profile().data["name"] == "Alice"

    import asyncio

    async def twins() -> None:
        assert len(await memory.get_messages_async()) == 4
        assert (await memory.get_session_async()).summary is None
        assert await memory.get_metadata_async() == {"c": 3}
        assert [s.session_id for s in await memory.list_sessions_async("u1")] == ["s1"]
        assert (await memory.get_user_profile_async()).data["interests"] == ["chess"]

    asyncio.run(twins())
    assert memory.forget_user() == {"sessions": 1, "messages": 4, "runs": 2, "profiles": 1}
    assert memory.get_messages() == [] and memory.get_user_profile() is None


def test_delete_session(storage, reader) -> None:
    memory = Memory(storage, session_id="s1", full_session_memory=True)
    Agent(reader.model, memory=memory).do("hello")
    assert memory.delete_session() is True
    assert memory.get_session() is None and memory.get_messages() == []


def test_another_users_session_is_never_read_or_written(storage, reader) -> None:
    alice = Memory(storage, session_id="s1", user_id="alice", full_session_memory=True)
    Agent(reader.model, memory=alice).do("My name is Alice")
    mallory = Memory(storage, session_id="s1", user_id="mallory", full_session_memory=True)
    with pytest.raises(SessionAccessError):
        Agent(reader.model, memory=mallory).do("what did alice say?")
    with pytest.raises(SessionAccessError):
        mallory.get_messages()
    with pytest.raises(SessionAccessError):
        mallory.delete_session("s1")
    assert all("alice" not in c.sent_text.lower() for c in reader.of("answer")[1:])
    assert len(storage.read_messages("s1")) == 2


class Schema(BaseModel):
    team: str | None = None


class WithEvidence(BaseModel):
    evidence: str | None = None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"storage": "not a storage"}, "storage must be a memwise Storage"),
        ({"full_session_memory": "yes"}, "full_session_memory must be True or False"),
        ({"num_last_messages": 0}, "num_last_messages must be a positive integer"),
        ({"user_memory_mode": "merge"}, "user_memory_mode must be 'update' or 'replace'"),
        ({"user_analysis_memory": True}, "need a user_id"),
        ({"user_profile_schema": dict, "user_id": "u"}, "user_profile_schema must be a pydantic BaseModel"),
        ({"user_profile_schema": Schema, "dynamic_user_profile": True}, "either user_profile_schema or dynamic"),
        ({"user_profile_schema": WithEvidence, "user_id": "u"}, "cannot have a field named 'evidence'"),
        ({"session_id": ""}, "session_id must be a non-empty string"),
        ({"summary_max_tokens": 3}, "summary_max_tokens must be an integer >= 16"),
        ({"profile_input_tokens": "many"}, "profile_input_tokens must be an integer >= 16"),
    ],
)
def test_bad_configuration_fails_with_a_clear_message(storage, kwargs, message) -> None:
    kwargs.setdefault("storage", storage)
    with pytest.raises(InvalidInputError, match=message):
        Memory(**kwargs)


def test_session_id_is_generated_when_omitted(storage) -> None:
    a, b = Memory(storage), Memory(storage)
    assert a.session_id and b.session_id and a.session_id != b.session_id
