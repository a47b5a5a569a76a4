// The backup bucket each stack declares, asserted on the inputs the program sends to the engine.
import { strict as assert } from "assert";
import { uploadEncryptionProblems } from "../../model/uploadEncryption";
import { ProgramRun, runProgram } from "../support/program";

const T = {
    bucket: "aws:s3/bucket:Bucket",
    key: "aws:kms/key:Key",
    alias: "aws:kms/alias:Alias",
    versioning: "aws:s3/bucketVersioning:BucketVersioning",
    encryption: "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    publicAccess: "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    policy: "aws:s3/bucketPolicy:BucketPolicy",
    lifecycle: "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    objectLock: "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
    ownership: "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
};

function rule(run: ProgramRun, id: string) {
    const found = run.one(T.lifecycle).inputs.rules.find((r: any) => r.id === id);
    assert.ok(found, `no lifecycle rule ${id}`);
    return found;
}

for (const [stack, region] of [["primary", "us-east-1"], ["dr", "us-west-2"]] as const) {
    describe(`backup bucket (${stack} stack)`, () => {
        let run: ProgramRun;
        let bucketId: string;
        before(async () => {
            run = await runProgram(stack);
            bucketId = `${run.one(T.bucket).name}-id`;
        });

        it("is named for its region and protected from deletion, with its key", () => {
            const bucket = run.one(T.bucket);
            assert.equal(bucket.inputs.bucket, `backups-acme-orders-${region}`);
            assert.equal(bucket.inputs.forceDestroy, false);
            assert.equal(bucket.protect, true);
            assert.equal(run.one(T.key).protect, true);
            assert.equal(run.outputs.backupBucket, `backups-acme-orders-${region}`);
        });

        it("declares no deprecated inline bucket settings", () => {
            const inputs = run.one(T.bucket).inputs;
            for (const inline of ["versioning", "serverSideEncryptionConfiguration", "lifecycleRules", "replicationConfiguration", "policy", "acl"]) {
                assert.equal(inputs[inline], undefined, inline);
            }
        });

        it("turns versioning on", () => {
            const v = run.one(T.versioning);
            assert.equal(v.inputs.bucket, bucketId);
            assert.deepEqual(v.inputs.versioningConfiguration, { status: "Enabled" });
        });

        it("encrypts with its own rotating customer-managed KMS key", () => {
            const key = run.one(T.key);
            assert.equal(key.inputs.enableKeyRotation, true);
            assert.equal(key.inputs.deletionWindowInDays, 30);
            const [encryptionRule] = run.one(T.encryption).inputs.rules;
            assert.equal(encryptionRule.applyServerSideEncryptionByDefault.sseAlgorithm, "aws:kms");
            assert.match(encryptionRule.applyServerSideEncryptionByDefault.kmsMasterKeyId, new RegExp(`key/${key.name}$`));
            assert.equal(encryptionRule.bucketKeyEnabled, true);
            assert.equal(run.one(T.alias).inputs.name, "alias/acme-orders-backups");
            assert.equal(run.one(T.alias).inputs.targetKeyId, `${key.name}-key-id`);
        });

        it("blocks all public access and disables ACLs", () => {
            const block = run.one(T.publicAccess).inputs;
            assert.deepEqual(
                [block.blockPublicAcls, block.blockPublicPolicy, block.ignorePublicAcls, block.restrictPublicBuckets],
                [true, true, true, true],
            );
            assert.equal(run.one(T.ownership).inputs.rule.objectOwnership, "BucketOwnerEnforced");
        });

        it("has a bucket policy that denies plaintext transport and non-KMS uploads", () => {
            const policy = JSON.parse(run.one(T.policy).inputs.policy);
            const bucketArn = `arn:aws:s3:::backups-acme-orders-${region}`;
            const tls = policy.Statement.find((s: any) => s.Sid === "DenyInsecureTransport");
            assert.equal(tls.Effect, "Deny");
            assert.equal(tls.Action, "s3:*");
            assert.deepEqual(tls.Resource, [bucketArn, `${bucketArn}/*`]);
            assert.deepEqual(tls.Condition, { Bool: { "aws:SecureTransport": "false" } });
            const sse = policy.Statement.find((s: any) => s.Sid === "DenyNonKmsEncryption");
            assert.equal(sse.Effect, "Deny");
            assert.equal(sse.Action, "s3:PutObject");
            assert.deepEqual(sse.Condition.StringNotEquals, { "s3:x-amz-server-side-encryption": "aws:kms" });
            const otherKeys = policy.Statement.find((s: any) => s.Sid === "DenyOtherKmsKeys");
            assert.match(otherKeys.Condition.StringNotEquals["s3:x-amz-server-side-encryption-aws-kms-key-id"], /:key\//);
            // Evaluated with IAM semantics: only the bucket's own key, or no header (bucket default), gets through.
            const keyArn = run.one(T.encryption).inputs.rules[0].applyServerSideEncryptionByDefault.kmsMasterKeyId;
            assert.equal(otherKeys.Condition.StringNotEquals["s3:x-amz-server-side-encryption-aws-kms-key-id"], keyArn);
            assert.deepEqual(uploadEncryptionProblems(policy, keyArn), []);
            const noKeyId = policy.Statement.find((s: any) => s.Sid === "DenyKmsWithoutKeyId");
            assert.deepEqual(noKeyId.Condition, { StringEquals: { "s3:x-amz-server-side-encryption": "aws:kms" }, Null: { "s3:x-amz-server-side-encryption-aws-kms-key-id": "true" } });
        });

        it("aborts incomplete multipart uploads", () => {
            assert.deepEqual(rule(run, "abort-incomplete-uploads").abortIncompleteMultipartUpload, { daysAfterInitiation: 3 });
        });

        it("keeps noncurrent versions for the recovery window from config", () => {
            assert.deepEqual(rule(run, "keep-noncurrent-versions-for-recovery-window").noncurrentVersionExpiration, { noncurrentDays: 30 });
            assert.equal(rule(run, "remove-expired-delete-markers").expiration.expiredObjectDeleteMarker, true);
        });

        it("moves long-term archives to cold storage and keeps them 7 years", () => {
            const archive = rule(run, "long-term-archive-to-cold-storage");
            assert.deepEqual(archive.filter, { prefix: "archive/" });
            assert.deepEqual(archive.transitions, [{ days: 30, storageClass: "DEEP_ARCHIVE" }]);
            assert.deepEqual(archive.expiration, { days: 2557 });
        });

        it("applies lifecycle and Object Lock only after versioning", () => {
            assert.deepEqual(run.one(T.lifecycle).dependsOn, [run.one(T.versioning).name]);
            assert.deepEqual(run.one(T.objectLock).dependsOn, [run.one(T.versioning).name]);
        });

        it("enables Object Lock with the configured default retention", () => {
            assert.equal(run.one(T.bucket).inputs.objectLockEnabled, true);
            const lock = run.one(T.objectLock).inputs;
            assert.equal(lock.objectLockEnabled, "Enabled");
            assert.deepEqual(lock.rule, { defaultRetention: { mode: "GOVERNANCE", days: 14 } });
        });
    });
}

describe("backup bucket settings follow the config", () => {
    it("lifecycle day counts move with the recovery window and archive settings", async () => {
        const run = await runProgram("primary", {
            "drstack:recoveryWindow": "6w",
            "drstack:backupBucket.longTermArchive": { prefix: "yearly/", transitionAfter: "90d", storageClass: "GLACIER", retention: "10y" },
            "drstack:backupBucket.abortIncompleteUploadsAfter": "1d",
        });
        assert.deepEqual(rule(run, "keep-noncurrent-versions-for-recovery-window").noncurrentVersionExpiration, { noncurrentDays: 42 });
        const archive = rule(run, "long-term-archive-to-cold-storage");
        assert.deepEqual(archive.filter, { prefix: "yearly/" });
        assert.deepEqual(archive.transitions, [{ days: 90, storageClass: "GLACIER" }]);
        assert.deepEqual(archive.expiration, { days: 3653 });
        assert.deepEqual(rule(run, "abort-incomplete-uploads").abortIncompleteMultipartUpload, { daysAfterInitiation: 1 });
    });

    it("a longer noncurrent retention is honoured", async () => {
        const run = await runProgram("dr", { "drstack:backupBucket.noncurrentVersionRetention": "90d" });
        assert.deepEqual(rule(run, "keep-noncurrent-versions-for-recovery-window").noncurrentVersionExpiration, { noncurrentDays: 90 });
    });

    it("Object Lock off: no lock configuration and the bucket is created without it", async () => {
        const run = await runProgram("primary", { "drstack:backupBucket.objectLock": undefined });
        assert.equal(run.ofType(T.objectLock).length, 0);
        assert.equal(run.one(T.bucket).inputs.objectLockEnabled, false);
    });

    it("COMPLIANCE mode is passed through", async () => {
        const run = await runProgram("primary", { "drstack:backupBucket.objectLock": { mode: "COMPLIANCE", retention: "1y" } });
        assert.deepEqual(run.one(T.objectLock).inputs.rule, { defaultRetention: { mode: "COMPLIANCE", days: 366 } });
    });

    it("protection can be switched off for throwaway environments", async () => {
        const run = await runProgram("primary", { "drstack:backupBucket.protect": false });
        assert.equal(run.one(T.bucket).protect, false);
        assert.equal(run.one(T.key).protect, false);
    });
});
