"""Seed scenario 3 — Summary combined with conversation memory: the last 10 user turns verbatim,
the summary for everything older.

    python examples/summary_with_history.py  # or MEMWISE_MODEL=... python examples/summary_with_history.py
"""

from _demo_model import pick_model

from memwise import Agent, Task
from memwise.storage.memory import Memory
from memwise.storage.sqlite import SqliteStorage

MODEL = pick_model()

storage = SqliteStorage(db_file="hybrid.db")

memory = Memory(
    storage=storage,
    session_id="session_001",
    full_session_memory=True,
    summary_memory=True,
    num_last_messages=10,  # Recent history + summary for older context
    model=MODEL,
)

agent = Agent(MODEL, memory=memory)

# (not in the seed: an earlier turn, so there is a discussion to continue)
agent.do(Task("Let's discuss database optimization for project Falcon"))

result = agent.do(Task("Continue our database optimization discussion"))
print(result)
