// S3 backup buckets: versioning, KMS, public access, TLS-only, lifecycle retention, Object Lock.
// Resource policies check each S3 setting resource; the stack policy checks that every backup
// bucket has all of them. Backup buckets are found by the contract's purpose tag.

import { PolicyResource } from "@pulumi/policy";
import { BACKUP_PURPOSE_TAG } from "../model/contract";
import { uploadEncryptionProblems } from "../model/uploadEncryption";
import { T } from "./stack";
import { describe, fixedIn, resourcePolicy, setting, stackPolicy, target, targetsOf } from "./targets";

export { BACKUP_PURPOSE_TAG };
const BUCKET_FILE = "components/storage/backupBucket.ts";

export const bucketVersioning = resourcePolicy({
    name: "backup-bucket-versioning",
    description: "Backup buckets keep every version: an overwritten or deleted backup stays restorable.",
    types: [T.bucketVersioning],
    validate: (v, args, report) => {
        const status = v.versioningConfiguration?.status;
        if (status !== "Enabled") {
            report(
                `${describe(args)}: versioningConfiguration.status is ${JSON.stringify(status)}; it must be "Enabled" (backups must survive overwrites and deletes within the recovery window)`,
                fixedIn(BUCKET_FILE),
            );
        }
    },
});

export const bucketKmsEncryption = resourcePolicy({
    name: "backup-bucket-kms-encryption",
    description: "Backup buckets encrypt by default with a customer-managed KMS key (SSE-KMS).",
    types: [T.bucketEncryption],
    validate: (sse, args, report) => {
        const rules: any[] = sse.rules ?? [];
        const byDefault = rules.map((r) => r.applyServerSideEncryptionByDefault).find((d) => d !== undefined);
        if (byDefault?.sseAlgorithm !== "aws:kms") {
            report(`${describe(args)}: default encryption is ${JSON.stringify(byDefault?.sseAlgorithm)}; it must be "aws:kms"`, fixedIn(BUCKET_FILE));
        } else if (!byDefault.kmsMasterKeyId) {
            report(`${describe(args)}: SSE-KMS names no key (kmsMasterKeyId), so the AWS-managed key is used; use the customer-managed key`, fixedIn(BUCKET_FILE));
        }
    },
});

export const keyRotation = resourcePolicy({
    name: "backup-key-rotation",
    description: "KMS keys that encrypt backups rotate automatically.",
    types: [T.kmsKey],
    validate: (key, args, report) => {
        if (key.enableKeyRotation !== true) {
            report(`${describe(args)}: enableKeyRotation is ${JSON.stringify(key.enableKeyRotation)}; it must be true`, fixedIn(BUCKET_FILE));
        }
    },
});

export const publicAccessBlocked = resourcePolicy({
    name: "backup-bucket-public-access-blocked",
    description: "Backup buckets block every kind of public access.",
    types: [T.bucketPublicAccessBlock],
    validate: (block, args, report) => {
        for (const setting of ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"] as const) {
            if (block[setting] !== true) {
                report(`${describe(args)}: ${setting} is ${JSON.stringify(block[setting])}; it must be true`, fixedIn(BUCKET_FILE));
            }
        }
    },
});

export const tlsOnly = resourcePolicy({
    name: "backup-bucket-tls-only",
    description: "Backup bucket policies deny any request not made over TLS.",
    types: [T.bucketPolicy],
    validate: (bp, args, report) => {
        let document: any;
        try {
            document = typeof bp.policy === "string" ? JSON.parse(bp.policy) : bp.policy;
        } catch {
            report(`${describe(args)}: policy is not valid JSON`, fixedIn(BUCKET_FILE));
            return;
        }
        const statements: any[] = [].concat(document?.Statement ?? []);
        const denies = statements.some(
            (s) =>
                s.Effect === "Deny" &&
                [].concat(s.Action).some((a: string) => a === "s3:*" || a === "*") &&
                String(s.Condition?.Bool?.["aws:SecureTransport"]) === "false",
        );
        if (!denies) {
            report(`${describe(args)}: no statement denies s3:* when aws:SecureTransport is false; backups must only move over TLS`, fixedIn(BUCKET_FILE));
        }
    },
});

export const noncurrentRetention = resourcePolicy({
    name: "backup-bucket-noncurrent-retention",
    description: "Lifecycle rules keep noncurrent versions at least as long as the recovery window.",
    types: [T.bucketLifecycle],
    targets: ["recoveryWindow"],
    validate: (lc, args, report) => {
        const t = targetsOf(args);
        const windowDays = Math.ceil(t.seconds("recoveryWindow") / 86400);
        const rules = ((lc.rules ?? []) as any[]).filter((r) => r.status === "Enabled");
        for (const r of rules) {
            const days = r.noncurrentVersionExpiration?.noncurrentDays;
            if (days !== undefined && days < windowDays) {
                report(
                    `${describe(args)}: rule ${r.id} noncurrentVersionExpiration.noncurrentDays is ${days}; the limit is at least ${windowDays} ` +
                        `(target recoveryWindow ${t.text("recoveryWindow")})`,
                    setting("backupBucket.noncurrentVersionRetention"),
                );
            }
            const wholeBucket = !r.filter?.prefix && !r.filter?.and && !r.filter?.tag && !r.prefix;
            if (wholeBucket && r.expiration?.days !== undefined && r.expiration.days < windowDays) {
                report(
                    `${describe(args)}: rule ${r.id} expires current objects of the whole bucket after ${r.expiration.days} days; ` +
                        `the limit is at least ${windowDays} (target recoveryWindow ${t.text("recoveryWindow")})`,
                    target("recoveryWindow"),
                );
            }
        }
        if (!rules.some((r) => r.noncurrentVersionExpiration !== undefined)) {
            report(
                `${describe(args)}: no rule expires noncurrent versions; add one keeping them ${windowDays} days (target recoveryWindow ${t.text("recoveryWindow")})`,
                fixedIn(BUCKET_FILE),
            );
        }
    },
});

export const objectLock = resourcePolicy({
    name: "backup-bucket-object-lock",
    description: "When required, backup buckets use S3 Object Lock with at least the minimum default retention.",
    types: [T.bucket, T.bucketObjectLock],
    targets: ["requireObjectLock", "minObjectLockRetention"],
    validate: (props, args, report) => {
        const t = targetsOf(args);
        if (args.type === T.bucket) {
            const tags = (props.tags ?? {}) as Record<string, string>;
            if (t.flag("requireObjectLock") && tags[BACKUP_PURPOSE_TAG.key] === BACKUP_PURPOSE_TAG.value && props.objectLockEnabled !== true) {
                report(`${describe(args)}: objectLockEnabled is ${JSON.stringify(props.objectLockEnabled)}; it must be true (target requireObjectLock)`, target("requireObjectLock"));
            }
            return;
        }
        const retention = props.rule?.defaultRetention;
        const days = (retention?.days ?? 0) + (retention?.years ?? 0) * 365;
        const minDays = Math.ceil(t.seconds("minObjectLockRetention") / 86400);
        if (!retention?.mode) {
            report(`${describe(args)}: rule.defaultRetention.mode is not set; use GOVERNANCE or COMPLIANCE`, setting("backupBucket.objectLock.mode"));
        }
        if (days < minDays) {
            report(
                `${describe(args)}: rule.defaultRetention is ${days} days; the limit is at least ${minDays} days ` +
                    `(target minObjectLockRetention ${t.text("minObjectLockRetention")})`,
                target("minObjectLockRetention"),
            );
        }
    },
});

const REQUIRED_SETTINGS: [string, string][] = [
    [T.bucketVersioning, "versioning"],
    [T.bucketEncryption, "default encryption"],
    [T.bucketPublicAccessBlock, "public access block"],
    [T.bucketPolicy, "bucket policy"],
    [T.bucketLifecycle, "lifecycle configuration"],
];

/** The S3 resources that configure the same bucket: its siblings under the same component. */
export function siblings(resource: PolicyResource, all: PolicyResource[]): PolicyResource[] {
    return all.filter((r) => r !== resource && r.parent !== undefined && r.parent?.urn === resource.parent?.urn);
}

export const backupBucketComplete = stackPolicy({
    name: "backup-bucket-complete",
    description: "Every backup bucket has versioning, default encryption, a public access block, a bucket policy and lifecycle rules (and Object Lock when required).",
    targets: ["requireObjectLock"],
    validate: (args, report) => {
        const t = targetsOf(args);
        const buckets = args.resources.filter((r) => r.type === T.bucket && (r.props.tags ?? {})[BACKUP_PURPOSE_TAG.key] === BACKUP_PURPOSE_TAG.value);
        if (buckets.length === 0) {
            report(`the stack declares no backup bucket (an aws.s3.Bucket tagged ${BACKUP_PURPOSE_TAG.key}=${BACKUP_PURPOSE_TAG.value})`, fixedIn(BUCKET_FILE));
        }
        for (const bucket of buckets) {
            const types = new Set(siblings(bucket, args.resources).map((r) => r.type));
            for (const [type, what] of REQUIRED_SETTINGS) {
                if (!types.has(type)) {
                    report(`${describe(bucket)} ${bucket.props.bucket}: has no ${what}`, fixedIn(BUCKET_FILE), bucket.urn);
                }
            }
            if (t.flag("requireObjectLock") && !types.has(T.bucketObjectLock)) {
                report(`${describe(bucket)} ${bucket.props.bucket}: has no Object Lock configuration (target requireObjectLock)`, target("requireObjectLock"), bucket.urn);
            }
        }
    },
});

/**
 * Uploads land only under the bucket's own KMS key: the bucket policy denies AES256, aws:kms without
 * a key id (S3 would use the AWS-managed aws/s3 key) and any other key id, and lets uploads with no
 * header through to the bucket default (model/uploadEncryption.ts evaluates the policy).
 */
export const uploadsUnderBucketKey = stackPolicy({
    name: "backup-bucket-uploads-under-bucket-key",
    description: "Backup bucket policies deny uploads encrypted under any key but the bucket's default customer-managed key.",
    validate: (args, report) => {
        for (const bp of args.resources.filter((r) => r.type === T.bucketPolicy)) {
            const sse = siblings(bp, args.resources).find((r) => r.type === T.bucketEncryption);
            const keyArn = ((sse?.props.rules ?? []) as any[]).map((r) => r.applyServerSideEncryptionByDefault?.kmsMasterKeyId).find((k) => typeof k === "string");
            if (keyArn === undefined) continue; // no default key: backup-bucket-kms-encryption reports it
            let document: any;
            try {
                document = typeof bp.props.policy === "string" ? JSON.parse(bp.props.policy) : bp.props.policy;
            } catch {
                continue; // backup-bucket-tls-only reports invalid JSON
            }
            for (const problem of uploadEncryptionProblems(document ?? {}, keyArn)) {
                report(`${describe(bp)}: the bucket policy ${problem}`, fixedIn(BUCKET_FILE), bp.urn);
            }
        }
    },
});

export const storagePolicies = [
    bucketVersioning,
    bucketKmsEncryption,
    keyRotation,
    publicAccessBlocked,
    tlsOnly,
    noncurrentRetention,
    objectLock,
    backupBucketComplete,
    uploadsUnderBucketKey,
];
