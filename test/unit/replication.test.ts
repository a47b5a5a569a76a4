// Cross-region replication: runs from whichever stack is primary to its peer, with RTC,
// metrics, delete markers and KMS re-encryption, and a role that can do only that.
import { strict as assert } from "assert";
import { TEST_ACCOUNT_ID } from "../support/mocks";
import { ProgramRun, runProgram } from "../support/program";
import { PROMOTE_DR } from "../support/promotion";

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
    });

    it("replicates this region's bucket into the peer region's bucket", () => {
        const config = run.one(T.replication).inputs;
        assert.equal(config.bucket, "backups-acme-orders-us-east-1");
        assert.equal(config.rules.length, 1);
        assert.equal(rule.status, "Enabled");
        assert.deepEqual(rule.filter, {}, "every object: WAL, base backups and dumps");
        assert.equal(rule.destination.bucket, "arn:aws:s3:::backups-acme-orders-us-west-2");
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
        assert.equal(statement(run, "ReadSourceObjectVersions").Resource, "arn:aws:s3:::backups-acme-orders-us-east-1/*");
        const write = statement(run, "WriteReplicasToPeerBucket");
        assert.deepEqual(write.Action, ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"]);
        assert.equal(write.Resource, "arn:aws:s3:::backups-acme-orders-us-west-2/*");
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

describe("replication follows the role", () => {
    it("the standby stack declares no replication (its bucket is the destination)", async () => {
        const run = await runProgram("dr");
        assert.equal(run.ofType(T.replication).length, 0);
        assert.ok(!run.resources.some((r) => r.name === ROLE));
        assert.match(run.outputs.replication, /^off/);
    });

    it("promoting the DR stack (role: primary) replicates back to the old primary region, for failback", async () => {
        const run = await runProgram("dr", PROMOTE_DR, { peers: { "acme/drstack/primary": { role: "standby" } } });
        const config = run.one(T.replication).inputs;
        assert.equal(config.bucket, "backups-acme-orders-us-west-2");
        assert.equal(config.rules[0].destination.bucket, "arn:aws:s3:::backups-acme-orders-us-east-1");
        assert.equal(
            config.rules[0].destination.encryptionConfiguration.replicaKmsKeyId,
            `arn:aws:kms:us-east-1:${TEST_ACCOUNT_ID}:alias/acme-orders-backups`,
        );
        assert.equal(run.outputs.role, "primary");
    });

    it("demoting the primary stack (role: standby) removes its replication", async () => {
        const run = await runProgram("primary", { "drstack:role": "standby" });
        assert.equal(run.ofType(T.replication).length, 0);
        assert.equal(run.ofType(T.bucket).length, 1, "the bucket and its backups stay");
    });

    it("replication can be held off (e.g. while the peer region is down)", async () => {
        const run = await runProgram("primary", { "drstack:replication.enabled": false });
        assert.equal(run.ofType(T.replication).length, 0);
    });

    it("without RTC there is no replication-time rule, but metrics stay on", async () => {
        const run = await runProgram("primary", { "drstack:replication.replicationTimeControl": false });
        const destination = run.one(T.replication).inputs.rules[0].destination;
        assert.equal(destination.replicationTime, undefined);
        assert.deepEqual(destination.metrics, { status: "Enabled" });
    });

    it("without Object Lock the role cannot read retention settings", async () => {
        const run = await runProgram("primary", { "drstack:backupBucket.objectLock": undefined });
        assert.ok(!statement(run, "ReadSourceObjectVersions").Action.includes("s3:GetObjectRetention"));
    });
});
