// One region of the pair: everything a stack declares, composed from the config.
// The role decides the direction of replication: the primary replicates its backups to the
// peer; a standby does not (its bucket is the peer's destination). Promotion flips it.

import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { BackupBucket } from "./backupBucket";
import { DrConfig } from "./config";
import { partitionOf, s3BucketArn } from "./naming";
import { CrossRegionReplication } from "./replication";

export interface DrRegionArgs {
    /** The validated stack configuration (components/config.ts). */
    config: DrConfig;
}

export class DrRegion extends pulumi.ComponentResource {
    public readonly backupBucket: BackupBucket;
    /** Present while this stack is primary and replication is enabled. */
    public readonly replication?: CrossRegionReplication;

    constructor(name: string, args: DrRegionArgs, opts?: pulumi.ComponentResourceOptions) {
        super("drstack:region:DrRegion", name, args, opts);
        const c = args.config;
        const tags = { "drstack:prefix": c.prefix, "drstack:purpose": "postgresql-backups", "managed-by": "pulumi" };

        this.backupBucket = new BackupBucket(
            `${name}-backups`,
            {
                bucketName: c.names.bucket,
                keyAlias: c.names.keyAlias,
                noncurrentVersionDays: c.backupBucket.noncurrentVersionDays,
                abortIncompleteUploadDays: c.backupBucket.abortIncompleteUploadDays,
                longTermArchive: c.backupBucket.longTermArchive,
                objectLock: c.backupBucket.objectLock,
                protect: c.backupBucket.protect,
                tags,
            },
            { parent: this },
        );

        if (c.isPrimary && c.replication.enabled) {
            const partition = partitionOf(c.region);
            const identity = aws.getCallerIdentityOutput({}, { parent: this });
            this.replication = new CrossRegionReplication(
                `${name}-replication`,
                {
                    sourceBucket: this.backupBucket.bucketName,
                    sourceBucketArn: this.backupBucket.bucketArn,
                    sourceKeyArn: this.backupBucket.keyArn,
                    sourceVersioning: this.backupBucket.versioning,
                    sourceRegion: c.region,
                    destinationBucketArn: s3BucketArn(c.names.peerBucket, partition),
                    destinationRegion: c.peerRegion,
                    destinationKeyAlias: c.names.keyAlias,
                    accountId: identity.accountId,
                    partition,
                    replicationTimeControl: c.replication.replicationTimeControl,
                    rtcMinutes: c.replication.rtcMinutes,
                    storageClass: c.replication.storageClass,
                    objectLock: c.backupBucket.objectLock !== undefined,
                    tags,
                },
                { parent: this },
            );
        }

        this.registerOutputs({
            backupBucketName: this.backupBucket.bucketName,
            replicationRoleArn: this.replication?.roleArn,
        });
    }
}
