-- What evaluations set in motion (see docs/architecture.md, "Actions"): one row per action,
-- stored in the transaction of the evaluation that decided it. `key` is derived from the
-- decision (monitor, window, kind, cause), so an action can never be recorded twice; `state`
-- goes pending -> running -> succeeded | failed, and whatever a crash leaves pending or running
-- is resumed at the next start.
CREATE TABLE actions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    monitor_id    INTEGER NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
    evaluation_id INTEGER,
    kind          TEXT NOT NULL,
    key           TEXT NOT NULL UNIQUE,
    state         TEXT NOT NULL,
    input         TEXT NOT NULL,
    outcome       TEXT NOT NULL DEFAULT '',
    attempts      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX actions_unfinished ON actions (state, id);
CREATE INDEX actions_by_monitor ON actions (monitor_id, kind, id);

-- Alerts a database written before actions left undelivered become alert actions.
INSERT INTO actions (monitor_id, evaluation_id, kind, key, state, input, created_at, updated_at)
SELECT monitor_id, evaluation_id, 'alert', 'alert/' || id, 'pending',
       '{"alert_id":' || id || '}', created_at, created_at
FROM alerts WHERE delivery = 'pending';
