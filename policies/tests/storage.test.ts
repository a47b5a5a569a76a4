import { strict as assert } from "assert";
import {
    backupBucketComplete,
    bucketKmsEncryption,
    bucketVersioning,
    keyRotation,
    noncurrentRetention,
    objectLock,
    publicAccessBlocked,
    tlsOnly,
    uploadsUnderBucketKey,
} from "../storage";
import { COMPONENT_TYPES } from "../../model/contract";
import { Fixture, violations, withProp } from "./helpers";

const versioning: Fixture = { type: "aws:s3/bucketVersioning:BucketVersioning", props: { bucket: "b", versioningConfiguration: { status: "Enabled" } } };
const sse: Fixture = {
    type: "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    props: { bucket: "b", rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms", kmsMasterKeyId: "arn:aws:kms:us-east-1:1:key/k" }, bucketKeyEnabled: true }] },
};
const block: Fixture = {
    type: "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    props: { bucket: "b", blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true },
};
const tls: Fixture = {
    type: "aws:s3/bucketPolicy:BucketPolicy",
    props: {
        bucket: "b",
        policy: JSON.stringify({
            Version: "2012-10-17",
            Statement: [{ Effect: "Deny", Principal: "*", Action: "s3:*", Resource: ["arn:aws:s3:::b", "arn:aws:s3:::b/*"], Condition: { Bool: { "aws:SecureTransport": "false" } } }],
        }),
    },
};
const lifecycle: Fixture = {
    type: "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    props: {
        bucket: "b",
        rules: [
            { id: "noncurrent", status: "Enabled", filter: {}, noncurrentVersionExpiration: { noncurrentDays: 30 } },
            { id: "archive", status: "Enabled", filter: { prefix: "archive/" }, expiration: { days: 2557 } },
        ],
    },
};
const bucket: Fixture = { type: "aws:s3/bucket:Bucket", name: "bucket", props: { bucket: "b", objectLockEnabled: true, tags: { "drstack:purpose": "postgresql-backups" } } };
const lock: Fixture = {
    type: "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
    props: { bucket: "b", objectLockEnabled: "Enabled", rule: { defaultRetention: { mode: "GOVERNANCE", days: 14 } } },
};
const key: Fixture = { type: "aws:kms/key:Key", props: { enableKeyRotation: true } };

describe("policies: S3 backup buckets", () => {
    it("backup-bucket-versioning: passes when Enabled; fails when Suspended or unset", async () => {
        assert.deepEqual(await violations(bucketVersioning, versioning), []);
        assert.match((await violations(bucketVersioning, { ...versioning, props: withProp(versioning.props, "versioningConfiguration.status", "Suspended") }))[0], /versioningConfiguration\.status is "Suspended"; it must be "Enabled"/);
        assert.equal((await violations(bucketVersioning, { ...versioning, props: withProp(versioning.props, "versioningConfiguration", undefined) })).length, 1);
    });

    it("backup-bucket-versioning: not applicable to other types", async () => {
        assert.deepEqual(await violations(bucketVersioning, key), []);
    });

    it("backup-bucket-kms-encryption: passes with a customer key; fails for AES256 and for no key", async () => {
        assert.deepEqual(await violations(bucketKmsEncryption, sse), []);
        const aes = withProp(sse.props, "rules", [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }]);
        assert.match((await violations(bucketKmsEncryption, { ...sse, props: aes }))[0], /default encryption is "AES256"; it must be "aws:kms"/);
        const noKey = withProp(sse.props, "rules", [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms" } }]);
        assert.match((await violations(bucketKmsEncryption, { ...sse, props: noKey }))[0], /names no key \(kmsMasterKeyId\)/);
    });

    it("backup-key-rotation: fails when rotation is off", async () => {
        assert.deepEqual(await violations(keyRotation, key), []);
        assert.match((await violations(keyRotation, { ...key, props: { enableKeyRotation: false } }))[0], /enableKeyRotation is false; it must be true/);
    });

    for (const setting of ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"]) {
        it(`backup-bucket-public-access-blocked: fails when ${setting} is false`, async () => {
            assert.deepEqual(await violations(publicAccessBlocked, block), []);
            const found = await violations(publicAccessBlocked, { ...block, props: withProp(block.props, setting, false) });
            assert.deepEqual(found, [`res0 (BucketPublicAccessBlock): ${setting} is false; it must be true [fixed by drstack in components/storage/backupBucket.ts; no stack setting changes it]`]);
        });
    }

    it("backup-bucket-tls-only: fails without a deny on insecure transport", async () => {
        assert.deepEqual(await violations(tlsOnly, tls), []);
        const allowOnly = withProp(tls.props, "policy", JSON.stringify({ Statement: [{ Effect: "Allow", Action: "s3:GetObject", Principal: "*", Resource: "*" }] }));
        assert.match((await violations(tlsOnly, { ...tls, props: allowOnly }))[0], /no statement denies s3:\* when aws:SecureTransport is false/);
        assert.match((await violations(tlsOnly, { ...tls, props: withProp(tls.props, "policy", "{not json") }))[0], /policy is not valid JSON/);
    });

    it("backup-bucket-noncurrent-retention: passes at the window; fails below it, with no rule, or expiring current objects early", async () => {
        assert.deepEqual(await violations(noncurrentRetention, lifecycle), []);
        const short = withProp(lifecycle.props, "rules", [{ id: "noncurrent", status: "Enabled", filter: {}, noncurrentVersionExpiration: { noncurrentDays: 7 } }]);
        assert.match((await violations(noncurrentRetention, { ...lifecycle, props: short }))[0], /rule noncurrent noncurrentVersionExpiration\.noncurrentDays is 7; the limit is at least 30 \(target recoveryWindow 30d\) \[stack setting: drstack:backupBucket\.noncurrentVersionRetention\]/);
        const none = withProp(lifecycle.props, "rules", [lifecycle.props.rules[1]]);
        assert.match((await violations(noncurrentRetention, { ...lifecycle, props: none }))[0], /no rule expires noncurrent versions/);
        const expiring = withProp(lifecycle.props, "rules", [...lifecycle.props.rules, { id: "purge", status: "Enabled", filter: {}, expiration: { days: 10 } }]);
        assert.match((await violations(noncurrentRetention, { ...lifecycle, props: expiring }))[0], /rule purge expires current objects of the whole bucket after 10 days/);
    });

    it("backup-bucket-noncurrent-retention: the window comes from the pack config", async () => {
        assert.match((await violations(noncurrentRetention, lifecycle, { recoveryWindow: "45d" }))[0], /is 30; the limit is at least 45 \(target recoveryWindow 45d\)/);
    });

    it("backup-bucket-object-lock: fails when a backup bucket has no Object Lock, or the retention is short", async () => {
        assert.deepEqual(await violations(objectLock, [bucket, lock]), []);
        assert.match((await violations(objectLock, { ...bucket, props: withProp(bucket.props, "objectLockEnabled", false) }))[0], /objectLockEnabled is false; it must be true \(target requireObjectLock\)/);
        assert.match((await violations(objectLock, { ...lock, props: withProp(lock.props, "rule.defaultRetention.days", 3) }))[0], /rule\.defaultRetention is 3 days; the limit is at least 7 days/);
        assert.match((await violations(objectLock, { ...lock, props: withProp(lock.props, "rule.defaultRetention.mode", undefined) }))[0], /mode is not set/);
    });

    it("backup-bucket-object-lock: not required when the config says so", async () => {
        assert.deepEqual(await violations(objectLock, { ...bucket, props: withProp(bucket.props, "objectLockEnabled", false) }, { requireObjectLock: false }), []);
    });

    it("backup-bucket-complete: every backup bucket has all its settings; a missing one is named", async () => {
        const children = [versioning, sse, block, tls, lifecycle, lock].map((f) => ({ ...f, parent: "component" }));
        const component: Fixture = { type: COMPONENT_TYPES.backupBucket, name: "component", props: {} };
        const full = [component, { ...bucket, parent: "component" }, ...children];
        assert.deepEqual(await violations(backupBucketComplete, full), []);
        const noVersioning = full.filter((f) => f !== children[0]);
        assert.deepEqual(await violations(backupBucketComplete, noVersioning), ["bucket (Bucket) b: has no versioning [fixed by drstack in components/storage/backupBucket.ts; no stack setting changes it]"]);
        assert.match((await violations(backupBucketComplete, [component]))[0], /declares no backup bucket/);
    });

    it("backup-bucket-uploads-under-bucket-key: denies AES256, aws:kms without a key id and other keys; allows no header", async () => {
        const keyArn = sse.props.rules[0].applyServerSideEncryptionByDefault.kmsMasterKeyId;
        const deny = (Sid: string, Condition: object) => ({ Sid, Effect: "Deny", Principal: "*", Action: "s3:PutObject", Resource: "arn:aws:s3:::b/*", Condition });
        const statements = [
            deny("DenyNonKmsEncryption", { Null: { "s3:x-amz-server-side-encryption": "false" }, StringNotEquals: { "s3:x-amz-server-side-encryption": "aws:kms" } }),
            deny("DenyKmsWithoutKeyId", { StringEquals: { "s3:x-amz-server-side-encryption": "aws:kms" }, Null: { "s3:x-amz-server-side-encryption-aws-kms-key-id": "true" } }),
            deny("DenyOtherKmsKeys", { Null: { "s3:x-amz-server-side-encryption-aws-kms-key-id": "false" }, StringNotEquals: { "s3:x-amz-server-side-encryption-aws-kms-key-id": keyArn } }),
        ];
        const withPolicy = (list: object[]) => [
            { ...sse, parent: "component" },
            { ...tls, parent: "component", props: withProp(tls.props, "policy", JSON.stringify({ Statement: list })) },
            { type: COMPONENT_TYPES.backupBucket, name: "component", props: {} },
        ];
        assert.deepEqual(await violations(uploadsUnderBucketKey, withPolicy(statements)), []);
        // The policy shipped before: aws:kms with no key id went through, to the AWS-managed key.
        assert.match((await violations(uploadsUnderBucketKey, withPolicy([statements[0], statements[2]])))[0], /allows a PutObject with aws:kms without a key id/);
        assert.match((await violations(uploadsUnderBucketKey, withPolicy([statements[1], statements[2]])))[0], /allows a PutObject with AES256/);
        // Requiring the header outright would reject uploads relying on the bucket default.
        const requireHeader = deny("RequireHeader", { Null: { "s3:x-amz-server-side-encryption": "true" } });
        assert.match((await violations(uploadsUnderBucketKey, withPolicy([...statements, requireHeader])))[0], /denies a PutObject with no encryption header .*RequireHeader/);
    });
});
