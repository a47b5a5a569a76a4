// Cross-region replication of the backups: on while primary, to another region, with RTC and
// metrics when required, replicating delete markers, re-encrypting with the destination's key.
import * as aws from "@pulumi/aws";
import { ResourceValidationPolicy, StackValidationPolicy, validateResourceOfType } from "@pulumi/policy";
import { logShippingRegionLossBoundSeconds, RTC_REPLICATION_BOUND_SECONDS } from "../model/rpo";
import { BARMAN_CLOUD_PLUGIN, CNPG_CLUSTER_TYPE, drRegions, ofType, REPLICATION_TYPE } from "./stack";
import { describe, formatDuration, parsePgSeconds, targetsOf, targetsSchema } from "./targets";

export const replicationRules: ResourceValidationPolicy = {
    name: "backup-replication-rules",
    description: "Replication rules replicate delete markers and KMS-encrypted objects, re-encrypt with the destination key, and use RTC with metrics when required.",
    enforcementLevel: "mandatory",
    configSchema: targetsSchema("requireReplicationTimeControl"),
    validateResource: validateResourceOfType(aws.s3.BucketReplicationConfig, (rc, args, report) => {
        const t = targetsOf(args);
        const rules = rc.rules ?? [];
        if (rules.length === 0) {
            report(`${describe(args)}: has no replication rule`);
        }
        for (const rule of rules) {
            const id = `rule ${rule.id ?? "(no id)"}`;
            const d = rule.destination;
            if (rule.status !== "Enabled") {
                report(`${describe(args)}: ${id} status is ${JSON.stringify(rule.status)}; it must be "Enabled"`);
            }
            if (rule.deleteMarkerReplication?.status !== "Enabled") {
                report(`${describe(args)}: ${id} deleteMarkerReplication is ${JSON.stringify(rule.deleteMarkerReplication?.status)}; it must be "Enabled" (a deleted backup must look deleted in the standby region)`);
            }
            if (rule.sourceSelectionCriteria?.sseKmsEncryptedObjects?.status !== "Enabled") {
                report(`${describe(args)}: ${id} sourceSelectionCriteria.sseKmsEncryptedObjects is not "Enabled": SSE-KMS backups would not replicate at all`);
            }
            if (!d?.encryptionConfiguration?.replicaKmsKeyId) {
                report(`${describe(args)}: ${id} destination.encryptionConfiguration.replicaKmsKeyId is not set; replicas must be re-encrypted with the destination region's key`);
            }
            if (t.flag("requireReplicationTimeControl")) {
                const minutes = d?.replicationTime?.time?.minutes;
                if (d?.replicationTime?.status !== "Enabled" || minutes !== RTC_REPLICATION_BOUND_SECONDS / 60) {
                    report(
                        `${describe(args)}: ${id} destination.replicationTime is ${JSON.stringify(d?.replicationTime ?? null)}; it must be Enabled with 15 minutes ` +
                            "(target requireReplicationTimeControl)",
                    );
                }
                if (d?.metrics?.status !== "Enabled") {
                    report(`${describe(args)}: ${id} destination.metrics is not "Enabled"; replication latency cannot be alarmed on (target requireReplicationTimeControl)`);
                }
            }
        }
    }),
};

function regionOfArn(arn: unknown): string | undefined {
    return typeof arn === "string" ? arn.split(":")[3] || undefined : undefined;
}

export const replicationOnPrimary: StackValidationPolicy = {
    name: "backup-replication-on-primary",
    description: "The primary's backup bucket replicates to a bucket in another region.",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
        for (const region of drRegions(args.resources)) {
            if (region.role !== "primary") {
                continue;
            }
            const configs = ofType(args.resources, REPLICATION_TYPE);
            if (configs.length === 0) {
                report(
                    `${describe(region.resource)}: this stack is primary in ${region.region} but its backup bucket does not replicate ` +
                        `(drstack:replication.enabled is ${region.replicationEnabled}); a region loss would take the backups with it`,
                    region.resource.urn,
                );
            }
            for (const config of configs) {
                for (const rule of config.props.rules ?? []) {
                    const destination = regionOfArn(rule.destination?.encryptionConfiguration?.replicaKmsKeyId);
                    if (destination === region.region) {
                        report(`${describe(config)}: replicates into ${destination}, the stack's own region; the destination must be another region`, config.urn);
                    }
                }
            }
        }
    },
};

export const logShippingRegionRpo: StackValidationPolicy = {
    name: "region-rpo-needs-streaming",
    description: "A region RPO below the log-shipping bound (archive_timeout + upload + the 15-minute RTC bound) cannot rely on S3 replication alone: the standby must stream.",
    enforcementLevel: "advisory",
    configSchema: targetsSchema("rpoRegion", "walUploadAllowance"),
    validateStack: (args, report) => {
        const t = targetsOf(args);
        for (const cluster of ofType(args.resources, CNPG_CLUSTER_TYPE)) {
            const spec = cluster.props.spec ?? {};
            const archiveTimeout = parsePgSeconds(spec.postgresql?.parameters?.archive_timeout ?? "5min") ?? 300;
            const bound = logShippingRegionLossBoundSeconds(archiveTimeout, t.seconds("walUploadAllowance"));
            const source = (spec.externalClusters ?? []).find((c: any) => c.name === spec.replica?.source);
            const streams = source?.connectionParameters !== undefined;
            const archives = (source?.plugin?.name ?? "") === BARMAN_CLOUD_PLUGIN;
            if (!streams && archives && bound > t.seconds("rpoRegion")) {
                report(
                    `${describe(cluster)}: the standby side receives WAL only through the S3 archive, which bounds region-loss data loss at ` +
                        `${formatDuration(bound)} (archive_timeout ${formatDuration(archiveTimeout)} + upload ${t.text("walUploadAllowance")} + S3 RTC 15m); ` +
                        `target rpoRegion ${t.text("rpoRegion")} needs streaming replication (drstack:streaming)`,
                    cluster.urn,
                );
            }
        }
    },
};

export const replicationPolicies = [replicationRules, replicationOnPrimary, logShippingRegionRpo];
