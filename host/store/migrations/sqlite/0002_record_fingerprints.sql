-- Record ids are deduplicated through an in-memory set of their fingerprints (see
-- record_ids.rs): a B-tree keyed by random ids (UUIDs) dirtied about one page per id on every
-- commit once it outgrew a commit, and ingestion slowed fourfold within a million records.
-- The fingerprints of each stored batch are kept here, appended in offset order, to rebuild
-- the set; the ids themselves stay in the batches. A database written before this migration
-- gets its fingerprints from the batches the first time each model ingests.
CREATE TABLE record_fingerprints (
    model_id     INTEGER NOT NULL REFERENCES models (id) ON DELETE CASCADE,
    first_offset INTEGER NOT NULL,
    fingerprints BLOB NOT NULL,
    PRIMARY KEY (model_id, first_offset)
);

DROP TABLE record_ids;
