// S3 backup buckets: versioning, KMS, public access, TLS-only, lifecycle retention, Object Lock.
// Resource policies check each S3 setting resource; the stack policy checks that every backup
// bucket has all of them.

import * as aws from "@pulumi/aws";
import { PolicyResource, ResourceValidationPolicy, StackValidationPolicy, validateResourceOfType } from "@pulumi/policy";
import { describe, targetsOf, targetsSchema } from "./targets";

/** Backup buckets carry this tag (components/drRegion.ts). */
export const BACKUP_PURPOSE_TAG = { key: "drstack:purpose", value: "postgresql-backups" };

export const bucketVersioning: ResourceValidationPolicy = {
    name: "backup-bucket-versioning",
    description: "Backup buckets keep every version: an overwritten or deleted backup stays restorable.",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(aws.s3.BucketVersioning, (v, args, report) => {
        const status = v.versioningConfiguration?.status;
        if (status !== "Enabled") {
            report(`${describe(args)}: versioningConfiguration.status is ${JSON.stringify(status)}; it must be "Enabled" (backups must survive overwrites and deletes within the recovery window)`);
        }
    }),
};

export const bucketKmsEncryption: ResourceValidationPolicy = {
    name: "backup-bucket-kms-encryption",
    description: "Backup buckets encrypt by default with a customer-managed KMS key (SSE-KMS).",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(aws.s3.BucketServerSideEncryptionConfiguration, (sse, args, report) => {
        const rules = sse.rules ?? [];
        const byDefault = rules.map((r) => r.applyServerSideEncryptionByDefault).find((d) => d !== undefined);
        if (byDefault?.sseAlgorithm !== "aws:kms") {
            report(`${describe(args)}: default encryption is ${JSON.stringify(byDefault?.sseAlgorithm)}; it must be "aws:kms"`);
        } else if (!byDefault.kmsMasterKeyId) {
            report(`${describe(args)}: SSE-KMS names no key (kmsMasterKeyId), so the AWS-managed key is used; use the customer-managed key`);
        }
    }),
};

export const keyRotation: ResourceValidationPolicy = {
    name: "backup-key-rotation",
    description: "KMS keys that encrypt backups rotate automatically.",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(aws.kms.Key, (key, args, report) => {
        if (key.enableKeyRotation !== true) {
            report(`${describe(args)}: enableKeyRotation is ${JSON.stringify(key.enableKeyRotation)}; it must be true`);
        }
    }),
};

export const publicAccessBlocked: ResourceValidationPolicy = {
    name: "backup-bucket-public-access-blocked",
    description: "Backup buckets block every kind of public access.",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(aws.s3.BucketPublicAccessBlock, (block, args, report) => {
        for (const setting of ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"] as const) {
            if (block[setting] !== true) {
                report(`${describe(args)}: ${setting} is ${JSON.stringify(block[setting])}; it must be true`);
            }
        }
    }),
};

export const tlsOnly: ResourceValidationPolicy = {
    name: "backup-bucket-tls-only",
    description: "Backup bucket policies deny any request not made over TLS.",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(aws.s3.BucketPolicy, (bp, args, report) => {
        let document: any;
        try {
            document = typeof bp.policy === "string" ? JSON.parse(bp.policy) : bp.policy;
        } catch {
            report(`${describe(args)}: policy is not valid JSON`);
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
            report(`${describe(args)}: no statement denies s3:* when aws:SecureTransport is false; backups must only move over TLS`);
        }
    }),
};

export const noncurrentRetention: ResourceValidationPolicy = {
    name: "backup-bucket-noncurrent-retention",
    description: "Lifecycle rules keep noncurrent versions at least as long as the recovery window.",
    enforcementLevel: "mandatory",
    configSchema: targetsSchema("recoveryWindow"),
    validateResource: validateResourceOfType(aws.s3.BucketLifecycleConfiguration, (lc, args, report) => {
        const t = targetsOf(args);
        const windowDays = Math.ceil(t.seconds("recoveryWindow") / 86400);
        const rules = (lc.rules ?? []).filter((r) => r.status === "Enabled");
        for (const r of rules) {
            const days = r.noncurrentVersionExpiration?.noncurrentDays;
            if (days !== undefined && days < windowDays) {
                report(
                    `${describe(args)}: rule ${r.id} noncurrentVersionExpiration.noncurrentDays is ${days}; the limit is at least ${windowDays} ` +
                        `(target recoveryWindow ${t.text("recoveryWindow")})`,
                );
            }
            const wholeBucket = !r.filter?.prefix && !r.filter?.and && !r.filter?.tag && !r.prefix;
            if (wholeBucket && r.expiration?.days !== undefined && r.expiration.days < windowDays) {
                report(
                    `${describe(args)}: rule ${r.id} expires current objects of the whole bucket after ${r.expiration.days} days; ` +
                        `the limit is at least ${windowDays} (target recoveryWindow ${t.text("recoveryWindow")})`,
                );
            }
        }
        if (!rules.some((r) => r.noncurrentVersionExpiration !== undefined)) {
            report(`${describe(args)}: no rule expires noncurrent versions; add one keeping them ${windowDays} days (target recoveryWindow ${t.text("recoveryWindow")})`);
        }
    }),
};

export const objectLock: ResourceValidationPolicy = {
    name: "backup-bucket-object-lock",
    description: "When required, backup buckets use S3 Object Lock with at least the minimum default retention.",
    enforcementLevel: "mandatory",
    configSchema: targetsSchema("requireObjectLock", "minObjectLockRetention"),
    validateResource: [
        validateResourceOfType(aws.s3.Bucket, (bucket, args, report) => {
            const t = targetsOf(args);
            const tags = (bucket.tags ?? {}) as Record<string, string>;
            if (t.flag("requireObjectLock") && tags[BACKUP_PURPOSE_TAG.key] === BACKUP_PURPOSE_TAG.value && bucket.objectLockEnabled !== true) {
                report(`${describe(args)}: objectLockEnabled is ${JSON.stringify(bucket.objectLockEnabled)}; it must be true (target requireObjectLock)`);
            }
        }),
        validateResourceOfType(aws.s3.BucketObjectLockConfiguration, (lock, args, report) => {
            const t = targetsOf(args);
            const retention = lock.rule?.defaultRetention;
            const days = (retention?.days ?? 0) + (retention?.years ?? 0) * 365;
            const minDays = Math.ceil(t.seconds("minObjectLockRetention") / 86400);
            if (!retention?.mode) {
                report(`${describe(args)}: rule.defaultRetention.mode is not set; use GOVERNANCE or COMPLIANCE`);
            }
            if (days < minDays) {
                report(
                    `${describe(args)}: rule.defaultRetention is ${days} days; the limit is at least ${minDays} days ` +
                        `(target minObjectLockRetention ${t.text("minObjectLockRetention")})`,
                );
            }
        }),
    ],
};

const REQUIRED_SETTINGS: [string, string][] = [
    ["aws:s3/bucketVersioning:BucketVersioning", "versioning"],
    ["aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "default encryption"],
    ["aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "public access block"],
    ["aws:s3/bucketPolicy:BucketPolicy", "bucket policy"],
    ["aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "lifecycle configuration"],
];

/** The S3 resources that configure the same bucket: its siblings under the same component. */
export function siblings(resource: PolicyResource, all: PolicyResource[]): PolicyResource[] {
    return all.filter((r) => r !== resource && r.parent !== undefined && r.parent?.urn === resource.parent?.urn);
}

export const backupBucketComplete: StackValidationPolicy = {
    name: "backup-bucket-complete",
    description: "Every backup bucket has versioning, default encryption, a public access block, a bucket policy and lifecycle rules (and Object Lock when required).",
    enforcementLevel: "mandatory",
    configSchema: targetsSchema("requireObjectLock"),
    validateStack: (args, report) => {
        const t = targetsOf(args);
        const buckets = args.resources.filter(
            (r) => r.type === "aws:s3/bucket:Bucket" && (r.props.tags ?? {})[BACKUP_PURPOSE_TAG.key] === BACKUP_PURPOSE_TAG.value,
        );
        if (buckets.length === 0) {
            report(`the stack declares no backup bucket (an aws.s3.Bucket tagged ${BACKUP_PURPOSE_TAG.key}=${BACKUP_PURPOSE_TAG.value})`);
        }
        for (const bucket of buckets) {
            const types = new Set(siblings(bucket, args.resources).map((r) => r.type));
            const required = [...REQUIRED_SETTINGS];
            if (t.flag("requireObjectLock")) {
                required.push(["aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration", "Object Lock configuration (target requireObjectLock)"]);
            }
            for (const [type, what] of required) {
                if (!types.has(type)) {
                    report(`${describe(bucket)} ${bucket.props.bucket}: has no ${what}`, bucket.urn);
                }
            }
        }
    },
};

export const storagePolicies = [
    bucketVersioning,
    bucketKmsEncryption,
    keyRotation,
    publicAccessBlocked,
    tlsOnly,
    noncurrentRetention,
    objectLock,
    backupBucketComplete,
];
