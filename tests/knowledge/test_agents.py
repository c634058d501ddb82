"""Agents using knowledge bases: `Task(context=[kb])` puts the best chunks, cited, into the run's
instructions within the budget; `tools=[kb]` gives the model `search_<name>`; several knowledge
bases and a Memory share one SQLite file."""

from __future__ import annotations

from pydantic_ai.messages import ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from memwise import Agent, KnowledgeBase, Memory, Task
from memwise.storage import SqliteStorage


class Seen:
    """A FunctionModel that calls `search` tools with `queries` first, records what it is given
    and answers with the tool results it got."""

    def __init__(self, queries: dict[str, str] | None = None) -> None:
        self.queries = queries or {}
        self.calls: list[tuple[str | None, list[str]]] = []
        self.model = FunctionModel(self.reply)

    def reply(self, messages, info: AgentInfo) -> ModelResponse:
        self.calls.append((info.instructions, [tool.name for tool in info.function_tools]))
        returned = [p.content for m in messages for p in m.parts if isinstance(p, ToolReturnPart)]
        asked = {p.tool_name for m in messages for p in m.parts if isinstance(p, ToolCallPart)}
        todo = [name for name in self.queries if name not in asked and name in self.calls[-1][1]]
        if todo:
            return ModelResponse(parts=[ToolCallPart(todo[0], {"query": self.queries[todo[0]]})])
        return ModelResponse(parts=[TextPart(" | ".join(returned) or "no tools")])


def stores(tmp_path):
    storage = SqliteStorage(db_file=str(tmp_path / "one.db"))
    office = KnowledgeBase(["The office wifi password is hunter2.", "Parking is on level 3 of the garage."],
                           storage=storage, name="office", description="facts about the office")
    recipes = KnowledgeBase(["Pancakes need flour, milk and two eggs.", "Bread rises for an hour before baking."],
                            storage=storage, name="recipes")
    return storage, office, recipes


def test_task_context_puts_cited_chunks_into_the_instructions(tmp_path):
    storage, office, recipes = stores(tmp_path)
    seen = Seen()
    memory = Memory(storage=storage, session_id="s1", user_id="u1", full_session_memory=True)
    Agent(seen.model, memory=memory).do(Task("What is the wifi password?", context=[office, recipes, "Be short."]))
    instructions = seen.calls[0][0]
    assert "[The office wifi password is hunter2.]" in instructions and "Be short." in instructions
    assert 'knowledge base "office" (facts about the office)' in instructions
    assert "Parking" not in instructions or instructions.index("wifi") < instructions.index("Parking")
    assert "Pancakes" not in instructions  # nothing in `recipes` matches the task
    stored = [m.message.parts[0].content for m in storage.read_messages("s1") if m.turn_start]
    assert stored == ["What is the wifi password?"]  # the chunks are instructions, never the stored prompt


def test_context_stays_within_the_budget(tmp_path):
    storage = SqliteStorage(db_file=str(tmp_path / "one.db"))
    facts = [f"Fact {i}: the garden has {i} roses and a bench." for i in range(40)]
    kb = KnowledgeBase(facts, storage=storage, name="garden", context_tokens=60, context_chunks=20)
    seen = Seen()
    Agent(seen.model).do(Task("roses in the garden", context=[kb]))
    block = seen.calls[0][0]
    assert 1 <= block.count("\n[Fact ") < 20 and len(block) <= 60 * 4  # some chunks fit, not all


def test_tools_search_each_knowledge_base_by_name(tmp_path):
    storage, office, recipes = stores(tmp_path)
    seen = Seen({"search_office": "where to park", "search_recipes": "pancakes"})
    answer = Agent(seen.model, tools=[office]).do(Task("Park and cook", tools=[recipes]))
    assert sorted(seen.calls[0][1]) == ["search_office", "search_recipes"]
    assert "level 3" in answer and "two eggs" in answer


def test_memory_and_knowledge_share_one_file_and_both_reach_the_model(tmp_path):
    storage, office, _ = stores(tmp_path)
    memory = Memory(storage=storage, session_id="s1", user_id="u1", full_session_memory=True)
    seen = Seen()
    agent = Agent(seen.model, memory=memory)
    agent.do("I always bike to work.")
    agent.do(Task("Where do I leave my bike when I park?", context=[office]))
    assert "level 3" in seen.calls[-1][0]
    reopened = SqliteStorage(db_file=str(tmp_path / "one.db"))
    assert len(reopened.read_messages("s1")) == 4
    assert {d.name for d in reopened.list_documents("office")} == {
        "The office wifi password is hunter2.", "Parking is on level 3 of the garage."}
