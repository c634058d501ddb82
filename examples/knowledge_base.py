"""Memory and a knowledge base in ONE SQLite file: the agent answers from both.

The user told the agent which project they work on (memory: the session's history); the team
handbook (a knowledge base: examples/handbook/*.md) says when each project freezes deploys. The
answer to "When does my project freeze deploys?" needs both.

    python examples/knowledge_base.py       # offline stand-in model
    MEMWISE_MODEL=anthropic/claude-sonnet-4-5 python examples/knowledge_base.py

Run it twice: the second run skips the unchanged handbook (content hashes) and the session goes on.
"""

from pathlib import Path

from _demo_model import pick_model

from memwise import Agent, KnowledgeBase, Task
from memwise.storage.memory import Memory
from memwise.storage.sqlite import SqliteStorage

MODEL = pick_model()

storage = SqliteStorage(db_file="knowledge.db")  # one file: memory and the knowledge base

kb = KnowledgeBase(
    Path(__file__).parent / "handbook",  # a folder: its .md/.txt/... files, recursively
    storage=storage,
    name="handbook",
    description="the engineering handbook",
)
print("ingested:", kb.setup())  # 2 added; a second run: 2 unchanged

memory = Memory(storage=storage, session_id="session_kb", user_id="user_123", full_session_memory=True, model=MODEL)
agent = Agent(MODEL, memory=memory)

agent.do(Task("I work on project Falcon, from the Lisbon office."))
answer = agent.do(Task("When does my project freeze deploys?", context=[kb]))  # the best passages go into the instructions
print(answer)  # Falcon (memory) freezes deploys on Thursdays from 14:00 (the handbook)

for chunk in kb.query("deploy freeze", limit=2):  # what the agent was given to read, ranked
    print(f"  [{chunk.citation}] {chunk.score:.2f}")
print("documents:", sorted((d.name, d.status) for d in kb.documents()))
print("knowledge bases:", storage.list_knowledge_bases(), "| stored messages:", len(memory.get_messages()))
