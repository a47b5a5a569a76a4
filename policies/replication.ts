// Cross-region replication of the backups: on while primary, to another region, with RTC and
// metrics when required, replicating delete markers, re-encrypting with the destination's key.
// The bounds come from the RPO arithmetic of the program (model/rpo.ts).
import { BARMAN_CLOUD_PLUGIN } from "../model/contract";
import { logShippingRegionLossBoundSeconds, RTC_REPLICATION_BOUND_SECONDS } from "../model/rpo";
import { drRegions, ofType, T } from "./stack";
import { describe, fixedIn, formatDuration, parsePgSeconds, resourcePolicy, setting, stackPolicy, target, targetsOf } from "./targets";
import { CNPG_DEFAULT_ARCHIVE_TIMEOUT } from "./walArchiving";

const REPLICATION_FILE = "components/storage/replication.ts";

export const replicationRules = resourcePolicy({
    name: "backup-replication-rules",
    description: "Replication rules replicate delete markers and KMS-encrypted objects, re-encrypt with the destination key, and use RTC with metrics when required.",
    types: [T.bucketReplication],
    targets: ["requireReplicationTimeControl"],
    validate: (rc, args, report) => {
        const t = targetsOf(args);
        const rules: any[] = rc.rules ?? [];
        if (rules.length === 0) {
            report(`${describe(args)}: has no replication rule`, fixedIn(REPLICATION_FILE));
        }
        for (const rule of rules) {
            const id = `rule ${rule.id ?? "(no id)"}`;
            const d = rule.destination;
            if (rule.status !== "Enabled") {
                report(`${describe(args)}: ${id} status is ${JSON.stringify(rule.status)}; it must be "Enabled"`, setting("replication.enabled"));
            }
            if (rule.deleteMarkerReplication?.status !== "Enabled") {
                report(
                    `${describe(args)}: ${id} deleteMarkerReplication is ${JSON.stringify(rule.deleteMarkerReplication?.status)}; it must be "Enabled" (a deleted backup must look deleted in the standby region)`,
                    fixedIn(REPLICATION_FILE),
                );
            }
            if (rule.sourceSelectionCriteria?.sseKmsEncryptedObjects?.status !== "Enabled") {
                report(`${describe(args)}: ${id} sourceSelectionCriteria.sseKmsEncryptedObjects is not "Enabled": SSE-KMS backups would not replicate at all`, fixedIn(REPLICATION_FILE));
            }
            if (!d?.encryptionConfiguration?.replicaKmsKeyId) {
                report(`${describe(args)}: ${id} destination.encryptionConfiguration.replicaKmsKeyId is not set; replicas must be re-encrypted with the destination region's key`, fixedIn(REPLICATION_FILE));
            }
            if (t.flag("requireReplicationTimeControl")) {
                const minutes = d?.replicationTime?.time?.minutes;
                if (d?.replicationTime?.status !== "Enabled" || minutes !== RTC_REPLICATION_BOUND_SECONDS / 60) {
                    report(
                        `${describe(args)}: ${id} S3 Replication Time Control is off (destination.replicationTime is ${JSON.stringify(d?.replicationTime ?? null)}); ` +
                            `it must be Enabled with ${RTC_REPLICATION_BOUND_SECONDS / 60} minutes (target requireReplicationTimeControl)`,
                        target("requireReplicationTimeControl"),
                    );
                }
                if (d?.metrics?.status !== "Enabled") {
                    report(
                        `${describe(args)}: ${id} destination.metrics is not "Enabled"; replication latency cannot be alarmed on (target requireReplicationTimeControl)`,
                        target("requireReplicationTimeControl"),
                    );
                }
            }
        }
    },
});

function regionOfArn(arn: unknown): string | undefined {
    return typeof arn === "string" ? arn.split(":")[3] || undefined : undefined;
}

export const replicationOnPrimary = stackPolicy({
    name: "backup-replication-on-primary",
    description: "The primary's backup bucket replicates to a bucket in another region.",
    validate: (args, report) => {
        for (const region of drRegions(args.resources)) {
            if (region.role !== "primary") {
                continue;
            }
            const configs = ofType(args.resources, T.bucketReplication);
            if (configs.length === 0) {
                report(
                    `${describe(region.resource)}: this stack is primary in ${region.region} but its backup bucket does not replicate ` +
                        `(drstack:replication.enabled is ${region.replicationEnabled}); a region loss would take the backups with it`,
                    setting("replication.enabled"),
                    region.resource.urn,
                );
            }
            for (const config of configs) {
                for (const rule of config.props.rules ?? []) {
                    const destination = regionOfArn(rule.destination?.encryptionConfiguration?.replicaKmsKeyId);
                    if (destination === region.region) {
                        report(`${describe(config)}: replicates into ${destination}, the stack's own region; the destination must be another region`, setting("peerRegion"), config.urn);
                    }
                }
            }
        }
    },
});

export const logShippingRegionRpo = stackPolicy({
    name: "region-rpo-needs-streaming",
    description: "A region RPO below the log-shipping bound (archive_timeout + upload + the 15-minute RTC bound) cannot rely on S3 replication alone: the standby must stream.",
    // Mandatory: a stack whose declared region RPO its topology cannot meet must not deploy (issue 11 item 6).
    enforcementLevel: "mandatory",
    targets: ["rpoRegion", "walUploadAllowance"],
    validate: (args, report) => {
        const t = targetsOf(args);
        for (const cluster of ofType(args.resources, T.cnpgCluster)) {
            const spec = cluster.props.spec ?? {};
            const archiveTimeout = parsePgSeconds(spec.postgresql?.parameters?.archive_timeout ?? CNPG_DEFAULT_ARCHIVE_TIMEOUT) ?? 300;
            const bound = logShippingRegionLossBoundSeconds(archiveTimeout, t.seconds("walUploadAllowance"));
            const source = (spec.externalClusters ?? []).find((c: any) => c.name === spec.replica?.source);
            const streams = source?.connectionParameters !== undefined;
            const archives = (source?.plugin?.name ?? "") === BARMAN_CLOUD_PLUGIN;
            if (!streams && archives && bound > t.seconds("rpoRegion")) {
                report(
                    `${describe(cluster)}: the standby side receives WAL only through the S3 archive, which bounds region-loss data loss at ` +
                        `${formatDuration(bound)} (archive_timeout ${formatDuration(archiveTimeout)} + upload ${t.text("walUploadAllowance")} + S3 RTC ${formatDuration(RTC_REPLICATION_BOUND_SECONDS)}); ` +
                        `target rpoRegion ${t.text("rpoRegion")} needs streaming replication`,
                    setting("streaming"),
                    cluster.urn,
                );
            }
        }
    },
});

export const replicationPolicies = [replicationRules, replicationOnPrimary, logShippingRegionRpo];
