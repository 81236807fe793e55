-- Channel KPIs per UTC day, channel and campaign, maintained by a materialised
-- view as touchpoints arrive. Every aggregate is a set (of event ids, or of
-- (event id, revenue) pairs), so rows inserted twice by a replay, or by the
-- backfill below, never count twice: the KPIs stay exact.
CREATE TABLE IF NOT EXISTS channel_kpis_daily
(
    date         Date,
    channel      String,
    campaign     String,
    impressions  AggregateFunction(uniqExact, String),
    clicks       AggregateFunction(uniqExact, String),
    conversions  AggregateFunction(uniqExact, String),
    revenue      AggregateFunction(groupUniqArray, Tuple(String, Int64))
)
ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(date)
ORDER BY (date, channel, campaign);

CREATE MATERIALIZED VIEW IF NOT EXISTS channel_kpis_daily_mv TO channel_kpis_daily AS
SELECT
    toDate(event_time) AS date,
    channel,
    campaign,
    uniqExactStateIf(event_id, event_type = 'impression') AS impressions,
    uniqExactStateIf(event_id, event_type IN ('click', 'email_click', 'sms_click')) AS clicks,
    uniqExactStateIf(event_id, event_type = 'purchase') AS conversions,
    groupUniqArrayStateIf((event_id, revenue), event_type = 'purchase') AS revenue
FROM touchpoints
GROUP BY date, channel, campaign;

-- Backfill what was ingested before the view existed; harmless when repeated.
INSERT INTO channel_kpis_daily (date, channel, campaign, impressions, clicks, conversions, revenue)
SELECT
    toDate(event_time) AS date,
    channel,
    campaign,
    uniqExactStateIf(event_id, event_type = 'impression') AS impressions,
    uniqExactStateIf(event_id, event_type IN ('click', 'email_click', 'sms_click')) AS clicks,
    uniqExactStateIf(event_id, event_type = 'purchase') AS conversions,
    groupUniqArrayStateIf((event_id, revenue), event_type = 'purchase') AS revenue
FROM touchpoints
GROUP BY date, channel, campaign;

-- Channel KPIs with the current (restated) spend, in currency units. Days with
-- spend and no touchpoints, or touchpoints and no spend, appear too. Inner
-- names differ from the outer ones because ClickHouse 18.16 resolves an alias
-- anywhere in its SELECT, also inside other expressions.
CREATE VIEW IF NOT EXISTS channel_kpis AS
SELECT
    date,
    channel,
    campaign,
    sum(n_impressions) AS impressions,
    sum(n_clicks) AS clicks,
    sum(n_conversions) AS conversions,
    sum(revenue_units) AS revenue,
    sum(spend_units) AS spend,
    sum(n_platform_impressions) AS platform_impressions,
    sum(n_platform_clicks) AS platform_clicks
FROM
(
    SELECT
        date,
        channel,
        campaign,
        toUInt64(uniqExactMerge(impressions)) AS n_impressions,
        toUInt64(uniqExactMerge(clicks)) AS n_clicks,
        toUInt64(uniqExactMerge(conversions)) AS n_conversions,
        toFloat64(arraySum(arrayMap(x -> tupleElement(x, 2), groupUniqArrayMerge(revenue)))) / 1000000 AS revenue_units,
        toFloat64(0) AS spend_units,
        toUInt64(0) AS n_platform_impressions,
        toUInt64(0) AS n_platform_clicks
    FROM channel_kpis_daily
    GROUP BY date, channel, campaign
    UNION ALL
    SELECT
        date,
        channel,
        campaign,
        toUInt64(0) AS n_impressions,
        toUInt64(0) AS n_clicks,
        toUInt64(0) AS n_conversions,
        toFloat64(0) AS revenue_units,
        toFloat64(sum(cost)) / 1000000 AS spend_units,
        toUInt64(sum(ifNull(impressions, 0))) AS n_platform_impressions,
        toUInt64(sum(ifNull(clicks, 0))) AS n_platform_clicks
    FROM spend FINAL
    GROUP BY date, channel, campaign
)
GROUP BY date, channel, campaign;
