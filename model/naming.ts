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

/** The CloudNativePG Cluster of a point-in-time restore (drstack:restore[i].name) of this region's cluster. */
export function restoreClusterName(cluster: string, restore: string): string {
    return `${cluster}-restore-${restore}`;
}

/** The Job CloudNativePG runs to restore an instance: `<cluster>-<n>-full-recovery` (pkg/specs/jobs.go @v1.30.0). */
export function recoveryJobName(cluster: string, instance = 1): string {
    return `${cluster}-${instance}-full-recovery`;
}

export function s3BucketArn(bucket: string, partition = "aws"): string {
    return `arn:${partition}:s3:::${bucket}`;
}

export function kmsAliasArn(region: string, accountId: string, alias: string, partition = "aws"): string {
    return `arn:${partition}:kms:${region}:${accountId}:${alias}`;
}

/** The longest bucket name S3 accepts. */
export const MAX_BUCKET_NAME_LENGTH = 63; // NAME_LIMITS.s3Bucket

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

/** The Route53 failover record's set identifier of a region (unique per record name). */
export function failoverSetIdentifier(prefix: string, region: string): string {
    return `${prefix}-${region}`;
}

/**
 * The DNS fence alarm of a region (only the non-home stack declares one). Both stacks compute it:
 * the non-home stack names its alarm, the home stack's Route53 health check refers to it by name.
 */
export function dnsFenceAlarmName(prefix: string, region: string): string {
    return `${prefix}-dns-fence-${region}`;
}

/**
 * Pulumi auto-names physical resources as `<logical name>-<7 random hex>`; the IAM role of a
 * component is named that way, so its limit applies to the logical name plus 8 characters.
 * (pulumi/pulumi sdk/nodejs: resource auto-naming appends a dash and 7 random characters.)
 */
export const AUTONAME_SUFFIX_LENGTH = 8;

/** The logical names of the stack's IAM roles, under the DrRegion named after the prefix (components/region.ts). */
export function iamRoleLogicalNames(prefix: string): string[] {
    return [`${prefix}-backup-jobs-irsa`, `${prefix}-postgres-irsa`, `${prefix}-replication-role`, `${prefix}-fencing-irsa`];
}

/** The RestoreCluster component of drstack:restore[i], under the DrRegion named after the prefix (components/region.ts). */
export function restoreComponentName(prefix: string, restore: string): string {
    return `${prefix}-restore-${restore}`;
}

/** The logical name of a restore's IAM role (components/postgres/restore.ts: `<component>-irsa`). */
export function restoreIamRoleLogicalName(prefix: string, restore: string): string {
    return `${restoreComponentName(prefix, restore)}-irsa`;
}

/**
 * Length limits of the APIs that receive derived names:
 * S3 bucket names 63 (docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html),
 * IAM role names 64 (IAM User Guide, "IAM object quotas"), KMS alias names 256 (KMS CreateAlias),
 * Route53 SetIdentifier 128 (ResourceRecordSet API), CloudWatch alarm names 255 (PutMetricAlarm), Kubernetes object names 253 (DNS subdomain),
 * label values and Service names 63 (DNS-1035 label), and CronJob names 52: the CronJob controller
 * appends an 11-character suffix to name its Jobs (kubernetes/kubernetes validation of CronJob names).
 */
export const NAME_LIMITS = {
    s3Bucket: 63,
    iamRole: 64,
    kmsAlias: 256,
    route53SetIdentifier: 128,
    cloudwatchAlarm: 255,
    kubernetesObject: 253,
    kubernetesLabelValue: 63,
    kubernetesService: 63,
    cronJob: 52,
} as const;

export interface DerivedName {
    /** What the name is for, e.g. "the backup bucket of us-east-1". */
    what: string;
    name: string;
    /** Length the receiving API sees (the name, plus an auto-name suffix where Pulumi adds one). */
    length: number;
    limit: number;
}
