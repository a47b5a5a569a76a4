// Entry point of both stacks: validate the config (before any resource), build this region,
// export what operators and the peer stack need.
import { formatDuration } from "./components/duration";
import { loadConfig } from "./components/config";
import { DrRegion } from "./components/drRegion";

const config = loadConfig();
const region = new DrRegion(config.prefix, { config });

export const role = config.role;
export const awsRegion = config.region;
export const peerRegion = config.peerRegion;
export const backupBucket = region.backupBucket.bucketName;
export const backupBucketArn = region.backupBucket.bucketArn;
export const backupKeyArn = region.backupBucket.keyArn;
export const replication = region.replication
    ? { destinationBucket: config.names.peerBucket, destinationRegion: config.peerRegion, roleArn: region.replication.roleArn }
    : "off (this stack is standby, or drstack:replication.enabled is false)";
export const walArchiveTimeout = config.wal.archiveTimeout;
export const rpoBounds = {
    pointInTimeRestore: formatDuration(config.wal.pointInTimeRestoreBoundSeconds),
    regionLossLogShippingOnly: formatDuration(config.wal.logShippingRegionLossBoundSeconds),
    regionRpoNeedsStreaming: config.wal.regionRpoNeedsStreaming,
};
