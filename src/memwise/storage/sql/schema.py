"""SQL schema as an append-only list of migrations, applied once each and recorded in a table.

Never edit a released migration: append a new one. `{records}`, `{profiles}`, `{messages}`,
`{heads}`, `{migrations}` (and SQLite's `{search}`, `{search_rows}`) are replaced by the dialect's
(possibly schema-qualified) table names, `{p}` by the prefix of index names (`{q}` for the
profiles table's). `{profiles}` is the records table unless `user_memory_table` names one (see
PROFILES_TABLE). A statement is SQL for every dialect, or a dict dialect -> SQL for those that
need it.
"""

from __future__ import annotations

# SQLite's search index. FTS5 rows need a rowid that VACUUM never renumbers, which the messages
# table lacks (its key is (session_id, seq)), so `{search_rows}` gives each indexed message an
# INTEGER PRIMARY KEY, and keeps its session's owner (which never changes), so a search filters
# by user without a join. The index is contentless (the text stays in `{messages}`), so a row is
# removed with FTS5's 'delete' command, given the text it was indexed with. Triggers keep the
# index in the statement that writes the message: it cannot drift from the log.
_SQLITE_SEARCH = [
    "CREATE TABLE IF NOT EXISTS {search_rows} (id INTEGER PRIMARY KEY, session_id TEXT NOT NULL, seq BIGINT NOT NULL, owner TEXT)",
    "CREATE UNIQUE INDEX IF NOT EXISTS {p}search_rows_message ON {search_rows} (session_id, seq)",
    "CREATE VIRTUAL TABLE IF NOT EXISTS {search} USING fts5(search_text, content='',"
    " tokenize='porter unicode61 remove_diacritics 2')",
    """CREATE TRIGGER IF NOT EXISTS {p}search_add AFTER INSERT ON {messages} WHEN new.search_text <> '' BEGIN
        INSERT INTO {search_rows} (session_id, seq, owner)
            SELECT new.session_id, new.seq, user_id FROM {records} WHERE kind = 'session' AND key = new.session_id;
        INSERT INTO {search} (rowid, search_text) VALUES (last_insert_rowid(), new.search_text);
    END""",
    """CREATE TRIGGER IF NOT EXISTS {p}search_backfill AFTER UPDATE OF search_text ON {messages}
    WHEN old.search_text IS NULL AND new.search_text <> '' BEGIN
        INSERT INTO {search_rows} (session_id, seq, owner)
            SELECT new.session_id, new.seq, user_id FROM {records} WHERE kind = 'session' AND key = new.session_id;
        INSERT INTO {search} (rowid, search_text) VALUES (last_insert_rowid(), new.search_text);
    END""",
    """CREATE TRIGGER IF NOT EXISTS {p}search_drop AFTER DELETE ON {messages} WHEN old.search_text <> '' BEGIN
        INSERT INTO {search} ({search}, rowid, search_text)
            SELECT 'delete', id, old.search_text FROM {search_rows} WHERE session_id = old.session_id AND seq = old.seq;
        DELETE FROM {search_rows} WHERE session_id = old.session_id AND seq = old.seq;
    END""",
]

# PostgreSQL's: a stored tsvector computed from the text in the row's own write, with a GIN index.
# fastupdate off: with it on, new entries wait in a pending list that every search scans until
# (auto)vacuum merges it (measured: 35 ms instead of 0.4 ms at 10k messages).
_POSTGRES_SEARCH = [
    "ALTER TABLE {messages} ADD COLUMN IF NOT EXISTS search_vector tsvector"
    " GENERATED ALWAYS AS (to_tsvector('english'::regconfig, COALESCE(search_text, ''))) STORED",
    "CREATE INDEX IF NOT EXISTS {p}messages_search ON {messages} USING GIN (search_vector) WITH (fastupdate = off)",
]

#: SQL for every dialect, or a dict dialect -> SQL.
Statement = str | dict[str, str]

MIGRATIONS: list[list[Statement]] = [
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
    [  # 2: search. search_text is NULL for messages stored before: the backfill's to-do list
        "ALTER TABLE {messages} ADD COLUMN search_text TEXT",
        "CREATE INDEX IF NOT EXISTS {p}messages_unindexed ON {messages} (session_id, seq) WHERE search_text IS NULL",
        *({"sqlite": statement} for statement in _SQLITE_SEARCH),
        *({"postgresql": statement} for statement in _POSTGRES_SEARCH),
    ],
]

#: A table of its own for profiles, created at setup when `user_memory_table` names one (else
#: profiles live in the records table). A migration that changes the records table must change
#: this table too (when it is another table).
PROFILES_TABLE: list[str] = [  # migration 1's records table with its recent and user indexes
    statement.replace("{records}", "{profiles}").replace("{p}", "{q}")
    for statement in MIGRATIONS[0][:3]
    if isinstance(statement, str)
]

MIGRATIONS_TABLE = "CREATE TABLE IF NOT EXISTS {migrations} (version INTEGER PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)"
