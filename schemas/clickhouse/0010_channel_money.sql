-- Money per UTC day, channel, campaign and currency: channel_kpis adds
-- revenue and spend as stored, whatever their currency, so a shop selling
-- or buying ads in several currencies reads its money here, where amounts
-- of two currencies are never added into one number. A view takes no
-- parameters, so nothing is converted: `touchline query ... --currency`
-- converts into one reporting currency (docs/analytics.md).
--
-- Purchases' revenue per currency, maintained by a materialised view as
-- touchpoints arrive. Like channel_kpis_daily, every aggregate is a set
-- (of event ids, or of (event id, revenue) pairs), so rows inserted twice
-- by a replay, or by the backfill below, never count twice.
CREATE TABLE IF NOT EXISTS channel_revenue_daily
(
    date         Date,
    channel      String,
    campaign     String,
    currency     String,
    conversions  AggregateFunction(uniqExact, String),
    revenue      AggregateFunction(groupUniqArray, Tuple(String, Int64))
)
ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(date)
ORDER BY (date, channel, campaign, currency);

CREATE MATERIALIZED VIEW IF NOT EXISTS channel_revenue_daily_mv TO channel_revenue_daily AS
SELECT
    toDate(event_time) AS date,
    channel,
    campaign,
    currency,
    uniqExactState(event_id) AS conversions,
    groupUniqArrayState((event_id, revenue)) AS revenue
FROM touchpoints
WHERE event_type = 'purchase'
GROUP BY date, channel, campaign, currency;

-- Backfill what was ingested before the view existed; harmless when repeated.
INSERT INTO channel_revenue_daily (date, channel, campaign, currency, conversions, revenue)
SELECT
    toDate(event_time) AS date,
    channel,
    campaign,
    currency,
    uniqExactState(event_id) AS conversions,
    groupUniqArrayState((event_id, revenue)) AS revenue
FROM touchpoints
WHERE event_type = 'purchase'
GROUP BY date, channel, campaign, currency;

-- Purchases, their revenue and the current (restated) spend per day,
-- channel, campaign and currency, in units of that currency. A currency
-- with spend and no purchases, or purchases and no spend, appears too.
-- Inner names differ from the outer ones because ClickHouse 18.16 resolves
-- an alias anywhere in its SELECT, also inside other expressions.
CREATE VIEW IF NOT EXISTS channel_money AS
SELECT
    date,
    channel,
    campaign,
    currency,
    sum(n_conversions) AS conversions,
    sum(revenue_units) AS revenue,
    sum(spend_units) AS spend
FROM
(
    SELECT
        date,
        channel,
        campaign,
        currency,
        toUInt64(uniqExactMerge(conversions)) AS n_conversions,
        toFloat64(arraySum(arrayMap(x -> tupleElement(x, 2), groupUniqArrayMerge(revenue)))) / 1000000 AS revenue_units,
        toFloat64(0) AS spend_units
    FROM channel_revenue_daily
    GROUP BY date, channel, campaign, currency
    UNION ALL
    SELECT
        date,
        channel,
        campaign,
        currency,
        toUInt64(0) AS n_conversions,
        toFloat64(0) AS revenue_units,
        toFloat64(sum(cost)) / 1000000 AS spend_units
    FROM spend FINAL
    GROUP BY date, channel, campaign, currency
)
GROUP BY date, channel, campaign, currency;
