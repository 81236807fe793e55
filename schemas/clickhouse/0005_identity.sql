-- The identity resolver's records (pkg/resolver). Every row carries a version
-- from the position of its link request in the single-partition links topic,
-- so a request applied again after a crash writes the same rows and
-- ReplacingMergeTree keeps one (read with FINAL).

-- identifier -> person, as in the compacted identity map topic.
CREATE TABLE IF NOT EXISTS identity_map
(
    identifier_type   String,
    identifier_value  String,
    person_id         String,
    first_seen        DateTime('UTC'),
    version           UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (identifier_type, identifier_value);

-- Merges: merged_person_id now belongs to surviving_person_id.
CREATE TABLE IF NOT EXISTS identity_merges
(
    merged_person_id     String,
    surviving_person_id  String,
    request_id           String,
    merged_at            DateTime('UTC'),
    version              UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (merged_person_id, surviving_person_id, request_id);

-- Links the rules refused: merging person_id and other_person_id would have
-- broken the limit of conflicting_type.
CREATE TABLE IF NOT EXISTS identity_refusals
(
    request_id        String,
    person_id         String,
    other_person_id   String,
    conflicting_type  String,
    reason            String,
    refused_at        DateTime('UTC'),
    version           UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (request_id, person_id, other_person_id);
