-- Shadow evaluation (see docs/monitors.md, "Trying a plugin version in shadow"): a candidate
-- plugin run beside a monitor's pinned one on the same windows, never acted on. A shadow keeps
-- what it carries between windows (`state`, as `monitor_state.state`), and each window it
-- evaluated is kept beside the monitor's own evaluation of it, also after the shadow ends.
CREATE TABLE shadows (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    monitor_id        INTEGER NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
    -- The candidate, and the plugin name whose references it stands in for.
    plugin_name       TEXT NOT NULL,
    plugin_version    TEXT NOT NULL,
    replaces          TEXT NOT NULL,
    -- The candidate's settings (JSON) when they are not those of the references it replaces.
    config            TEXT,
    -- `running`, then `promoted` or `dropped`.
    status            TEXT NOT NULL,
    state             TEXT NOT NULL,
    created_by        TEXT,
    created_at        INTEGER NOT NULL,
    ended_at          INTEGER,
    -- The monitor's revision that pinned the candidate, when promoted.
    promoted_revision INTEGER
);
CREATE INDEX shadows_by_monitor ON shadows (monitor_id, id);

CREATE TABLE shadow_windows (
    shadow_id     INTEGER NOT NULL REFERENCES shadows (id) ON DELETE CASCADE,
    window_start  INTEGER NOT NULL,
    window_end    INTEGER NOT NULL,
    -- The monitor's own evaluation of the same window.
    evaluation_id INTEGER NOT NULL,
    result        TEXT NOT NULL,
    PRIMARY KEY (shadow_id, window_start)
);
