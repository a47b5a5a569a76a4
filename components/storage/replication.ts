// Cross-region replication of the primary's backup bucket into the peer region's bucket.
// The destination is addressed by its deterministic name and key alias (see naming.ts), so the
// primary stack never reads the standby stack's outputs. The IAM role can do exactly what S3
// replication needs: read versions of this bucket, write replicas into that one, decrypt with
// this region's key and encrypt with the peer's key (selected by alias, in the peer region only).

import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { kmsAliasArn } from "../../model/naming";
import { COMPONENT_TYPES, replicationRuleId } from "../../model/contract";

export interface CrossRegionReplicationArgs {
    /** Name of the source bucket (this region's backup bucket). */
    sourceBucket: pulumi.Input<string>;
    /** ARN of the source bucket. */
    sourceBucketArn: pulumi.Input<string>;
    /** ARN of the KMS key that encrypts the source bucket. */
    sourceKeyArn: pulumi.Input<string>;
    /** The source bucket's versioning: S3 refuses a replication configuration before versioning is on. */
    sourceVersioning: pulumi.Resource;
    /** Region of the source bucket. */
    sourceRegion: string;
    /** ARN of the peer region's backup bucket (deployed by the peer stack, versioned there). */
    destinationBucketArn: string;
    /** Region of the destination bucket. */
    destinationRegion: string;
    /** Alias of the destination bucket's KMS key in the destination region, e.g. `alias/acme-backups`. */
    destinationKeyAlias: string;
    /** AWS account that owns both buckets. */
    accountId: pulumi.Input<string>;
    /** ARN partition ("aws", "aws-us-gov", "aws-cn"). */
    partition: string;
    /** Turn on S3 Replication Time Control (15-minute SLA) with its metrics. */
    replicationTimeControl: boolean;
    /** RTC threshold in minutes (S3 supports 15). */
    rtcMinutes: number;
    /** Storage class of the replicas. */
    storageClass: string;
    /** The buckets use Object Lock: replication must also read retention and legal holds. */
    objectLock: boolean;
    /** Tags for the IAM role. */
    tags?: Record<string, string>;
}

export class CrossRegionReplication extends pulumi.ComponentResource {
    public readonly role: aws.iam.Role;
    public readonly roleArn: pulumi.Output<string>;
    public readonly configuration: aws.s3.BucketReplicationConfig;
    /** The replication rule's id: CloudWatch replication metrics are reported per rule. */
    public readonly ruleId: string;

    constructor(name: string, args: CrossRegionReplicationArgs, opts?: pulumi.ComponentResourceOptions) {
        super(COMPONENT_TYPES.replication, name, args, opts);

        this.role = new aws.iam.Role(
            `${name}-role`,
            {
                description: `S3 replication of PostgreSQL backups ${args.sourceRegion} -> ${args.destinationRegion}`,
                assumeRolePolicy: pulumi.jsonStringify(replicationTrustPolicy(args.accountId, args.sourceBucketArn)),
                tags: args.tags,
            },
            { parent: this },
        );

        const permissions = new aws.iam.RolePolicy(
            `${name}-permissions`,
            { role: this.role.id, policy: pulumi.jsonStringify(replicationPermissions(args)) },
            { parent: this },
        );

        const rtc = args.replicationTimeControl;
        this.ruleId = replicationRuleId(args.destinationRegion);
        this.configuration = new aws.s3.BucketReplicationConfig(
            `${name}-config`,
            {
                bucket: args.sourceBucket,
                role: this.role.arn,
                rules: [
                    {
                        id: this.ruleId,
                        status: "Enabled",
                        priority: 1,
                        filter: {},
                        // A deleted backup must look deleted in the peer region too, or restores there pick stale data.
                        deleteMarkerReplication: { status: "Enabled" },
                        sourceSelectionCriteria: { sseKmsEncryptedObjects: { status: "Enabled" } },
                        destination: {
                            bucket: args.destinationBucketArn,
                            storageClass: args.storageClass,
                            encryptionConfiguration: {
                                // S3 accepts an alias ARN here and resolves it in the destination region.
                                replicaKmsKeyId: pulumi
                                    .output(args.accountId)
                                    .apply((account) => kmsAliasArn(args.destinationRegion, account, args.destinationKeyAlias, args.partition)),
                            },
                            replicationTime: rtc ? { status: "Enabled", time: { minutes: args.rtcMinutes } } : undefined,
                            metrics: rtc
                                ? { status: "Enabled", eventThreshold: { minutes: args.rtcMinutes } }
                                : { status: "Enabled" },
                        },
                    },
                ],
            },
            { parent: this, dependsOn: [args.sourceVersioning, permissions] },
        );

        this.roleArn = this.role.arn;
        this.registerOutputs({ roleArn: this.roleArn });
    }
}

function replicationTrustPolicy(accountId: pulumi.Input<string>, sourceBucketArn: pulumi.Input<string>): aws.iam.PolicyDocument {
    return {
        Version: "2012-10-17",
        Statement: [
            {
                Effect: "Allow",
                Principal: { Service: "s3.amazonaws.com" },
                Action: "sts:AssumeRole",
                // Confused-deputy guard: only S3 acting for this account and this bucket may assume it.
                Condition: {
                    StringEquals: { "aws:SourceAccount": accountId },
                    ArnLike: { "aws:SourceArn": sourceBucketArn },
                },
            },
        ],
    };
}

export function replicationPermissions(args: CrossRegionReplicationArgs): aws.iam.PolicyDocument {
    const p = args.partition;
    const readVersions = ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging"];
    if (args.objectLock) {
        readVersions.push("s3:GetObjectRetention", "s3:GetObjectLegalHold");
    }
    return {
        Version: "2012-10-17",
        Statement: [
            {
                Sid: "ReadSourceReplicationConfiguration",
                Effect: "Allow",
                Action: ["s3:GetReplicationConfiguration", "s3:ListBucket"],
                Resource: args.sourceBucketArn,
            },
            {
                Sid: "ReadSourceObjectVersions",
                Effect: "Allow",
                Action: readVersions,
                Resource: pulumi.interpolate`${args.sourceBucketArn}/*`,
            },
            {
                Sid: "WriteReplicasToPeerBucket",
                Effect: "Allow",
                Action: ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
                Resource: `${args.destinationBucketArn}/*`,
            },
            {
                Sid: "DecryptSourceObjects",
                Effect: "Allow",
                Action: "kms:Decrypt",
                Resource: args.sourceKeyArn,
                Condition: {
                    StringEquals: { "kms:ViaService": `s3.${args.sourceRegion}.amazonaws.com` },
                    StringLike: { "kms:EncryptionContext:aws:s3:arn": [args.sourceBucketArn, pulumi.interpolate`${args.sourceBucketArn}/*`] },
                },
            },
            {
                // The peer's key is created by the peer stack; it is selected by its alias so this
                // stack needs no output of the other (kms:ResourceAliases), and only via S3 in that region.
                Sid: "EncryptReplicasWithPeerKey",
                Effect: "Allow",
                Action: ["kms:Encrypt", "kms:GenerateDataKey"],
                Resource: pulumi.interpolate`arn:${p}:kms:${args.destinationRegion}:${args.accountId}:key/*`,
                Condition: {
                    "ForAnyValue:StringEquals": { "kms:ResourceAliases": args.destinationKeyAlias },
                    StringEquals: { "kms:ViaService": `s3.${args.destinationRegion}.amazonaws.com` },
                    StringLike: { "kms:EncryptionContext:aws:s3:arn": [args.destinationBucketArn, `${args.destinationBucketArn}/*`] },
                },
            },
        ],
    };
}
