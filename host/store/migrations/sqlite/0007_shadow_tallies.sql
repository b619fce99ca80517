-- Windows of the monitor a shadow did not evaluate because it was too far behind: a shadow
-- runs beside its monitor and never holds it up (see docs/monitors.md, "Trying a plugin
-- version in shadow").
ALTER TABLE shadows ADD COLUMN skipped_windows INTEGER NOT NULL DEFAULT 0;
-- The comparison's summary so far (JSON, written with each window the shadow evaluates), so that
-- reading a shadow does not go through all its windows; NULL before its first window.
ALTER TABLE shadows ADD COLUMN summary TEXT;
