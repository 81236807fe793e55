-- The alerts service's records (pkg/alerts). Both tables are written by the
-- one running alerts service and read with FINAL.

-- The durable state of every rule and group that ever breached: status (ok,
-- pending, firing), the open incident, and notifications not yet delivered to
-- every sink (outbox, JSON). A restarted service resumes from here, so it
-- neither sends a notification twice nor forgets an incident.
CREATE TABLE IF NOT EXISTS alert_states
(
    rule           String,
    group_key      String,
    channel        String,
    campaign       String,
    status         String,
    streak         UInt32,
    incident       String,
    pending_since  DateTime('UTC'),
    fired_at       DateTime('UTC'),
    resolved_at    DateTime('UTC'),
    evaluated_at   DateTime('UTC'),
    value          Float64,
    defined        UInt8,
    outbox         String,
    version        UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (rule, group_key);

-- Every notification, once per idempotency key: the incident history.
CREATE TABLE IF NOT EXISTS alert_notifications
(
    idempotency_key  String,
    incident         String,
    status           String,
    rule             String,
    severity         String,
    kpi              String,
    channel          String,
    campaign         String,
    value            Float64,
    reference        Float64,
    score            Float64,
    window_start     DateTime('UTC'),
    window_end       DateTime('UTC'),
    notified_at      DateTime('UTC'),
    message          String
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(notified_at)
ORDER BY (rule, incident, idempotency_key);
