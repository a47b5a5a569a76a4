import { strict as assert } from "assert";
import { archiveRetention, archivingComplete, baseBackupFrequency, walArchiving } from "../walArchiving";
import { Fixture, violations, withProp } from "./helpers";

const cluster: Fixture = {
    type: "kubernetes:postgresql.cnpg.io/v1:Cluster",
    name: "cluster",
    props: {
        metadata: { name: "pg-a" },
        spec: {
            postgresql: { parameters: { archive_timeout: "270s" } },
            plugins: [{ name: "barman-cloud.cloudnative-pg.io", isWALArchiver: true, parameters: { barmanObjectName: "pg-a-archive", serverName: "pg-a" } }],
        },
    },
};
const store: Fixture = {
    type: "kubernetes:barmancloud.cnpg.io/v1:ObjectStore",
    name: "store",
    props: { metadata: { name: "pg-a-archive" }, spec: { configuration: { destinationPath: "s3://b/", wal: { compression: "gzip" } }, retentionPolicy: "30d" } },
};
const readOnlyStore: Fixture = { ...store, name: "peer", props: { metadata: { name: "pg-b-replicated-archive" }, spec: { configuration: { destinationPath: "s3://b/" } } } };
const backup: Fixture = {
    type: "kubernetes:postgresql.cnpg.io/v1:ScheduledBackup",
    name: "backup",
    props: { spec: { schedule: "0 0 2 * * *", cluster: { name: "pg-a" }, method: "plugin" } },
};

describe("policies: WAL archiving and base backups", () => {
    it("wal-archiving-within-rpo: passes at 270s for a 5m RPO with 30s upload", async () => {
        assert.deepEqual(await violations(walArchiving, cluster), []);
    });
    it("wal-archiving-within-rpo: fails when archive_timeout exceeds RPO minus upload, in any unit", async () => {
        for (const value of ["300s", "5min", "1h", "600"]) {
            const found = await violations(walArchiving, { ...cluster, props: withProp(cluster.props, "spec.postgresql.parameters.archive_timeout", value) });
            assert.match(found[0], new RegExp(`archive_timeout is "${value}"; the limit is 4m30s \\(target rpoDataCorruption 5m minus WAL upload allowance 30s\\)`));
        }
    });
    it("wal-archiving-within-rpo: CloudNativePG's 5min default is judged when none is set", async () => {
        const found = await violations(walArchiving, { ...cluster, props: withProp(cluster.props, "spec.postgresql.parameters", {}) });
        assert.match(found[0], /archive_timeout is "5min"/);
    });
    it("wal-archiving-within-rpo: fails when no plugin archives WAL", async () => {
        const found = await violations(walArchiving, { ...cluster, props: withProp(cluster.props, "spec.plugins", []) });
        assert.match(found[0], /has no enabled barman-cloud\.cloudnative-pg\.io entry with isWALArchiver: true/);
    });
    it("wal-archiving-within-rpo: the RPO comes from the pack config", async () => {
        assert.match((await violations(walArchiving, cluster, { rpoDataCorruption: "2m" }))[0], /the limit is 1m30s \(target rpoDataCorruption 2m/);
    });

    it("wal-archive-retention: an archive store keeps at least the window; read-only stores are exempt", async () => {
        assert.deepEqual(await violations(archiveRetention, [store, readOnlyStore]), []);
        assert.match((await violations(archiveRetention, { ...store, props: withProp(store.props, "spec.retentionPolicy", "14d") }))[0], /retentionPolicy is "14d"; the limit is at least 30d/);
        assert.match((await violations(archiveRetention, { ...store, props: withProp(store.props, "spec.retentionPolicy", undefined) }))[0], /retentionPolicy is null/);
        assert.deepEqual(await violations(archiveRetention, { ...store, props: withProp(store.props, "spec.retentionPolicy", "5w") }), []);
    });

    it("base-backup-frequency: daily passes; weekly, suspended or malformed fail", async () => {
        assert.deepEqual(await violations(baseBackupFrequency, backup), []);
        assert.match((await violations(baseBackupFrequency, { ...backup, props: withProp(backup.props, "spec.schedule", "0 0 2 * * 0") }))[0], /leaves up to 7d between base backups; the limit is 1d/);
        assert.match((await violations(baseBackupFrequency, { ...backup, props: withProp(backup.props, "spec.suspend", true) }))[0], /spec\.suspend is true/);
        assert.match((await violations(baseBackupFrequency, { ...backup, props: withProp(backup.props, "spec.schedule", "0 2 * * *") }))[0], /has 5 fields/);
    });

    it("wal-archiving-complete: a cluster needs its archive store (with retention) and a scheduled backup", async () => {
        assert.deepEqual(await violations(archivingComplete, [cluster, store, backup]), []);
        assert.match((await violations(archivingComplete, [cluster, store]))[0], /no ScheduledBackup targets cluster pg-a/);
        assert.match((await violations(archivingComplete, [cluster, backup]))[0], /archives to ObjectStore pg-a-archive, which this stack does not declare/);
        assert.match((await violations(archivingComplete, [cluster, { ...store, props: withProp(store.props, "spec.retentionPolicy", undefined) }, backup]))[0], /has no retentionPolicy/);
    });
});
