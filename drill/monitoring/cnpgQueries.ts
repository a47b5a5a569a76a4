// CloudNativePG's default monitoring queries (vendor/cnpg-monitoring), converted at startup into the
// custom-queries file Debian's prometheus-postgres-exporter 0.11 reads (--extend.query-path), so the
// drill's Prometheus sees the metric names and labels a real cluster's instance manager exports.
//
// How CloudNativePG v1.30.0 names them (read in its source):
// - internal/management/controller/instance_controller.go: NewQueriesCollector("cnpg", ...)
// - pkg/management/postgres/metrics/collector.go: a query's metric namespace is "<collector>_<key>", or
//   "<collector>_<query.name>" when the query sets `name` (pg_stat_bgwriter_17 -> pg_stat_bgwriter)
// - pkg/management/postgres/metrics/mappings.go: a column's metric is "<namespace>_<column>", labelled by
//   the query's LABEL columns; so pg_stat_archiver's seconds_since_last_archival is EXTERNAL_METRICS.archiveAge.
// postgres_exporter names a custom query's metric "<key>_<column>" with the same LABEL columns, so the
// key becomes "cnpg_<name>". What the exporter lacks is done here, in SQL or at conversion:
// - `runonserver` is evaluated against the server version (two keys may then share a `name`);
// - `primary: true` (CloudNativePG: skipped on a replica) and `predicate_query` (skipped when it is
//   not true) become a WHERE on the wrapped query, so the query yields no rows, hence no metrics;
// - `target_databases` cannot be honoured by one exporter connection: the query runs on the exporter's
//   database only, which conversionNotes() says.

import * as fs from "fs";
import * as path from "path";
import * as semver from "semver";
import { parse, stringify } from "yaml";
import { z } from "zod";

export const VENDORED_QUERIES_FILE = path.resolve(__dirname, "../../vendor/cnpg-monitoring/default-monitoring.yaml");

/** CloudNativePG's collector name: every metric of its queries starts with it. */
export const CNPG_METRIC_PREFIX = "cnpg";

const usage = z.enum(["DISCARD", "LABEL", "COUNTER", "GAUGE", "MAPPEDMETRIC", "DURATION", "HISTOGRAM"]);

// Strict: a field this converter does not know would otherwise be dropped silently (and the metric
// would differ from the real one); a new CloudNativePG release that adds one fails loudly here.
const columnMapping = z
    .object({ usage, description: z.string(), metric_mapping: z.record(z.string(), z.number()).optional() })
    .strict();

const userQuery = z
    .object({
        query: z.string(),
        metrics: z.array(z.record(z.string(), columnMapping)),
        predicate_query: z.string().optional(),
        primary: z.boolean().optional(),
        master: z.boolean().optional(),
        cache_seconds: z.number().int().nonnegative().optional(),
        runonserver: z.string().optional(),
        target_databases: z.array(z.string()).optional(),
        name: z.string().optional(),
    })
    .strict();

export type CnpgQuery = z.infer<typeof userQuery>;
type ColumnMapping = z.infer<typeof columnMapping>;

/** One query as postgres_exporter 0.11 reads it (cmd/postgres_exporter/queries.go: UserQuery). */
export interface ExporterQuery {
    query: string;
    metrics: Record<string, ColumnMapping>[];
    cache_seconds?: number;
}

export interface ConvertedQueries {
    /** Keyed "cnpg_<name>": the exporter's metric prefix for that query. */
    queries: Record<string, ExporterQuery>;
    /** What differs from CloudNativePG's own collection, one sentence each (for the drill report). */
    notes: string[];
}

/** Reads the queries from a CloudNativePG monitoring ConfigMap (its `data.queries` YAML). */
export function readCnpgQueries(file = VENDORED_QUERIES_FILE): Record<string, CnpgQuery> {
    const configMap = parse(fs.readFileSync(file, "utf8")) as { data?: { queries?: unknown } };
    if (typeof configMap?.data?.queries !== "string") {
        throw new Error(`${file}: expected a ConfigMap whose data.queries holds the queries YAML`);
    }
    const parsed = z.record(z.string(), userQuery).safeParse(parse(configMap.data.queries));
    if (!parsed.success) {
        throw new Error(`${file}: a query uses a field or value this converter does not handle: ${parsed.error.message}`);
    }
    return parsed.data;
}

/** "15.18" or "15.18 (Debian 15.18-0+deb12u1)" -> "15.18.0", as CloudNativePG compares with semver. */
export function serverSemver(version: string): string {
    const match = /^(\d+)(?:\.(\d+))?/.exec(version.trim());
    if (!match) {
        throw new Error(`cannot read a PostgreSQL version from "${version}" (expected e.g. "15.18")`);
    }
    return `${match[1]}.${match[2] ?? 0}.0`;
}

/** The query with CloudNativePG's run conditions as a WHERE: no row, hence no metric, when one is false. */
function withConditions(q: CnpgQuery): string {
    const conditions: string[] = [];
    if (q.primary || q.master) {
        conditions.push("NOT pg_catalog.pg_is_in_recovery()");
    }
    if (q.predicate_query) {
        // CloudNativePG collects only when the predicate returns one row whose single column is true.
        conditions.push(`COALESCE((${stripSemicolon(q.predicate_query)}), false)`);
    }
    const sql = stripSemicolon(q.query);
    return conditions.length === 0 ? sql : `SELECT * FROM (\n${sql}\n) AS cnpg_query WHERE ${conditions.join(" AND ")}`;
}

function stripSemicolon(sql: string): string {
    return sql.trim().replace(/;\s*$/, "");
}

/** Converts CloudNativePG queries into postgres_exporter's format for a server of `serverVersion`. */
export function toExporterQueries(cnpg: Record<string, CnpgQuery>, serverVersion: string): ConvertedQueries {
    const version = serverSemver(serverVersion);
    const queries: Record<string, ExporterQuery> = {};
    const notes: string[] = [];
    for (const [key, q] of Object.entries(cnpg)) {
        if (q.runonserver && !semver.satisfies(version, q.runonserver)) {
            continue;
        }
        const exporterKey = `${CNPG_METRIC_PREFIX}_${q.name ?? key}`;
        if (queries[exporterKey]) {
            throw new Error(`two CloudNativePG queries both produce ${exporterKey}_* on PostgreSQL ${version}; check their runonserver ranges`);
        }
        queries[exporterKey] = {
            query: withConditions(q),
            metrics: q.metrics,
            ...(q.cache_seconds !== undefined ? { cache_seconds: q.cache_seconds } : {}),
        };
        if (q.target_databases) {
            notes.push(`${exporterKey}: CloudNativePG runs it on databases ${q.target_databases.join(", ")}; the exporter runs it on its own database only.`);
        }
    }
    return { queries, notes };
}

/**
 * What CloudNativePG's instance manager exports without a query (pkg/management/postgres/webserver/
 * metricserver/pg_collector.go), derived here from the same source in SQL. Only what the alert rules read.
 * cnpg_collector_pg_wal_archive_status{value="ready"|"done"}: the instance manager counts the *.ready and
 * *.done files in pg_wal/archive_status (pkg/management/postgres/probes.go: GetWALArchiveCounters);
 * pg_ls_archive_statusdir() lists that very directory (PostgreSQL 12+, superuser or pg_monitor).
 */
export const INSTANCE_MANAGER_EMULATION: Record<string, ExporterQuery> = {
    [`${CNPG_METRIC_PREFIX}_collector`]: {
        query:
            "SELECT s.value, pg_catalog.count(f.name) AS pg_wal_archive_status\n" +
            "FROM (VALUES ('ready'), ('done')) AS s(value)\n" +
            "LEFT JOIN pg_catalog.pg_ls_archive_statusdir() AS f ON f.name LIKE '%.' || s.value\n" +
            "GROUP BY s.value",
        metrics: [
            { value: { usage: "LABEL", description: "Status of the WAL files in pg_wal/archive_status (ready, done)" } },
            { pg_wal_archive_status: { usage: "GAUGE", description: "Number of WAL segments in pg_wal/archive_status (emulates the CloudNativePG instance manager)" } },
        ],
    },
};

/** The metric names a set of exporter queries yields (every non-LABEL, non-DISCARD column). */
export function exporterMetricNames(queries: Record<string, ExporterQuery>): string[] {
    const names: string[] = [];
    for (const [key, q] of Object.entries(queries)) {
        for (const mapping of q.metrics) {
            for (const [column, m] of Object.entries(mapping)) {
                if (m.usage === "LABEL" || m.usage === "DISCARD") {
                    continue;
                }
                const name = `${key}_${column}`;
                names.push(...(m.usage === "HISTOGRAM" ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : m.usage === "DURATION" ? [`${name}_milliseconds`] : [name]));
            }
        }
    }
    return names.sort();
}

/** The exporter's queries file for a server version: the vendored queries plus the instance-manager emulation. */
export function exporterQueriesFile(serverVersion: string, file = VENDORED_QUERIES_FILE): { yaml: string; queries: Record<string, ExporterQuery>; notes: string[] } {
    const converted = toExporterQueries(readCnpgQueries(file), serverVersion);
    for (const key of Object.keys(INSTANCE_MANAGER_EMULATION)) {
        if (converted.queries[key]) {
            throw new Error(`the vendored queries now define ${key}: drop its emulation in INSTANCE_MANAGER_EMULATION`);
        }
    }
    const queries = { ...converted.queries, ...INSTANCE_MANAGER_EMULATION };
    return { yaml: stringify(queries, { lineWidth: 0 }), queries, notes: converted.notes };
}
