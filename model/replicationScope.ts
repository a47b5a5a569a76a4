// What crosses between the two regions' buckets: each stack replicates exactly its own cluster's
// prefixes into the peer's bucket, whatever its role (DESIGN.md "Static stability"), so a role
// change changes no replication resource and one region's objects never overwrite the other's.
// One list, shared by the replication component, its tests and the drill's replication emulation.
// Pure: no Pulumi import.

import { BUCKET_PREFIXES } from "./contract";
import { fenceMarkerKey } from "./fence";

export interface ReplicatedPrefix {
    /** Short name, part of the S3 replication rule id (CloudWatch reports replication per rule). */
    kind: "archive" | "logical" | "verification" | "fence";
    /** Key prefix in the source bucket (S3 replication V2 `filter.prefix`). */
    prefix: string;
}

/** The prefixes a cluster's stack replicates from its own bucket into the peer's, in rule-priority order. */
export function replicatedPrefixes(ownCluster: string): ReplicatedPrefix[] {
    return [
        // WAL and base backups: barman-cloud writes both under <server name>/ (serverName = the cluster).
        { kind: "archive", prefix: BUCKET_PREFIXES.barman(ownCluster) },
        { kind: "logical", prefix: BUCKET_PREFIXES.logical(ownCluster) },
        { kind: "verification", prefix: BUCKET_PREFIXES.verification(ownCluster) },
        // An exact key works as a prefix: it selects the marker object and nothing else of consequence.
        { kind: "fence", prefix: fenceMarkerKey(ownCluster) },
    ];
}

/** The S3 replication rule id of one prefix, e.g. `archive-to-us-west-2`. */
export function replicationRuleId(kind: ReplicatedPrefix["kind"], destinationRegion: string): string {
    return `${kind}-to-${destinationRegion}`;
}

/** True when a key is carried by the rules of `ownCluster` (what the drill's emulation copies). */
export function isReplicated(ownCluster: string, key: string): boolean {
    return replicatedPrefixes(ownCluster).some((p) => key.startsWith(p.prefix));
}
