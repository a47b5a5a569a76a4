// Entry point of both stacks: validate the config and check the peer stack (split-brain guard)
// before any resource is declared, then build this region and export what operators and the
// peer stack need (the peer reads `role` and `demotionToken`).
import { formatDuration } from "./model/duration";
import { loadConfig } from "./config/pulumi";
import { DrRegion } from "./components/region";
import { assertNoSplitBrain, promotionTokenFor, readPeerState } from "./components/postgres/promotion";

async function main() {
    const config = loadConfig();
    const peer = await readPeerState(config);
    assertNoSplitBrain(config, peer);
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
        promotedWith: config.isPrimary ? (promotionToken ? "promotion token (planned switchover)" : config.emergencyFailover ? "emergency failover" : "none") : "n/a",
        // The peer stack passes this on as its promotion token in a planned switchover.
        demotionToken: region.postgres.demotionToken.apply((token) => token ?? ""),
        databaseRoleSecrets: region.databaseRoles?.secretNames ?? "not managed here (drstack:database.manageRoles is off, or this stack is standby)",
        walArchiveTimeout: config.wal.archiveTimeout,
        // Per drstack:restore entry: where the restored copy is and what it was restored to.
        restores: Object.fromEntries(
            config.restores.map((r) => [
                r.name,
                { cluster: r.clusterName, connectionSecret: r.appSecret, host: `${r.rwService}.${config.kubernetes.namespace}.svc`, target: r.targetText, source: `${r.source} (${r.serverName} in ${r.bucket})` },
            ]),
        ),
        rpoBounds: {
            pointInTimeRestore: formatDuration(config.wal.pointInTimeRestoreBoundSeconds),
            regionLossLogShippingOnly: formatDuration(config.wal.logShippingRegionLossBoundSeconds),
            regionRpoNeedsStreaming: config.wal.regionRpoNeedsStreaming,
        },
    };
}

export = main();
