// Entry point of both stacks: validate the config and check the peer stack (split-brain guard)
// before any resource is declared, then build this region and export what operators and the
// peer stack need (the peer reads `role` and `demotionToken`).
import { formatDuration } from "./model/duration";
import { loadConfig } from "./config/pulumi";
import { DrRegion } from "./components/region";
import { assertGenerationAbovePeer, assertNoSplitBrain, promotionTokenFor, readPeerState } from "./components/postgres/promotion";

async function main() {
    const config = loadConfig();
    const peer = await readPeerState(config);
    assertNoSplitBrain(config, peer);
    assertGenerationAbovePeer(config, peer);
    const promotionToken = promotionTokenFor(config, peer);
    const region = new DrRegion(config.prefix, { config, promotionToken });

    return {
        role: config.role,
        awsRegion: config.region,
        peerRegion: config.peerRegion,
        backupBucket: region.backupBucket.bucketName,
        backupBucketArn: region.backupBucket.bucketArn,
        backupKeyArn: region.backupBucket.keyArn,
        replication: region.replication
            ? { destinationBucket: config.names.peerBucket, destinationRegion: config.peerRegion, roleArn: region.replication.roleArn }
            : "off (this stack is standby, or drstack:replication.enabled is false)",
        postgresCluster: config.names.cluster,
        primaryCluster: config.topology.primary.cluster,
        // The peer reads this: a promotion must take a generation above it (assertGenerationAbovePeer).
        promotionGeneration: config.promotion.generation,
        homeRegion: config.homeRegion,
        promotedWith: config.isPrimary ? (promotionToken ? "promotion token (planned switchover)" : config.emergencyFailover ? "emergency failover" : "none") : "n/a",
        // The peer stack passes this on as its promotion token in a planned switchover.
        demotionToken: region.postgres.demotionToken.apply((token) => token ?? ""),
        databaseRoleSecrets: region.databaseRoles?.secretNames ?? "not managed here (drstack:database.manageRoles is off, or this stack is standby)",
        walArchiveTimeout: config.wal.archiveTimeout,
        rpoBounds: {
            pointInTimeRestore: formatDuration(config.wal.pointInTimeRestoreBoundSeconds),
            regionLossLogShippingOnly: formatDuration(config.wal.logShippingRegionLossBoundSeconds),
            regionRpoNeedsStreaming: config.wal.regionRpoNeedsStreaming,
        },
    };
}

export = main();
