import { strict as assert } from "assert";
import { logShippingRegionRpo, replicationOnPrimary, replicationRules } from "../replication";
import { Fixture, violations, withProp } from "./helpers";

const rule = {
    id: "backups-to-us-west-2",
    status: "Enabled",
    filter: {},
    deleteMarkerReplication: { status: "Enabled" },
    sourceSelectionCriteria: { sseKmsEncryptedObjects: { status: "Enabled" } },
    destination: {
        bucket: "arn:aws:s3:::backups-x-us-west-2",
        encryptionConfiguration: { replicaKmsKeyId: "arn:aws:kms:us-west-2:111122223333:alias/x-backups" },
        replicationTime: { status: "Enabled", time: { minutes: 15 } },
        metrics: { status: "Enabled", eventThreshold: { minutes: 15 } },
    },
};
const replication: Fixture = { type: "aws:s3/bucketReplicationConfig:BucketReplicationConfig", name: "repl", props: { bucket: "backups-x-us-east-1", role: "r", rules: [rule] } };
const withRule = (path: string, value: unknown): Fixture => ({ ...replication, props: { ...replication.props, rules: [withProp(rule, path, value)] } });
const region = (role: string, enabled = true): Fixture => ({ type: "drstack:region:DrRegion", name: "region", props: { config: { role, region: "us-east-1", replication: { enabled } } } });
const cluster = (streaming: boolean, archiveTimeout = "270s"): Fixture => ({
    type: "kubernetes:postgresql.cnpg.io/v1:Cluster",
    name: "cluster",
    props: {
        spec: {
            postgresql: { parameters: { archive_timeout: archiveTimeout } },
            replica: { self: "a", primary: "a", source: "b" },
            externalClusters: [
                { name: "a", plugin: { name: "barman-cloud.cloudnative-pg.io" } },
                { name: "b", plugin: { name: "barman-cloud.cloudnative-pg.io" }, ...(streaming ? { connectionParameters: { host: "h" } } : {}) },
            ],
        },
    },
});

describe("policies: replication", () => {
    it("backup-replication-rules: a complete rule passes", async () => {
        assert.deepEqual(await violations(replicationRules, replication), []);
    });
    const broken: [string, string, unknown, RegExp][] = [
        ["a disabled rule", "status", "Disabled", /status is "Disabled"; it must be "Enabled"/],
        ["delete markers not replicated", "deleteMarkerReplication.status", "Disabled", /deleteMarkerReplication is "Disabled"; it must be "Enabled"/],
        ["SSE-KMS objects not selected", "sourceSelectionCriteria", undefined, /sseKmsEncryptedObjects is not "Enabled"/],
        ["no re-encryption key", "destination.encryptionConfiguration", undefined, /replicaKmsKeyId is not set/],
        ["no RTC", "destination.replicationTime", undefined, /S3 Replication Time Control is off \(destination\.replicationTime is null\); it must be Enabled with 15 minutes \(target requireReplicationTimeControl\) \[stack setting: drstack:replication\.replicationTimeControl\]$/],
        ["no metrics", "destination.metrics.status", "Disabled", /destination\.metrics is not "Enabled"/],
    ];
    for (const [name, path, value, expected] of broken) {
        it(`backup-replication-rules: fails on ${name}`, async () => {
            const found = await violations(replicationRules, withRule(path, value));
            assert.ok(found.some((m) => expected.test(m)), found.join("\n"));
        });
    }
    it("backup-replication-rules: RTC not required when the config says so", async () => {
        assert.deepEqual(await violations(replicationRules, withRule("destination.replicationTime", undefined), { requireReplicationTimeControl: false }), []);
    });

    it("backup-replication-on-primary: a primary must replicate, to another region", async () => {
        assert.deepEqual(await violations(replicationOnPrimary, [region("primary"), replication]), []);
        assert.match((await violations(replicationOnPrimary, [region("primary", false)]))[0], /this stack is primary in us-east-1 but its backup bucket does not replicate \(drstack:replication\.enabled is false\)/);
        const sameRegion = withRule("destination.encryptionConfiguration.replicaKmsKeyId", "arn:aws:kms:us-east-1:1:alias/x");
        assert.match((await violations(replicationOnPrimary, [region("primary"), sameRegion]))[0], /replicates into us-east-1, the stack's own region/);
        assert.deepEqual(await violations(replicationOnPrimary, [region("standby")]), [], "a standby does not replicate");
    });

    it("region-rpo-needs-streaming: archive-only WAL cannot meet a 5m region RPO; streaming or a loose RPO can", async () => {
        assert.match((await violations(logShippingRegionRpo, cluster(false)))[0], /bounds region-loss data loss at 20m \(archive_timeout 4m30s \+ upload 30s \+ S3 RTC 15m\); target rpoRegion 5m needs streaming/);
        assert.deepEqual(await violations(logShippingRegionRpo, cluster(true)), []);
        assert.deepEqual(await violations(logShippingRegionRpo, cluster(false), { rpoRegion: "30m" }), []);
    });
});
