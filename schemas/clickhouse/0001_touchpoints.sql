-- Touchpoints: one row per event. Replays of an event (same event_id, same
-- event_time, same event_type) collapse into one row: ReplacingMergeTree keeps
-- the newest ingestion on merge, and queries read through FINAL (or the
-- touchpoints_dedup view) so they never double count before a merge.
CREATE TABLE IF NOT EXISTS touchpoints
(
    event_id          String,
    event_time        DateTime('UTC'),
    event_millis      UInt16,
    event_type        String,
    channel           String,
    campaign          String,
    utm_source        String,
    utm_medium        String,
    utm_campaign      String,
    utm_content       String,
    utm_term          String,
    referrer          String,
    page_url          String,
    person_id         String,
    identifier_types  Array(String),
    identifier_values Array(String),
    revenue           Int64,
    currency          String,
    order_id          String,
    property_keys     Array(String),
    property_values   Array(String),
    device_type       String,
    os                String,
    country           String,
    source_partition  Int32,
    source_offset     Int64,
    ingested_at       DateTime('UTC')
)
ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(event_time)
ORDER BY (event_type, event_time, event_id);

-- The deduplicated touchpoints, for analysts who prefer a view to FINAL.
CREATE VIEW IF NOT EXISTS touchpoints_dedup AS
SELECT * FROM touchpoints FINAL;
