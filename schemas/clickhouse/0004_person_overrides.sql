-- Identity overrides: a person id as stored on touchpoints, and the person it
-- belongs to now that identities have been stitched. Touchpoints keep the
-- person id they were ingested with; every analysis resolves it at query time
-- through this table, so events ingested before a link count for the merged
-- person.
--
-- Contract for the writer (the identity resolver): surviving_person_id is
-- always a current person, never one that is itself overridden. When person B
-- merges into A, it writes (B -> A) and rewrites every (X -> B) as (X -> A),
-- each with a higher version than before. A person id without a row here
-- resolves to itself.
CREATE TABLE IF NOT EXISTS person_overrides
(
    person_id            String,
    surviving_person_id  String,
    merged_at            DateTime('UTC'),
    version              UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY person_id;

-- Touchpoints with their resolved person, for analysts. The analyses inline
-- the same join with their time range inside, which is faster on large tables
-- than a filter on this view.
CREATE VIEW IF NOT EXISTS touchpoints_resolved AS
SELECT
    *,
    if(surviving_person_id = '', person_id, surviving_person_id) AS resolved_person_id
FROM touchpoints FINAL
ANY LEFT JOIN
(
    SELECT person_id AS overridden_person_id, surviving_person_id
    FROM person_overrides FINAL
) AS overrides ON person_id = overridden_person_id;
