// Package schemas ships touchline's Avro schemas and ClickHouse migrations as
// embedded files, so every binary carries the exact versions it was built with.
package schemas

import "embed"

// Avro holds the Avro schemas under avro/, one .avsc file per schema version.
//
//go:embed avro/*.avsc
var Avro embed.FS

// ClickHouse holds the ClickHouse migrations under clickhouse/, applied in
// file-name order by the migrator.
//
//go:embed clickhouse/*.sql
var ClickHouse embed.FS
