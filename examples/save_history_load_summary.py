"""Seed scenario 4 — Save full history (for auditing) but inject only the summary.

    python examples/save_history_load_summary.py  # or MEMWISE_MODEL=... python examples/...
"""

from _demo_model import pick_model

from memwise import Agent, Task
from memwise.storage.memory import Memory
from memwise.storage.sqlite import SqliteStorage

MODEL = pick_model()

storage = SqliteStorage(db_file="efficient.db")

memory = Memory(
    storage=storage,
    session_id="session_001",
    full_session_memory=True,  # Save raw history
    summary_memory=True,  # Save summaries
    load_full_session_memory=False,  # Don't inject raw history
    load_summary_memory=True,  # Inject summary only
    model=MODEL,
)

agent = Agent(MODEL, memory=memory)

result1 = agent.do(Task("Let's discuss Python web frameworks"))
result2 = agent.do(Task("How does Django compare to Flask?"))
result3 = agent.do(Task("What have we discussed so far?"))
print(result3)  # Uses summary for context, full history saved in storage

print("stored messages:", len(memory.get_messages()))  # all 6 kept for auditing
