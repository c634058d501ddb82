"""`memwise chat` prints the answer while memory's update still runs, says so quietly in its
prompt, and waits for the update before leaving."""

from __future__ import annotations

from memwise import Agent, Memory
from memwise.cli.chat import Chat, run_turn
from memwise.storage.in_memory import InMemoryStorage
from tests.memory.fakes import Gate, ReadingModel

PROMPT = "[bold cyan]you>[/] "


def test_chat_answers_first_and_saves_memory_before_leaving(capsys) -> None:
    gate, store = Gate(), InMemoryStorage()
    memory = Memory(store, session_id="s1", user_id="alice", model=gate.model,
                    full_session_memory=True, summary_memory=True, user_analysis_memory=True)
    agent = Agent(ReadingModel().model, memory=memory)
    chat = Chat(agent, store, "s1", "alice")
    assert chat.prompt() == PROMPT

    assert run_turn(agent, "My name is Alice and I work on project Falcon", chat.console)
    assert capsys.readouterr().out == "I know nothing yet.\n"  # printed while memory's update is held
    assert gate.entered.wait(30)
    assert chat.prompt() == "[dim]memory updating… [/]" + PROMPT

    gate.opened.set()
    chat.wait_for_memory("saving memory…")  # what leaving the chat does
    assert chat.prompt() == PROMPT
    assert "project=Falcon" in store.get_session("s1").summary and store.get_profile("alice").data["name"] == "Alice"
