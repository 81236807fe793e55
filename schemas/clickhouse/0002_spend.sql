-- Ad spend per UTC day, channel, campaign and ad platform (source). A
-- restatement of a key replaces the earlier value: the row with the highest
-- version wins, and version grows with the Kafka record's timestamp and offset,
-- so replaying old records never brings an old value back.
CREATE TABLE IF NOT EXISTS spend
(
    date         Date,
    channel      String,
    campaign     String,
    source       String,
    cost         Int64,
    currency     String,
    impressions  Nullable(Int64),
    clicks       Nullable(Int64),
    version      UInt64,
    ingested_at  DateTime('UTC')
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(date)
ORDER BY (date, channel, campaign, source);

-- The current (restated) spend, for analysts who prefer a view to FINAL.
CREATE VIEW IF NOT EXISTS spend_current AS
SELECT * FROM spend FINAL;
