-- The currency of an alert's value (pkg/alerts): the reporting currency
-- (analytics.reporting_currency) for a money KPI's value and reference,
-- '' for counts and ratios and for money without a reporting currency,
-- exactly as the Alert record on the alerts topic states it. Rows written
-- before this migration read ''.
--
-- ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS: the migrator takes a
-- column that already exists, left by an ALTER of this migration that an
-- interrupted run applied, as applied (pkg/clickhouse, Migrate).
ALTER TABLE alert_notifications ADD COLUMN currency String DEFAULT '';

-- alert_states keeps the value of each group's last evaluation.
ALTER TABLE alert_states ADD COLUMN currency String DEFAULT '';
