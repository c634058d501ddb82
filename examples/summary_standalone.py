"""Seed scenario 2 — Summary memory alone: no raw history, recall through the summary.

    python examples/summary_standalone.py   # or MEMWISE_MODEL=... python examples/summary_standalone.py
"""

from _demo_model import pick_model

from memwise import Agent, Task
from memwise.storage.memory import Memory
from memwise.storage.sqlite import SqliteStorage

MODEL = pick_model()

storage = SqliteStorage(db_file="summaries.db")

memory = Memory(
    storage=storage,
    session_id="session_001",
    full_session_memory=False,  # No raw history
    summary_memory=True,  # Summary generated after each run
    model=MODEL,
)

agent = Agent(MODEL, memory=memory)

result1 = agent.do(Task("My name is Alice and I work on project Falcon"))
result2 = agent.do(Task("What project am I working on?"))
print(result2)  # Recalls via summary

print("stored messages:", len(memory.get_messages()))  # 0: only the summary is kept
print("summary:", memory.get_session().summary)
