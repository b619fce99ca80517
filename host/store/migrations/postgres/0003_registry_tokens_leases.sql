-- The model registry, run-scoped tokens and leases (see docs/retraining.md).
--
-- Registry: a version is a `candidate` when registered, `serving` once promoted (at most one
-- per model, kept equal to `models.serving_version`), `retired` when another replaced it, and
-- `failed` when its rollout failed; `status_reason` says why it is where it is. `promotion`
-- counts the model's promotions when the version last became serving, so the version to roll
-- back to is the retired one with the highest. A database written before keeps its versions
-- as candidates, except the serving one.
ALTER TABLE model_versions ADD COLUMN status TEXT NOT NULL DEFAULT 'candidate';
ALTER TABLE model_versions ADD COLUMN status_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE model_versions ADD COLUMN artifact_uri TEXT NOT NULL DEFAULT '';
ALTER TABLE model_versions ADD COLUMN metrics TEXT NOT NULL DEFAULT '{}';
ALTER TABLE model_versions ADD COLUMN window_start BIGINT;
ALTER TABLE model_versions ADD COLUMN window_end BIGINT;
ALTER TABLE model_versions ADD COLUMN run_id TEXT;
ALTER TABLE model_versions ADD COLUMN created_by TEXT NOT NULL DEFAULT 'api';
ALTER TABLE model_versions ADD COLUMN promotion BIGINT;
ALTER TABLE model_versions ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;

UPDATE model_versions SET updated_at = created_at;
UPDATE model_versions
SET status = 'serving', status_reason = 'serving when the registry began', promotion = 1
WHERE EXISTS (SELECT 1 FROM models AS m
              WHERE m.id = model_versions.model_id AND m.serving_version = model_versions.version);

CREATE UNIQUE INDEX model_versions_one_serving ON model_versions (model_id) WHERE status = 'serving';
-- A run registers one version: its retried registration finds it (NULLs never collide).
CREATE UNIQUE INDEX model_versions_by_run ON model_versions (model_id, run_id);

-- Run-scoped tokens (role `train`): one model, one run, until `expires_at` (Unix ms). Other
-- roles leave the three empty.
ALTER TABLE api_tokens ADD COLUMN model_id BIGINT;
ALTER TABLE api_tokens ADD COLUMN run_id TEXT;
ALTER TABLE api_tokens ADD COLUMN expires_at BIGINT;

-- Leases: which holder (a daemon replica) acts for `name` (a monitor, say) until `expires_at`,
-- on the database's clock (Unix ms). `epoch` grows by one whenever the holder changes, so a
-- write fenced by (holder, epoch) is refused once another holder took over. A released lease
-- keeps its row with no holder, so its epoch keeps growing.
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT,
    expires_at BIGINT NOT NULL,
    epoch      BIGINT NOT NULL
);
