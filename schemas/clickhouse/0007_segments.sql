-- The segments service's output (pkg/segmenter): every entry and exit, and
-- the current members derived from them. A batch that is processed again
-- after a crash writes the same changes, which ReplacingMergeTree keeps once
-- (read with FINAL).
CREATE TABLE IF NOT EXISTS segment_changes
(
    segment         String,
    person_id       String,
    entered         UInt8,
    changed_at      DateTime('UTC'),
    changed_millis  UInt16,
    features        String,
    written_at      DateTime('UTC')
)
ENGINE = ReplacingMergeTree(written_at)
PARTITION BY toYYYYMM(changed_at)
ORDER BY (segment, person_id, changed_at, changed_millis, entered);

-- The current members of every segment: persons whose latest change
-- entered it, and since when. Persons are those of the segments service at
-- the time of the change; resolve them through person_overrides like any
-- person id.
CREATE VIEW IF NOT EXISTS segment_members AS
SELECT segment, person_id, member_since
FROM
(
    SELECT
        segment,
        person_id,
        argMax(entered, toUInt64(toUInt32(changed_at)) * 1000 + changed_millis) AS is_member,
        argMax(changed_at, toUInt64(toUInt32(changed_at)) * 1000 + changed_millis) AS member_since
    FROM segment_changes FINAL
    GROUP BY segment, person_id
)
WHERE is_member = 1;
