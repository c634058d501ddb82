"""Seed scenario 1 — Quick start: history, summary and user profile in one SQLite file.

    python examples/quick_start.py          # offline stand-in model
    MEMWISE_MODEL=anthropic/claude-sonnet-4-5 python examples/quick_start.py
"""

from _demo_model import pick_model

from memwise import Agent, Task
from memwise.storage.memory import Memory
from memwise.storage.sqlite import SqliteStorage

MODEL = pick_model()

storage = SqliteStorage(db_file="memory.db")

memory = Memory(
    storage=storage,
    session_id="session_001",
    user_id="user_123",
    full_session_memory=True,  # Save chat history
    summary_memory=True,  # Save summaries
    user_analysis_memory=True,  # Save user profiles
    model=MODEL,
)

agent = Agent(MODEL, memory=memory)

result1 = agent.do(Task("My name is Alice and I'm a Python developer"))

result2 = agent.do(Task("What's my name and expertise?"))
print(result2)  # Alice, Python developer

print("stored messages:", len(memory.get_messages()))
print("summary:", memory.get_session().summary)
print("profile:", memory.get_user_profile().data)
