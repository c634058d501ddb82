"""SQL schema as an append-only list of migrations, applied once each and recorded in a table.

Never edit a released migration: append a new one. `{records}`, `{profiles}`, `{messages}`,
`{heads}` and `{migrations}` are replaced by the dialect's (possibly schema-qualified) table
names, `{p}` by the prefix of index names (`{q}` for the profiles table's). `{profiles}` is the
records table unless `user_memory_table` names one (see PROFILES_TABLE).
"""

from __future__ import annotations

MIGRATIONS: list[list[str]] = [
    [  # 1: versioned records, append-only messages, per-session seq heads
        """CREATE TABLE IF NOT EXISTS {records} (
            kind TEXT NOT NULL,
            key TEXT NOT NULL,
            version BIGINT NOT NULL,
            updated_at DOUBLE PRECISION NOT NULL,
            user_id TEXT,
            agent_id TEXT,
            session_id TEXT,
            status TEXT,
            body TEXT NOT NULL,
            PRIMARY KEY (kind, key)
        )""",
        "CREATE INDEX IF NOT EXISTS {p}records_recent ON {records} (kind, updated_at, key)",
        "CREATE INDEX IF NOT EXISTS {p}records_user ON {records} (kind, user_id, updated_at, key)",
        "CREATE INDEX IF NOT EXISTS {p}records_agent ON {records} (kind, agent_id, updated_at, key)",
        "CREATE INDEX IF NOT EXISTS {p}records_session ON {records} (kind, session_id, updated_at, key)",
        """CREATE TABLE IF NOT EXISTS {messages} (
            session_id TEXT NOT NULL,
            seq BIGINT NOT NULL,
            run_id TEXT,
            turn_start SMALLINT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL,
            body TEXT NOT NULL,
            PRIMARY KEY (session_id, seq)
        )""",
        "CREATE INDEX IF NOT EXISTS {p}messages_turns ON {messages} (session_id, seq) WHERE turn_start = 1",
        "CREATE TABLE IF NOT EXISTS {heads} (session_id TEXT PRIMARY KEY, last_seq BIGINT NOT NULL)",
    ],
]

#: A table of its own for profiles, created at setup when `user_memory_table` names one (else
#: profiles live in the records table). A migration that changes the records table must change
#: this table too (when it is another table).
PROFILES_TABLE: list[str] = [  # migration 1's records table with its recent and user indexes
    statement.replace("{records}", "{profiles}").replace("{p}", "{q}") for statement in MIGRATIONS[0][:3]
]

MIGRATIONS_TABLE = "CREATE TABLE IF NOT EXISTS {migrations} (version INTEGER PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)"
