// Entry point of both stacks: validate the config and check the peer stack (split-brain guard)
// before any resource is declared, then build this region and export what operators and the
// peer stack need (the peer reads `role` and `demotionToken`).
import { formatDuration } from "./model/duration";
import { loadConfig } from "./config/pulumi";
import { DrRegion } from "./components/region";
import { assertGenerationAbovePeer, assertNoSplitBrain, promotionTokenFor, readPeerState } from "./components/postgres/promotion";
import { bootstrapStatus, peerBucketGate, replicaBackupGate } from "./components/bootstrap";
import { deployedPushgatewayUrl } from "./components/monitoring/scrapeTargets";

async function main() {
    const config = loadConfig();
    const peer = await readPeerState(config);
    assertNoSplitBrain(config, peer);
    assertGenerationAbovePeer(config, peer);
    const promotionToken = promotionTokenFor(config, peer);
    // Race-free bootstrap: declare only what can succeed now (components/bootstrap.ts).
    const peerBucket = peerBucketGate(config, peer);
    const replicaBackup = await replicaBackupGate(config);
    const region = new DrRegion(config.prefix, { config, promotionToken, replicate: peerBucket.ready, declareCluster: replicaBackup.ready });

    return {
        role: config.role,
        awsRegion: config.region,
        peerRegion: config.peerRegion,
        backupBucket: region.backupBucket.bucketName,
        backupBucketArn: region.backupBucket.bucketArn,
        backupKeyArn: region.backupBucket.keyArn,
        replication: region.replication
            ? { destinationBucket: config.names.peerBucket, destinationRegion: config.peerRegion, roleArn: region.replication.roleArn }
            : config.replication.enabled
              ? "waiting for the peer bucket (see bootstrap)"
              : "off (drstack:replication.enabled is false)",
        // What this deployment still waits for, and the next command; "complete" once nothing.
        bootstrap: bootstrapStatus([peerBucket, replicaBackup]),
        postgresCluster: config.names.cluster,
        primaryCluster: config.topology.primary.cluster,
        // The peer reads this: a promotion must take a generation above it (assertGenerationAbovePeer).
        promotionGeneration: config.promotion.generation,
        homeRegion: config.homeRegion,
        promotedWith: config.isPrimary ? (promotionToken ? "promotion token (planned switchover)" : config.emergencyFailover ? "emergency failover" : "none") : "n/a",
        // The peer stack passes this on as its promotion token in a planned switchover.
        demotionToken: region.postgres ? region.postgres.demotionToken.apply((token) => token ?? "") : "",
        // Names only: the passwords stay in the Secrets (and as secrets in the state).
        databaseRoleSecrets: region.jobRoles.secretNames,
        pushgatewayUrl: config.backups.pushgatewayUrl ?? deployedPushgatewayUrl(config.names.cluster, config.kubernetes.namespace),
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
