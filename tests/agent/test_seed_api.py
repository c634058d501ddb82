"""Code from the original's Memory and Agent docs beyond the two seed pages, with only the import
renamed: `from memwise.storage import Memory, SqliteStorage`, `print_do`, `Agent(...,
feed_tool_call_results=..., debug=...)`, `memory.get_session().messages`, storage constructors
with table names and an id, `prepare_inputs_for_task()`, the read-only memory flags."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic_ai.messages import ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import FunctionModel

from memwise import Agent, Task
from memwise.errors import ConfigurationError
from memwise.storage import InMemoryStorage, JSONStorage, Memory, SqliteStorage

ROOT = Path(__file__).resolve().parents[2]


def test_memory_and_every_storage_class_import_from_memwise_storage_lazily() -> None:
    code = (
        "import sys\n"
        "from memwise.storage import Memory, SqliteStorage, InMemoryStorage\n"
        "drivers = ('psycopg', 'redis', 'pymongo', 'mem0', 'memwise.storage.postgres', 'memwise.storage.redis')\n"
        "assert not [m for m in sys.modules if m.split('.')[0] in drivers or m in drivers], sorted(sys.modules)\n"
        "from memwise.storage import (JSONStorage, PostgresStorage, RedisStorage, MongoStorage, Mem0Storage,\n"
        "    AsyncSqliteStorage, AsyncPostgresStorage, AsyncMongoStorage, AsyncMem0Storage, AsyncRedisStorage)\n"
        "import memwise.storage.sqlite, memwise.storage.postgres\n"
        "assert SqliteStorage is memwise.storage.sqlite.SqliteStorage\n"
        "assert AsyncPostgresStorage is memwise.storage.postgres.PostgresStorage\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
    with pytest.raises(ImportError):
        exec("from memwise.storage import NoSuchStorage", {})


def test_print_do_prints_the_answer_and_returns_it(reader, capsys) -> None:
    agent = Agent(reader.model)
    assert agent.print_do(Task("hello")) == "I know nothing yet."
    assert capsys.readouterr().out == "I know nothing yet.\n"
    result = asyncio.run(agent.print_do_async("hello", return_output=True))
    assert result.output == "I know nothing yet." and capsys.readouterr().out == "I know nothing yet.\n"


def test_agent_feed_tool_call_results_and_debug_configure_the_memory(tmp_path, caplog) -> None:
    def lookup(q: str) -> str:
        """An ordinary tool."""
        return f"found {q}"

    seen: list[list] = []

    def model(messages, info):
        seen.append(list(messages))
        if any(isinstance(p, ToolReturnPart) for p in messages[-1].parts):
            return ModelResponse(parts=[TextPart("done")])
        if len(seen) == 1:
            return ModelResponse(parts=[ToolCallPart("lookup", {"q": "x"})])
        return ModelResponse(parts=[TextPart("second")])

    # the docs' "Memory Configuration in Agent" example
    storage = SqliteStorage(db_file=str(tmp_path / "advisor_memory.db"))
    memory = Memory(storage=storage, session_id="advisor_session", user_id="client_001", full_session_memory=True)
    agent = Agent(
        model=FunctionModel(model), name="FinancialAdvisor", memory=memory, tools=[lookup],
        feed_tool_call_results=True, debug=True,
    )
    assert memory.feed_tool_call_results and memory.debug
    with caplog.at_level(logging.INFO, logger="memwise.memory"):
        agent.do(Task("What investment strategies do you recommend for a 30-year-old?"))
        agent.do(Task("And for a 60-year-old?"))
    history = seen[-1][:-1]  # what the second run received from memory
    assert any(isinstance(p, ToolCallPart) for m in history for p in m.parts)  # tool results are fed
    assert "loaded 1 turn(s) of history" in caplog.text
    with pytest.raises(Exception, match="feed_tool_call_results"):
        Agent(FunctionModel(model), memory=memory, feed_tool_call_results="yes")


def test_accessing_memory_data_from_the_docs(reader, tmp_path) -> None:
    async def main():
        storage = SqliteStorage(db_file=str(tmp_path / "access_memory.db"))
        memory = Memory(
            storage=storage, session_id="session_001", user_id="user_001",
            full_session_memory=True, user_analysis_memory=True, summary_memory=True, model=reader.model,
        )
        agent = Agent(model=reader.model, memory=memory)
        await agent.do_async(Task("My name is John and I like technology"))
        session = await agent.memory.get_session_async()
        return session, memory.get_session()

    session, again = asyncio.run(main())
    assert session.session_id == "session_001" and len(session.messages) == 2
    assert session.messages[0].parts[0].content == "My name is John and I like technology"
    assert "name=John" in session.summary
    assert [m.parts[0].content for m in again.messages] == [m.parts[0].content for m in session.messages]


def test_storage_table_names_are_honoured_by_sqlite(reader, tmp_path) -> None:
    db = tmp_path / "agent_data.db"
    storage = SqliteStorage(
        db_file=str(db), session_table="custom_sessions", user_memory_table="custom_users", id="storage_instance_1"
    )
    assert storage.id == "storage_instance_1"
    memory = Memory(storage, session_id="s1", user_id="u1", full_session_memory=True,
                    user_analysis_memory=True, model=reader.model)
    Agent(reader.model, memory=memory).do("My name is Alice")
    memory.flush()  # the profile is written after the answer
    with sqlite3.connect(db) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "memwise_records" not in tables
        assert {"custom_sessions", "custom_users", "custom_sessions_messages"} <= tables
        kinds = {row[0] for row in conn.execute("SELECT DISTINCT kind FROM custom_sessions")}
        assert kinds == {"meta", "session", "run"}
        assert conn.execute("SELECT kind, key FROM custom_users").fetchall() == [("profile", "u1")]
    # another storage on the same file with the default names sees none of it
    assert SqliteStorage(db_file=str(db)).get_session("s1") is None
    assert SqliteStorage(db_file=str(db), session_table="custom_sessions", user_memory_table="custom_users") \
        .get_profile("u1").data["name"] == "Alice"
    with pytest.raises(ConfigurationError, match="session_table"):
        SqliteStorage(db_file=str(db), session_table="sessions; DROP TABLE x")


def test_storage_table_names_are_honoured_by_postgres(reader) -> None:
    from tests.support import postgres_backend
    from tests.support.recipe import BackendUnavailable

    try:
        admin = postgres_backend.admin_connection()
    except BackendUnavailable as exc:
        pytest.skip(f"PostgreSQL unavailable: {exc}")
    from memwise.storage import PostgresStorage

    with postgres_backend.fresh_schema("mw_tables") as schema:
        storage = PostgresStorage(db_url=postgres_backend.server_url(), db_schema=schema,
                                  session_table="custom_sessions", user_memory_table="custom_users", id="pg-1")
        try:
            memory = Memory(storage, session_id="s1", user_id="u1", user_analysis_memory=True, model=reader.model)
            Agent(reader.model, memory=memory).do("My name is Alice")
        finally:
            storage.close()
        tables = admin.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,)).fetchall()
        assert sorted(t[0] for t in tables) == [
            "custom_sessions", "custom_sessions_heads", "custom_sessions_messages", "custom_sessions_migrations",
            "custom_users",
        ]
        rows = admin.execute(f'SELECT kind, key FROM "{schema}".custom_users').fetchall()
        assert rows == [("profile", "u1")]
    admin.close()


def test_backends_without_tables_accept_the_options(tmp_path) -> None:
    assert InMemoryStorage(id="mem-1", session_table="s", user_memory_table="u").id == "mem-1"
    assert JSONStorage(db_path=str(tmp_path / "j"), session_table="s", id="j-1").id == "j-1"
    assert len(InMemoryStorage().id) == 32
    with pytest.raises(ConfigurationError, match="user_memory_table"):
        InMemoryStorage(user_memory_table="no spaces allowed")


def test_prepare_inputs_for_task_reads_what_the_next_run_gets(reader) -> None:
    storage = InMemoryStorage()
    memory = Memory(storage, session_id="s1", user_id="u1", full_session_memory=True, summary_memory=True,
                    user_analysis_memory=True, model=reader.model)
    empty = memory.prepare_inputs_for_task()
    assert empty == {"message_history": [], "context_injection": "", "system_prompt_injection": "", "metadata_injection": ""}
    assert storage.get_session("s1") is None  # reading created nothing

    Agent(reader.model, memory=memory).do("My name is Alice")
    memory.set_metadata({"channel": "web"})
    prepared = asyncio.run(memory.prepare_inputs_for_task_async())
    assert [m.parts[0].content for m in prepared["message_history"]][:1] == ["My name is Alice"]
    assert "name=Alice" in prepared["context_injection"] and "Alice" in prepared["system_prompt_injection"]
    assert "channel: web" in prepared["metadata_injection"]
    assert "name=Alice" not in prepared["system_prompt_injection"]  # each block holds its own part


def test_memory_flags_are_readable_as_in_the_original() -> None:
    memory = Memory(InMemoryStorage(), session_id="s1", user_id="u1", full_session_memory=True,
                    user_analysis_memory=True, dynamic_user_profile=True)
    assert memory.full_session_memory_enabled and memory.user_analysis_memory_enabled and memory.is_profile_dynamic
    assert not memory.summary_memory_enabled
    with pytest.raises(AttributeError):
        memory.summary_memory_enabled = True
