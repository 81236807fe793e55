-- Exchange rates per UTC day: one unit of base buys rate units of quote. A
-- restatement of a (date, base, quote) replaces the earlier value: the row
-- with the highest version wins, and version grows with the Kafka record's
-- timestamp and offset, as in spend. The money queries read it with FINAL
-- to convert revenue and spend into a reporting currency (docs/analytics.md).
CREATE TABLE IF NOT EXISTS exchange_rates
(
    date         Date,
    base         String,
    quote        String,
    rate         Float64,
    source       String,
    version      UInt64,
    ingested_at  DateTime('UTC')
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(date)
ORDER BY (date, base, quote);
