-- The activation service's records (pkg/activate), written by the one
-- running activate service and read with FINAL.

-- Every (destination, change) the service has finished with, once per
-- idempotency key: delivered, or dead after its last attempt (the
-- dead-letter record, with the last error). A change consumed again after a
-- crash or a restart is looked up here and not sent again.
CREATE TABLE IF NOT EXISTS activation_deliveries
(
    destination      String,
    idempotency_key  String,
    segment          String,
    person_id        String,
    entered          UInt8,
    changed_at       DateTime('UTC'),
    status           String,
    attempts         UInt32,
    error            String,
    recorded_at      DateTime('UTC')
)
ENGINE = ReplacingMergeTree(recorded_at)
PARTITION BY toYYYYMM(changed_at)
ORDER BY (destination, idempotency_key);

-- The persons `touchline forget` erased: the service delivers none of their
-- changes again, replays included, and leaves them out of audience files.
CREATE TABLE IF NOT EXISTS activation_erasures
(
    person_id  String,
    erased_at  DateTime('UTC')
)
ENGINE = ReplacingMergeTree(erased_at)
ORDER BY person_id;
