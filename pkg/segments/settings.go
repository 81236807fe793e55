// Package segments is the segments service: a router that resolves each
// touchpoint's person through a local copy of the identity map and
// repartitions touchpoints and identity merges by person onto the segment
// inputs topic, and a stateful stage that runs a pkg/segments/engine processor per
// inputs partition. Each batch's segment changes, changelog records (the
// persons it changed, and the partition's watermark) and input offsets
// commit in one Kafka transaction, once the changes are in ClickHouse. Each
// instance keeps the state of its partitions in a local pebble copy of the
// compacted changelog, which a partition's owner brings up to date from the
// changelog when it is assigned the partition.
package segments

import "github.com/touchline-io/touchline/pkg/segments/settings"

// Config configures the segments service: the segments section of
// touchline.yaml, defined in package settings.
type Config = settings.Config
