// Cross-region replication: each stack replicates its own cluster's prefixes into its peer's
// bucket, whatever its role, with RTC, metrics, delete markers and KMS re-encryption, and a role
// that can do only that. (Role-switch invariance and the bootstrap gates: bootstrap.test.ts.)
import { strict as assert } from "assert";
import { BUCKET_PREFIXES } from "../../model/contract";
import { fenceMarkerKey } from "../../model/fence";
import { TEST_ACCOUNT_ID } from "../support/mocks";
import { ProgramRun, runProgram } from "../support/program";
import { PROMOTE_DR } from "../support/promotion";

const OWN = "pg-acme-orders-use1";
const OWN_PREFIXES = [BUCKET_PREFIXES.barman(OWN), BUCKET_PREFIXES.logical(OWN), BUCKET_PREFIXES.verification(OWN), fenceMarkerKey(OWN)];

const T = {
    replication: "aws:s3/bucketReplicationConfig:BucketReplicationConfig",
    versioning: "aws:s3/bucketVersioning:BucketVersioning",
    bucket: "aws:s3/bucket:Bucket",
    key: "aws:kms/key:Key",
};

const ROLE = "acme-orders-replication-role";
const PERMISSIONS = "acme-orders-replication-permissions";

function statement(run: ProgramRun, sid: string) {
    const policy = JSON.parse(run.byName(PERMISSIONS).inputs.policy);
    const found = policy.Statement.find((s: any) => s.Sid === sid);
    assert.ok(found, `no statement ${sid}`);
    return found;
}

describe("replication from the primary stack", () => {
    let run: ProgramRun;
    let rule: any;
    before(async () => {
        run = await runProgram("primary");
        rule = run.one(T.replication).inputs.rules[0];
        assert.equal(rule.filter.prefix, BUCKET_PREFIXES.barman(OWN), "the first rule carries WAL and base backups");
    });

    it("replicates this region's bucket into the peer region's bucket, one rule per own prefix, distinct priorities", () => {
        const config = run.one(T.replication).inputs;
        assert.equal(config.bucket, "backups-acme-orders-us-east-1");
        assert.deepEqual(
            config.rules.map((r: any) => r.filter.prefix),
            ["pg-acme-orders-use1/", "logical/pg-acme-orders-use1/", "verification/pg-acme-orders-use1/", "fence/pg-acme-orders-use1.json"],
        );
        assert.deepEqual(config.rules.map((r: any) => r.priority), [1, 2, 3, 4]);
        assert.equal(new Set(config.rules.map((r: any) => r.id)).size, 4, "rule ids are unique");
        for (const r of config.rules) {
            assert.equal(r.status, "Enabled");
            assert.equal(r.destination.bucket, "arn:aws:s3:::backups-acme-orders-us-west-2");
            assert.deepEqual(r.deleteMarkerReplication, { status: "Enabled" }, "V2 rules with a filter must say it");
        }
    });

    it("carries nothing of the peer's cluster, so the peer's objects are never overwritten", () => {
        const prefixes: string[] = run.one(T.replication).inputs.rules.map((r: any) => r.filter.prefix);
        for (const peerKey of ["pg-acme-orders-usw2/wals/0000000100000000000000A1", "verification/pg-acme-orders-usw2/pg-acme-orders-use1/physical-latest.json", "fence/pg-acme-orders-usw2.json", "logical/pg-acme-orders-usw2/x.dump"]) {
            assert.ok(!prefixes.some((p) => peerKey.startsWith(p)), `${peerKey} would cross`);
        }
    });

    it("uses Replication Time Control (15 minutes) with replication metrics", () => {
        assert.deepEqual(rule.destination.replicationTime, { status: "Enabled", time: { minutes: 15 } });
        assert.deepEqual(rule.destination.metrics, { status: "Enabled", eventThreshold: { minutes: 15 } });
    });

    it("replicates delete markers", () => {
        assert.deepEqual(rule.deleteMarkerReplication, { status: "Enabled" });
    });

    it("replicates KMS-encrypted objects and re-encrypts them with the peer region's key", () => {
        assert.deepEqual(rule.sourceSelectionCriteria, { sseKmsEncryptedObjects: { status: "Enabled" } });
        assert.equal(
            rule.destination.encryptionConfiguration.replicaKmsKeyId,
            `arn:aws:kms:us-west-2:${TEST_ACCOUNT_ID}:alias/acme-orders-backups`,
        );
    });

    it("waits for this bucket's versioning and for the role's permissions", () => {
        const deps = run.one(T.replication).dependsOn;
        assert.ok(deps.includes(run.one(T.versioning).name), `dependsOn: ${deps}`);
        assert.ok(deps.includes(PERMISSIONS), `dependsOn: ${deps}`);
    });

    it("assumes a role only S3 may assume, for this account and bucket", () => {
        const role = run.byName(ROLE);
        assert.equal(run.one(T.replication).inputs.role, `arn:aws:iam::${TEST_ACCOUNT_ID}:role/${role.name}`);
        const [trust] = JSON.parse(role.inputs.assumeRolePolicy).Statement;
        assert.deepEqual(trust.Principal, { Service: "s3.amazonaws.com" });
        assert.equal(trust.Action, "sts:AssumeRole");
        assert.deepEqual(trust.Condition.StringEquals, { "aws:SourceAccount": TEST_ACCOUNT_ID });
        assert.deepEqual(trust.Condition.ArnLike, { "aws:SourceArn": "arn:aws:s3:::backups-acme-orders-us-east-1" });
    });

    it("grants least privilege: read here, replicate there, nothing else", () => {
        const policy = JSON.parse(run.byName(PERMISSIONS).inputs.policy);
        const actions = policy.Statement.flatMap((s: any) => [].concat(s.Action));
        assert.ok(actions.every((a: string) => !a.includes("*")), `wildcard action in ${actions}`);
        assert.ok(policy.Statement.every((s: any) => s.Effect === "Allow" && s.Resource !== "*"));
        assert.equal(statement(run, "ReadSourceReplicationConfiguration").Resource, "arn:aws:s3:::backups-acme-orders-us-east-1");
        assert.deepEqual(statement(run, "ReadSourceObjectVersions").Resource, OWN_PREFIXES.map((p) => `arn:aws:s3:::backups-acme-orders-us-east-1/${p}*`));
        const write = statement(run, "WriteReplicasToPeerBucket");
        assert.deepEqual(write.Action, ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"]);
        assert.deepEqual(write.Resource, OWN_PREFIXES.map((p) => `arn:aws:s3:::backups-acme-orders-us-west-2/${p}*`));
    });

    it("reads Object Lock retention when the buckets use Object Lock", () => {
        assert.ok(statement(run, "ReadSourceObjectVersions").Action.includes("s3:GetObjectRetention"));
    });

    it("may decrypt only with this region's key, via S3, for this bucket", () => {
        const decrypt = statement(run, "DecryptSourceObjects");
        assert.equal(decrypt.Action, "kms:Decrypt");
        assert.match(decrypt.Resource, new RegExp(`key/${run.one(T.key).name}$`));
        assert.equal(decrypt.Condition.StringEquals["kms:ViaService"], "s3.us-east-1.amazonaws.com");
    });

    it("may encrypt only with the peer's key, selected by alias, via S3 in the peer region", () => {
        const encrypt = statement(run, "EncryptReplicasWithPeerKey");
        assert.equal(encrypt.Resource, `arn:aws:kms:us-west-2:${TEST_ACCOUNT_ID}:key/*`);
        assert.deepEqual(encrypt.Condition["ForAnyValue:StringEquals"], { "kms:ResourceAliases": "alias/acme-orders-backups" });
        assert.equal(encrypt.Condition.StringEquals["kms:ViaService"], "s3.us-west-2.amazonaws.com");
        assert.deepEqual(encrypt.Condition.StringLike["kms:EncryptionContext:aws:s3:arn"], [
            "arn:aws:s3:::backups-acme-orders-us-west-2",
            "arn:aws:s3:::backups-acme-orders-us-west-2/*",
        ]);
    });
});

describe("replication does not follow the role", () => {
    it("the standby stack replicates its own cluster's prefixes into the primary region's bucket", async () => {
        const run = await runProgram("dr");
        const config = run.one(T.replication).inputs;
        assert.equal(config.bucket, "backups-acme-orders-us-west-2");
        assert.deepEqual(
            config.rules.map((r: any) => r.filter.prefix),
            ["pg-acme-orders-usw2/", "logical/pg-acme-orders-usw2/", "verification/pg-acme-orders-usw2/", "fence/pg-acme-orders-usw2.json"],
        );
        for (const r of config.rules) {
            assert.equal(r.destination.bucket, "arn:aws:s3:::backups-acme-orders-us-east-1");
            assert.equal(r.destination.encryptionConfiguration.replicaKmsKeyId, `arn:aws:kms:us-east-1:${TEST_ACCOUNT_ID}:alias/acme-orders-backups`);
        }
        assert.equal(run.outputs.replication.destinationBucket, "backups-acme-orders-us-east-1");
    });

    it("demoting the primary stack (role: standby) keeps its replication: the last WAL of the demotion still crosses", async () => {
        const run = await runProgram("primary", { "drstack:role": "standby" });
        assert.equal(run.one(T.replication).inputs.rules[0].filter.prefix, BUCKET_PREFIXES.barman(OWN));
        assert.equal(run.ofType(T.bucket).length, 1, "the bucket and its backups stay");
    });

    it("replication can be held off (drstack:replication.enabled: false), whatever the role", async () => {
        for (const stack of ["primary", "dr"]) {
            const run = await runProgram(stack, { "drstack:replication.enabled": false });
            assert.equal(run.ofType(T.replication).length, 0, stack);
            assert.match(run.outputs.replication, /^off \(drstack:replication\.enabled is false\)/);
        }
    });

    it("without RTC there is no replication-time rule, but metrics stay on", async () => {
        const run = await runProgram("primary", { "drstack:replication.replicationTimeControl": false });
        for (const { destination } of run.one(T.replication).inputs.rules) {
            assert.equal(destination.replicationTime, undefined);
            assert.deepEqual(destination.metrics, { status: "Enabled" });
        }
    });

    it("without Object Lock the role cannot read retention settings", async () => {
        const run = await runProgram("primary", { "drstack:backupBucket.objectLock": undefined });
        assert.ok(!statement(run, "ReadSourceObjectVersions").Action.includes("s3:GetObjectRetention"));
    });
});
