// The conversion of CloudNativePG's vendored default queries into postgres_exporter's format, and
// that the names it yields cover every cnpg_* metric the stacks' alert rules read. (The live test,
// alertsLive.test.ts, checks the same names on what a real exporter serves.)
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse, stringify } from "yaml";
import { parseConfig } from "../../config";
import { readStackConfig } from "../../config";
import {
    CnpgQuery,
    exporterMetricNames,
    exporterQueriesFile,
    INSTANCE_MANAGER_EMULATION,
    readCnpgQueries,
    serverSemver,
    toExporterQueries,
    VENDORED_QUERIES_FILE,
} from "../../drill/monitoring/cnpgQueries";
import { alertCoverage } from "../../drill/monitoring/stack";
import { alertMetrics, scaledAlertRuleGroups } from "../../drill/monitoring/rules";

describe("CloudNativePG default queries for postgres_exporter", () => {
    const vendored = readCnpgQueries();

    it("reads the vendored ConfigMap (the queries the rules rely on are there)", () => {
        for (const key of ["pg_stat_archiver", "pg_replication", "pg_stat_bgwriter", "pg_stat_bgwriter_17"]) {
            assert.ok(vendored[key], `vendored queries lack ${key}`);
        }
    });

    it("prefixes every query with cnpg_ and keeps its metrics and labels", () => {
        const { queries } = toExporterQueries(vendored, "15.18");
        assert.ok(Object.keys(queries).every((k) => k.startsWith("cnpg_")));
        assert.deepEqual(queries.cnpg_pg_stat_archiver.metrics, vendored.pg_stat_archiver.metrics);
        assert.deepEqual(queries.cnpg_backends.metrics, vendored.backends.metrics);
    });

    it("evaluates runonserver against the server version, and a query's name override names the metrics", () => {
        const on15 = toExporterQueries(vendored, "15.18 (Debian 15.18-0+deb12u1)").queries;
        assert.equal(on15.cnpg_pg_stat_bgwriter.query.trim(), vendored.pg_stat_bgwriter.query.trim());
        assert.equal(on15.cnpg_pg_stat_checkpointer, undefined);
        assert.equal(on15.cnpg_pg_stat_bgwriter_17, undefined);
        const on17 = toExporterQueries(vendored, "17.2").queries;
        assert.equal(on17.cnpg_pg_stat_bgwriter.query.trim(), vendored.pg_stat_bgwriter_17.query.trim());
        assert.ok(on17.cnpg_pg_stat_checkpointer);
    });

    it("turns primary: true and predicate_query into a WHERE, so the query yields nothing when they are false", () => {
        const { queries } = toExporterQueries(vendored, "15.18");
        const replication = queries.cnpg_pg_stat_replication.query;
        assert.match(replication, /^SELECT \* FROM \(\n[\s\S]*\n\) AS cnpg_query WHERE NOT pg_catalog\.pg_is_in_recovery\(\)$/);
        assert.ok(replication.includes(vendored.pg_stat_replication.query.trim()));
        const archiver = queries.cnpg_pg_stat_archiver.query;
        assert.ok(archiver.endsWith(`WHERE COALESCE((${vendored.pg_stat_archiver.predicate_query!.trim()}), false)`), archiver);
        assert.equal(queries.cnpg_pg_database.query, vendored.pg_database.query.trim(), "a query without conditions is unchanged");
    });

    it("says where it cannot do what CloudNativePG does (target_databases)", () => {
        const { notes } = toExporterQueries(vendored, "15.18");
        assert.deepEqual(notes, [`cnpg_pg_extensions: CloudNativePG runs it on databases *; the exporter runs it on its own database only.`]);
    });

    it("rejects a field it does not know, rather than dropping it", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "drstack-cnpg-queries-"));
        try {
            const configMap = parse(fs.readFileSync(VENDORED_QUERIES_FILE, "utf8"));
            const queries = parse(configMap.data.queries) as Record<string, CnpgQuery & Record<string, unknown>>;
            queries.pg_database.metrics[1].size_bytes = { ...queries.pg_database.metrics[1].size_bytes, name: "bytes" } as never;
            configMap.data.queries = stringify(queries);
            const file = path.join(dir, "cm.yaml");
            fs.writeFileSync(file, stringify(configMap));
            assert.throws(() => readCnpgQueries(file), /does not handle/);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("refuses two queries that would share a metric prefix on one server", () => {
        const both = { ...vendored, pg_stat_bgwriter: { ...vendored.pg_stat_bgwriter, runonserver: undefined } };
        assert.throws(() => toExporterQueries(both, "17.0"), /both produce cnpg_pg_stat_bgwriter_\*/);
    });

    it("rejects an unreadable server version", () => {
        assert.throws(() => serverSemver("devel"), /cannot read a PostgreSQL version/);
        assert.equal(serverSemver("15.18 (Debian)"), "15.18.0");
    });

    it("names metrics as the exporter does: <key>_<column> for values, none for labels", () => {
        const names = exporterMetricNames(INSTANCE_MANAGER_EMULATION);
        assert.deepEqual(names, ["cnpg_collector_pg_wal_archive_status"]);
        const all = exporterMetricNames(exporterQueriesFile("15.18").queries);
        assert.ok(all.includes("cnpg_pg_stat_archiver_seconds_since_last_archival"));
        assert.ok(!all.some((n) => n.startsWith("cnpg_pg_stat_archiver_") && n.endsWith("_datname")));
    });

    for (const stack of ["primary", "dr"]) {
        it(`covers every cnpg_* metric the ${stack} stack's rules read`, () => {
            const config = parseConfig(readStackConfig(stack), stack);
            const groups = scaledAlertRuleGroups(config, 30).groups;
            const produced = exporterMetricNames(exporterQueriesFile("15.18").queries);
            const read = alertMetrics(groups).flatMap((a) => a.metrics).filter((m) => m.startsWith("cnpg_"));
            assert.ok(read.length > 0);
            assert.deepEqual(read.filter((m) => !produced.includes(m)), []);
            const unprovable = alertCoverage(groups, produced).filter((c) => !c.provable);
            for (const c of unprovable) {
                assert.ok(c.missing.every((m) => !m.producer.startsWith("nothing")), `${c.alert} reads a metric nobody produces: ${JSON.stringify(c.missing)}`);
            }
        });
    }
});
