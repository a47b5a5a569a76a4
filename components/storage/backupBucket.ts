// The backup bucket of one region: WAL archives, base backups and logical dumps land here.
// Built from the @pulumi/aws 7 split S3 resources; every setting that decides whether a backup
// survives (versioning, KMS, public block, TLS, lifecycle, Object Lock) is its own child resource.

import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { COMPONENT_TYPES } from "../../model/contract";

export interface BackupBucketArgs {
    /** Globally unique S3 bucket name (derived from the prefix and region by the config module). */
    bucketName: string;
    /** KMS alias for the bucket's customer-managed key, e.g. `alias/acme-backups`; the peer stack derives it too. */
    keyAlias: string;
    /** Days noncurrent (overwritten or deleted) versions are kept: at least the recovery window. */
    noncurrentVersionDays: number;
    /** Days after which incomplete multipart uploads (interrupted backups) are aborted. */
    abortIncompleteUploadDays: number;
    /** Long-term archives (monthly/yearly) moved to cold storage and expired after their retention. */
    longTermArchive: {
        /** Key prefix the archives live under, ending in "/". */
        prefix: string;
        /** Days after upload when archives move to `storageClass`. */
        transitionDays: number;
        /** The cold S3 storage class, e.g. DEEP_ARCHIVE. */
        storageClass: string;
        /** Days after upload when archives expire (7 years in the runbooks). */
        expirationDays: number;
    };
    /** S3 Object Lock default retention; omit to leave Object Lock off. Can only be turned on at bucket creation. */
    objectLock?: {
        /** GOVERNANCE (privileged users may lift it) or COMPLIANCE (nobody may, not even root). */
        mode: "GOVERNANCE" | "COMPLIANCE";
        /** Default retention in days applied to every new object version. */
        days: number;
    };
    /** Protect the bucket and key from `pulumi destroy` and from replacements. */
    protect: boolean;
    /** Tags for every taggable child. */
    tags?: Record<string, string>;
}

export class BackupBucket extends pulumi.ComponentResource {
    public readonly bucket: aws.s3.Bucket;
    public readonly bucketName: pulumi.Output<string>;
    public readonly bucketArn: pulumi.Output<string>;
    public readonly key: aws.kms.Key;
    public readonly keyArn: pulumi.Output<string>;
    /** Replication and lifecycle must wait for this: S3 rejects replication on an unversioned bucket. */
    public readonly versioning: aws.s3.BucketVersioning;
    public readonly encryption: aws.s3.BucketServerSideEncryptionConfiguration;
    public readonly publicAccessBlock: aws.s3.BucketPublicAccessBlock;
    public readonly policy: aws.s3.BucketPolicy;
    public readonly lifecycle: aws.s3.BucketLifecycleConfiguration;
    public readonly objectLock?: aws.s3.BucketObjectLockConfiguration;

    constructor(name: string, args: BackupBucketArgs, opts?: pulumi.ComponentResourceOptions) {
        super(COMPONENT_TYPES.backupBucket, name, args, opts);
        const child = { parent: this };
        const kept = { parent: this, protect: args.protect };

        this.key = new aws.kms.Key(
            `${name}-key`,
            {
                description: `Encrypts PostgreSQL backups in s3://${args.bucketName}`,
                enableKeyRotation: true,
                rotationPeriodInDays: 365,
                // The longest window AWS allows: a scheduled key deletion is the one way to lose every backup at once.
                deletionWindowInDays: 30,
                tags: args.tags,
            },
            kept,
        );
        new aws.kms.Alias(`${name}-key-alias`, { name: args.keyAlias, targetKeyId: this.key.keyId }, child);

        this.bucket = new aws.s3.Bucket(
            `${name}-bucket`,
            {
                bucket: args.bucketName,
                // Object Lock can only be enabled when the bucket is created.
                objectLockEnabled: args.objectLock !== undefined,
                forceDestroy: false,
                tags: args.tags,
            },
            kept,
        );
        const bucket = this.bucket.id;

        new aws.s3.BucketOwnershipControls(
            `${name}-ownership`,
            { bucket, rule: { objectOwnership: "BucketOwnerEnforced" } },
            child,
        );

        this.publicAccessBlock = new aws.s3.BucketPublicAccessBlock(
            `${name}-public-access`,
            { bucket, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true },
            child,
        );

        this.versioning = new aws.s3.BucketVersioning(
            `${name}-versioning`,
            { bucket, versioningConfiguration: { status: "Enabled" } },
            child,
        );

        this.encryption = new aws.s3.BucketServerSideEncryptionConfiguration(
            `${name}-encryption`,
            {
                bucket,
                rules: [
                    {
                        applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms", kmsMasterKeyId: this.key.arn },
                        // One data key per bucket instead of per object: far fewer KMS calls for WAL segments.
                        bucketKeyEnabled: true,
                    },
                ],
            },
            child,
        );

        this.policy = new aws.s3.BucketPolicy(
            `${name}-policy`,
            { bucket, policy: pulumi.jsonStringify(backupBucketPolicy(this.bucket.arn, this.key.arn)) },
            { parent: this, dependsOn: [this.publicAccessBlock] },
        );

        this.lifecycle = new aws.s3.BucketLifecycleConfiguration(
            `${name}-lifecycle`,
            { bucket, rules: lifecycleRules(args) },
            // Noncurrent-version rules only mean something once versioning is on.
            { parent: this, dependsOn: [this.versioning] },
        );

        if (args.objectLock) {
            this.objectLock = new aws.s3.BucketObjectLockConfiguration(
                `${name}-object-lock`,
                {
                    bucket,
                    objectLockEnabled: "Enabled",
                    rule: { defaultRetention: { mode: args.objectLock.mode, days: args.objectLock.days } },
                },
                { parent: this, dependsOn: [this.versioning] },
            );
        }

        this.bucketName = this.bucket.bucket;
        this.bucketArn = this.bucket.arn;
        this.keyArn = this.key.arn;
        this.registerOutputs({ bucketName: this.bucketName, bucketArn: this.bucketArn, keyArn: this.keyArn });
    }
}

/**
 * Denies plaintext transport and every upload that would not be under this bucket's KMS key:
 * - an encryption header other than aws:kms (AES256, aws:kms:dsse);
 * - aws:kms without a key id: S3 would use the AWS-managed aws/s3 key, not the bucket default;
 * - a key id other than this key's ARN.
 * Uploads with no encryption header get the bucket default (SSE-KMS with the same key), so they
 * stay allowed: the Barman Cloud ObjectStore and the scripts send none.
 * IAM semantics (docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html):
 * keys of one Condition block are ANDed; `Null: "false"` means the key is present, `"true"` absent;
 * StringNotEquals on an absent key is true, hence the explicit Null beside each comparison.
 * S3 condition keys: docs.aws.amazon.com/AmazonS3/latest/userguide/specifying-kms-encryption.html
 * (s3:x-amz-server-side-encryption, s3:x-amz-server-side-encryption-aws-kms-key-id, matched on the key ARN).
 */
export function backupBucketPolicy(bucketArn: pulumi.Input<string>, keyArn: pulumi.Input<string>): aws.iam.PolicyDocument {
    const objects = pulumi.interpolate`${bucketArn}/*`;
    const denyPut = (Sid: string, Condition: Record<string, Record<string, pulumi.Input<string>>>): aws.iam.PolicyStatement => ({
        Sid,
        Effect: "Deny",
        Principal: "*",
        Action: "s3:PutObject",
        Resource: objects,
        Condition,
    });
    return {
        Version: "2012-10-17",
        Statement: [
            {
                Sid: "DenyInsecureTransport",
                Effect: "Deny",
                Principal: "*",
                Action: "s3:*",
                Resource: [bucketArn, objects],
                Condition: { Bool: { "aws:SecureTransport": "false" } },
            },
            denyPut("DenyNonKmsEncryption", {
                Null: { "s3:x-amz-server-side-encryption": "false" },
                StringNotEquals: { "s3:x-amz-server-side-encryption": "aws:kms" },
            }),
            denyPut("DenyKmsWithoutKeyId", {
                StringEquals: { "s3:x-amz-server-side-encryption": "aws:kms" },
                Null: { "s3:x-amz-server-side-encryption-aws-kms-key-id": "true" },
            }),
            denyPut("DenyOtherKmsKeys", {
                Null: { "s3:x-amz-server-side-encryption-aws-kms-key-id": "false" },
                StringNotEquals: { "s3:x-amz-server-side-encryption-aws-kms-key-id": keyArn },
            }),
        ],
    };
}

function lifecycleRules(args: BackupBucketArgs): aws.types.input.s3.BucketLifecycleConfigurationRule[] {
    const archive = args.longTermArchive;
    return [
        {
            id: "abort-incomplete-uploads",
            status: "Enabled",
            filter: {},
            abortIncompleteMultipartUpload: { daysAfterInitiation: args.abortIncompleteUploadDays },
        },
        {
            // barman-cloud deletes backups past their retention by writing delete markers; the versions
            // behind them stay restorable for the recovery window (and Object Lock, if on).
            id: "keep-noncurrent-versions-for-recovery-window",
            status: "Enabled",
            filter: {},
            noncurrentVersionExpiration: { noncurrentDays: args.noncurrentVersionDays },
        },
        {
            id: "remove-expired-delete-markers",
            status: "Enabled",
            filter: {},
            expiration: { expiredObjectDeleteMarker: true },
        },
        {
            id: "long-term-archive-to-cold-storage",
            status: "Enabled",
            filter: { prefix: archive.prefix },
            transitions: [{ days: archive.transitionDays, storageClass: archive.storageClass }],
            expiration: { days: archive.expirationDays },
        },
    ];
}
