"""Store and reload a conversation with the storage API alone (no model needed).

Run twice: the second run finds the first run's messages in the same SQLite file.
"""

from __future__ import annotations

import sys

from pydantic_ai.messages import ModelRequest, ModelResponse, TextPart, UserPromptPart

from memwise.storage.sqlite import SqliteStorage

db_file = sys.argv[1] if len(sys.argv) > 1 else "quickstart.db"
with SqliteStorage(db_file=db_file) as storage:
    session = storage.create_session("session_001", user_id="user_123", exist_ok=True)
    turn = len(storage.read_messages(session.session_id)) // 2 + 1
    storage.append_messages(
        session.session_id,
        [
            ModelRequest(parts=[UserPromptPart(f"Message number {turn} from Alice")]),
            ModelResponse(parts=[TextPart(f"Noted message {turn}.")]),
        ],
        run_id=f"run-{turn}",
    )
    print(f"{db_file}: session {session.session_id!r} of {session.user_id!r}")
    for stored in storage.read_messages(session.session_id, last_turns=3):
        part = stored.message.parts[0]
        print(f"  #{stored.seq} {stored.message.kind:8} {part.content}")
