-- Vigil's schema on SQLite. Times are Unix milliseconds; JSON is stored as TEXT.

CREATE TABLE api_tokens (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL,
    secret_sha256 BLOB NOT NULL,
    created_at    INTEGER NOT NULL,
    revoked_at    INTEGER
);

CREATE TABLE plugins (
    name        TEXT NOT NULL,
    version     TEXT NOT NULL,
    kind        TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    size        INTEGER NOT NULL,
    info        TEXT NOT NULL,
    bytes       BLOB NOT NULL,
    uploaded_by TEXT NOT NULL,
    uploaded_at INTEGER NOT NULL,
    PRIMARY KEY (name, version)
);

CREATE TABLE models (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT NOT NULL UNIQUE,
    task            TEXT NOT NULL,
    description     TEXT NOT NULL,
    serving_version TEXT,
    created_at      INTEGER NOT NULL,
    -- Records ingested so far: the next record's offset in the model's stream.
    record_count    INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE model_versions (
    model_id   INTEGER NOT NULL REFERENCES models (id) ON DELETE CASCADE,
    version    TEXT NOT NULL,
    metadata   TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (model_id, version)
);

CREATE TABLE monitors (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL UNIQUE,
    model_id   INTEGER NOT NULL REFERENCES models (id),
    spec       TEXT NOT NULL,
    reference  BLOB,
    revision   INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Which plugin versions each monitor uses, so a plugin in use cannot be deleted.
CREATE TABLE monitor_plugins (
    monitor_id INTEGER NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    version    TEXT NOT NULL,
    PRIMARY KEY (monitor_id, name, version)
);

-- Ingested records, one row per accepted batch, in a columnar encoding (see batch.rs).
CREATE TABLE record_batches (
    model_id     INTEGER NOT NULL REFERENCES models (id) ON DELETE CASCADE,
    first_offset INTEGER NOT NULL,
    row_count    INTEGER NOT NULL,
    received_at  INTEGER NOT NULL,
    data         BLOB NOT NULL,
    PRIMARY KEY (model_id, first_offset)
);

-- Every stored record id, so a repeated id is never stored twice and labels can find rows.
CREATE TABLE record_ids (
    model_id      INTEGER NOT NULL,
    record_id     TEXT NOT NULL,
    record_offset INTEGER NOT NULL,
    PRIMARY KEY (model_id, record_id)
) WITHOUT ROWID;

CREATE TABLE idempotency_keys (
    model_id       INTEGER NOT NULL,
    key            TEXT NOT NULL,
    request_sha256 BLOB NOT NULL,
    response       TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    PRIMARY KEY (model_id, key)
);

CREATE TABLE labels (
    model_id     INTEGER NOT NULL,
    record_id    TEXT NOT NULL,
    value_number REAL,
    value_text   TEXT,
    received_at  INTEGER NOT NULL,
    PRIMARY KEY (model_id, record_id)
);

-- Where each monitor's next window starts, and the state carried between windows.
CREATE TABLE monitor_state (
    monitor_id     INTEGER PRIMARY KEY REFERENCES monitors (id) ON DELETE CASCADE,
    next_offset    INTEGER NOT NULL,
    last_closed_at INTEGER NOT NULL,
    state          TEXT NOT NULL
);

CREATE TABLE evaluations (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    monitor_id   INTEGER NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
    window_start INTEGER NOT NULL,
    window_end   INTEGER NOT NULL,
    started_at   INTEGER NOT NULL,
    finished_at  INTEGER NOT NULL,
    status       TEXT NOT NULL,
    action       TEXT NOT NULL,
    reason       TEXT NOT NULL,
    result       TEXT NOT NULL
);
CREATE INDEX evaluations_by_monitor ON evaluations (monitor_id, id);

CREATE TABLE alerts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    monitor_id    INTEGER NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
    evaluation_id INTEGER,
    cause         TEXT NOT NULL,
    message       TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    delivery      TEXT NOT NULL
);
CREATE INDEX alerts_by_monitor ON alerts (monitor_id, id);
