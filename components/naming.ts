// Deterministic names shared by both stacks. Each stack computes its peer's bucket, key alias
// and cluster names from the prefix and the peer region, so neither stack needs the other's
// outputs to exist: there is no cross-stack dependency cycle, and the standby can be promoted
// while the primary region (and its stack outputs) are unreachable.

const DIRECTION_CODES: Record<string, string> = {
    north: "n",
    south: "s",
    east: "e",
    west: "w",
    central: "c",
    northeast: "ne",
    northwest: "nw",
    southeast: "se",
    southwest: "sw",
};

/** "us-east-1" -> "use1", "ap-southeast-2" -> "apse2", "us-gov-west-1" -> "usgovw1". */
export function regionShortCode(region: string): string {
    const parts = region.split("-");
    const number = parts[parts.length - 1];
    const middle = parts.slice(1, -1).map((p) => DIRECTION_CODES[p] ?? p);
    return `${parts[0]}${middle.join("")}${number}`;
}

/** The backup bucket of a region (S3 names are global, hence the region in it). */
export function backupBucketName(prefix: string, region: string): string {
    return `backups-${prefix}-${region}`;
}

/** The KMS key alias of the backup bucket; the same alias name exists in each region. */
export function backupKeyAlias(prefix: string): string {
    return `alias/${prefix}-backups`;
}

/** The CloudNativePG cluster (and barman server) name of a region. */
export function clusterName(prefix: string, region: string): string {
    return `pg-${prefix}-${regionShortCode(region)}`;
}

export function s3BucketArn(bucket: string, partition = "aws"): string {
    return `arn:${partition}:s3:::${bucket}`;
}

export function kmsAliasArn(region: string, accountId: string, alias: string, partition = "aws"): string {
    return `arn:${partition}:kms:${region}:${accountId}:${alias}`;
}

/** The longest bucket name S3 accepts. */
export const MAX_BUCKET_NAME_LENGTH = 63;

/** The ARN partition of a region, so ARNs built here are right in GovCloud and China too. */
export function partitionOf(region: string): string {
    if (region.startsWith("us-gov-")) {
        return "aws-us-gov";
    }
    if (region.startsWith("cn-")) {
        return "aws-cn";
    }
    return "aws";
}

/** Names of a cluster's backup CronJobs; alert rules select them by these names. */
export function jobNames(cluster: string): { logicalBackup: string; verifyLogical: string; verifyPhysical: string } {
    return {
        logicalBackup: `${cluster}-logical-backup`,
        verifyLogical: `${cluster}-verify-logical`,
        verifyPhysical: `${cluster}-verify-physical`,
    };
}
