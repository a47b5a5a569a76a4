// Race-free first deployment (DESIGN.md "Race-free bootstrap"): each `pulumi up` declares only
// what can succeed now and says in the `bootstrap` output what it waits for and what to run next.
// - Replication waits for the peer's bucket: S3 refuses a replication configuration whose
//   destination does not exist. The peer stack exports `backupBucket` once it has created it; its
//   outputs live in the Pulumi backend, so they stay readable while the peer region is down.
// - The replica cluster waits for a base backup in its own bucket: CloudNativePG retries a
//   recovery that finds no backup a few times, then marks the Cluster unrecoverable
//   (cloudnative-pg internal/controller/cluster_controller.go, v1.30.0), and it must be recreated by hand.
// Both checks run before any resource is declared; running `pulumi up` again is always safe.

import * as aws from "@pulumi/aws";
import { DrConfig } from "../config";
import { BARMAN_CLOUD_PLUGIN, BUCKET_PREFIXES, configKey } from "../model/contract";
import { PeerState } from "./postgres/promotion";

export interface Gate {
    ready: boolean;
    /** What is awaited and the exact next step, when not ready. */
    waiting?: string;
}

/** Replication is declared once the peer stack reports the peer bucket (and stays declared: that output stays). */
export function peerBucketGate(config: DrConfig, peer: PeerState | undefined): Gate {
    if (!config.replication.enabled) {
        return { ready: false };
    }
    if (config.peerStack === undefined) {
        return {
            ready: false,
            waiting: `replication into s3://${config.names.peerBucket}/ waits for the peer stack's outputs: set ${configKey("peerStack")} to its fully qualified name (org/drstack/<stack>), then \`pulumi up -s ${config.stack}\` again`,
        };
    }
    if (peer?.backupBucket === undefined) {
        return {
            ready: false,
            waiting: `replication into s3://${config.names.peerBucket}/ waits for the peer stack ${config.peerStack} to create that bucket: run \`pulumi up -s ${stackOf(config.peerStack)}\`, then \`pulumi up -s ${config.stack}\` again`,
        };
    }
    if (peer.backupBucket !== config.names.peerBucket) {
        throw new Error(
            `The peer stack ${config.peerStack} exports backupBucket "${peer.backupBucket}", but this stack replicates into "${config.names.peerBucket}" ` +
                `(derived from ${configKey("prefix")} and ${configKey("peerRegion")}). Set the same ${configKey("prefix")} in both stacks and ` +
                `${configKey("peerRegion")} to the peer stack's aws:region, or point ${configKey("peerStack")} at the right stack.`,
        );
    }
    return { ready: true };
}

/** Answers whether a key exists under a prefix of a bucket; a missing bucket counts as "no". */
export type ObjectLookup = (bucket: string, prefix: string) => Promise<boolean>;

/**
 * ListObjectsV2 through the provider (aws.s3.getObjects, the `aws_s3_objects` data source), one key.
 * The bucket is created by this very stack, so on the first run it does not exist yet: S3 answers
 * 404 NoSuchBucket, which means "no backup yet". Any other error (credentials, access) is raised.
 */
export const s3ObjectLookup: ObjectLookup = async (bucket, prefix) => {
    try {
        const found = await aws.s3.getObjects({ bucket, prefix, maxKeys: 1 });
        return found.keys.length > 0;
    } catch (error) {
        if (/NoSuchBucket|StatusCode: 404/.test(String(error))) {
            return false;
        }
        throw error;
    }
};

/**
 * A cluster that bootstraps by `recovery` (topology.bootstrap: the non-home cluster, or a rebuilt one)
 * recovers from the PEER cluster's archive replicated into this region's own bucket, whatever the
 * role (the bootstrap never follows the role). It is declared once a base backup it can restore
 * exists there (barman-cloud keeps base backups under `<server name>/base/`). It stays declared:
 * once a cluster exists here, its bucket holds base backups of the peer (barman retention never
 * deletes the newest) or of this very cluster (its own ScheduledBackup, e.g. after a promotion),
 * and either keeps the gate open. A cluster bootstrapped by initdb never waits.
 */
export async function replicaBackupGate(config: DrConfig, lookup: ObjectLookup = s3ObjectLookup): Promise<Gate> {
    const t = config.topology;
    if (t.bootstrap !== "recovery") {
        return { ready: true };
    }
    const bucket = config.names.bucket;
    const source = { cluster: config.names.peerCluster, region: config.peerRegion };
    const sourceBase = `${BUCKET_PREFIXES.barman(source.cluster)}base/`;
    const ownBase = `${BUCKET_PREFIXES.barman(config.names.cluster)}base/`;
    if ((await lookup(bucket, sourceBase)) || (await lookup(bucket, ownBase))) {
        return { ready: true };
    }
    const peer = config.peerStack ? stackOf(config.peerStack) : "<the peer stack>";
    return {
        ready: false,
        waiting:
            `the replica cluster ${config.names.cluster} waits: no base backup of ${source.cluster} replicated into s3://${bucket}/${sourceBase} yet; ` +
            `run \`pulumi up -s ${peer}\`, wait for its first ScheduledBackup (or run \`kubectl cnpg backup ${source.cluster} -n ${config.kubernetes.namespace} ` +
            `--method plugin --plugin-name ${BARMAN_CLOUD_PLUGIN}\` in ${source.region}) and for S3 to replicate it, then \`pulumi up -s ${config.stack}\` again`,
    };
}

/** The `bootstrap` stack output: "complete", or every wait in words. */
export function bootstrapStatus(gates: Gate[]): string {
    const waits = gates.map((g) => g.waiting).filter((w): w is string => w !== undefined);
    return waits.length === 0 ? "complete" : `waiting: ${waits.join("; and ")}`;
}

/** `acme/drstack/dr` -> `dr`, as `pulumi up -s` takes it within the project. */
function stackOf(fullyQualified: string): string {
    return fullyQualified.split("/").pop()!;
}
