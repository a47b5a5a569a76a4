// The drill's topology comes from what the program declares (drill/declared.ts): streaming,
// archive_timeout, WAL compression and the replication rules, read from the declared resources of
// the stack pair; a replication rule shape the emulation does not implement is refused.
import { strict as assert } from "assert";
import { barmanCloudBackupOptions, baseBackupOptionsOf, declaredTopology, parseReplicationRules, POSTGRES_DEFAULT_WAL_RETRIEVE_RETRY_INTERVAL, postgresSeconds } from "../../drill/declared";
import { ruleFor } from "../../drill/replicator";
import { parseConfig, readStackConfig } from "../../config";
import { testTimeout } from "../support/timeouts";

const DEST = "arn:aws:s3:::backups-acme-orders-us-west-2";
const rule = (extra: Record<string, unknown>) => ({ id: "r", status: "Enabled", destination: { bucket: DEST }, ...extra });

describe("the drill's declared topology", function () {
    this.timeout(testTimeout(300_000));

    it("reads the shipped pair: clusters, archive_timeout, WAL compression, replication rules", async () => {
        const t = await declaredTopology("primary");
        const config = parseConfig(readStackConfig("primary"), "primary");
        assert.deepEqual(t.stacks, ["primary", "dr"]);
        assert.equal(t.primaryCluster, config.topology.primary.cluster);
        assert.equal(t.standbyCluster, config.topology.standby.cluster);
        assert.equal(t.archiveTimeoutSeconds, config.wal.archiveTimeoutSeconds);
        assert.equal(t.walCompression, config.postgres.walCompression);
        assert.equal(t.replication.sourceBucket, config.topology.primary.bucket);
        assert.ok(t.replication.rules.length > 0);
        for (const r of t.replication.rules) assert.equal(r.destinationBucket, config.topology.standby.bucket);
    });

    it("streams only when the replica Cluster declares connection parameters", async () => {
        const streaming = { "drstack:streaming": { host: "pg-rw.usw2.example", tlsSecretName: "pg-streaming-tls" } };
        assert.equal((await declaredTopology("primary", streaming)).standbyStreams, true);
        assert.equal((await declaredTopology("primary", { "drstack:streaming": undefined })).standbyStreams, false);
    });

    it("reads the replica Cluster's wal_retrieve_retry_interval, PostgreSQL's 5 s when it declares none", async () => {
        const shipped = await declaredTopology("primary");
        assert.equal((readStackConfig("dr")["drstack:postgres"] as { parameters?: Record<string, string> }).parameters?.wal_retrieve_retry_interval, undefined, "the shipped dr stack declares none");
        assert.equal(shipped.standbyWalRetrieveRetryInterval, POSTGRES_DEFAULT_WAL_RETRIEVE_RETRY_INTERVAL);
        const declared = await declaredTopology("primary", { "drstack:postgres.parameters.wal_retrieve_retry_interval": "2s" });
        assert.equal(declared.standbyWalRetrieveRetryInterval, "2s");
    });

    it("takes base backups with the options each cluster's declared ObjectStore gives barman-cloud-backup", async () => {
        const t = await declaredTopology("primary");
        const config = parseConfig(readStackConfig("primary"), "primary");
        const expected = [`--${config.postgres.backupCompression}`, "--immediate-checkpoint", "--jobs", String(config.postgres.backupJobs)];
        assert.deepEqual(baseBackupOptionsOf(t, t.primaryCluster), expected);
        assert.deepEqual(baseBackupOptionsOf(t, t.standbyCluster), expected);
        assert.throws(() => baseBackupOptionsOf(t, "pg-elsewhere"), /Cluster pg-elsewhere declares no WAL-archiving plugin with an ObjectStore/);
    });

    it("passes on exactly the ObjectStore data fields the plugin maps, and refuses others by name", () => {
        assert.deepEqual(barmanCloudBackupOptions(undefined, "s"), []);
        assert.deepEqual(barmanCloudBackupOptions({ compression: "snappy", immediateCheckpoint: false }, "s"), ["--snappy"]);
        assert.deepEqual(barmanCloudBackupOptions({ immediateCheckpoint: true, jobs: 4 }, "s"), ["--immediate-checkpoint", "--jobs", "4"]);
        assert.throws(() => barmanCloudBackupOptions({ encryption: "aws:kms" }, "ObjectStore x"), /ObjectStore x: spec.configuration.data.encryption is not passed on/);
    });

    it("reads any number of per-prefix rules, their status and delete-marker setting", () => {
        const rules = parseReplicationRules(
            [
                rule({ id: "wals", filter: { prefix: "pg-a/wals/" }, deleteMarkerReplication: { status: "Disabled" } }),
                rule({ id: "base", filter: { prefix: "pg-a/base/" }, deleteMarkerReplication: { status: "Enabled" } }),
                rule({ id: "off", status: "Disabled", filter: { prefix: "archive/" } }),
            ],
            "test",
        );
        assert.deepEqual(
            rules.map((r) => [r.id, r.enabled, r.prefix, r.replicateDeletes, r.destinationBucket]),
            [
                ["wals", true, "pg-a/wals/", false, "backups-acme-orders-us-west-2"],
                ["base", true, "pg-a/base/", true, "backups-acme-orders-us-west-2"],
                ["off", false, "archive/", false, "backups-acme-orders-us-west-2"],
            ],
        );
        assert.equal(ruleFor(rules, "pg-a/wals/0000000100000000000000A1.gz")?.id, "wals");
        assert.equal(ruleFor(rules, "archive/old.tar"), undefined, "a disabled rule copies nothing");
        assert.equal(ruleFor(rules, "pg-b/wals/0000000100000000000000A1.gz"), undefined, "no rule selects it: it does not cross");
        assert.equal(ruleFor(parseReplicationRules([rule({ filter: {} })], "test"), "anything")?.id, "r", "an empty filter selects everything");
    });

    it("refuses rule shapes the emulation does not implement, naming them", () => {
        assert.throws(() => parseReplicationRules([rule({ filter: { tag: { key: "k", value: "v" } } })], "cfg"), /cfg rules\[0\] \(r\): filter\.tag is not emulated/);
        assert.throws(() => parseReplicationRules([rule({ filter: { and: { prefix: "a/" } } })], "cfg"), /filter\.and is not emulated/);
        assert.throws(() => parseReplicationRules([rule({ prefix: "legacy/" })], "cfg"), /does not understand prefix/);
        assert.throws(() => parseReplicationRules([rule({ status: "On" })], "cfg"), /status "On" is neither Enabled nor Disabled/);
        assert.throws(() => parseReplicationRules([rule({ destination: { bucket: "not-an-arn" } })], "cfg"), /is not an S3 bucket ARN/);
        assert.throws(() => parseReplicationRules([], "cfg"), /no replication rules declared/);
    });

    it("reads archive_timeout in PostgreSQL units", () => {
        assert.equal(postgresSeconds("270s", "archive_timeout"), 270);
        assert.equal(postgresSeconds("5min", "archive_timeout"), 300);
        assert.equal(postgresSeconds("300", "archive_timeout"), 300);
        assert.throws(() => postgresSeconds("5 minutes", "archive_timeout"), /not a PostgreSQL duration/);
    });
});
