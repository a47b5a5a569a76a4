// The fence contract: what a stack promoted by emergency failover writes so that its old
// primary, when that region returns, fences itself (issue 11 item 4; DESIGN.md "Fencing").
// The program writes the marker, S3 replication carries it, scripts/fence-check.sh reads it and
// the tests drive both; every name they must agree on is here, once. Shell cannot import this:
// test/integration/fenceCheck.test.ts checks the script against these constants.
// Pure data and zod: no Pulumi import (the drill and the tests load it without the engine).

import { z } from "zod";

/** Key prefix of fence markers in a backup bucket. A replication rule must carry `fence/<own cluster>.json`. */
export const FENCE_MARKER_PREFIX = "fence/";

/** The marker a promoted cluster writes into its own bucket: `fence/<promoted cluster>.json`. */
export function fenceMarkerKey(promotedCluster: string): string {
    return `${FENCE_MARKER_PREFIX}${promotedCluster}.json`;
}

/** Generations are whole numbers up to this (the script compares them with shell arithmetic). */
export const FENCE_GENERATION_MAX = 999_999_999;

/** Value of the marker's `format` field; a reader refuses any other. */
export const FENCE_MARKER_FORMAT = "drstack-fence/1";

// What a Kubernetes object name allows (the script checks the same set for CLUSTER_NAME).
const clusterName = z.string().regex(/^[A-Za-z0-9._-]+$/, "a cluster name: letters, digits, '.', '_', '-'");

/**
 * The marker's JSON. `generation` decides: the job fences its cluster only for a marker whose
 * generation is greater than its own cluster's promotion generation (PROMOTION_GENERATION), so a
 * marker left from an older failover never fences a primary promoted after it. Every promotion,
 * emergency or planned, of either stack takes a generation greater than both stacks' current
 * ones; the home primary starts at 0, so a marker's generation is at least 1.
 */
export const FenceMarkerSchema = z
    .object({
        format: z.literal(FENCE_MARKER_FORMAT),
        /** The cluster that was promoted (the key names it too). */
        promotedCluster: clusterName,
        /** The old primary: the cluster that must fence itself when it finds this marker. */
        fencedCluster: clusterName,
        generation: z.number().int().min(1).max(FENCE_GENERATION_MAX),
        /** When the promotion was declared, RFC 3339 UTC to the second (`2026-11-24T11:00:00Z`: what jq's fromdate reads). */
        promotedAt: z.iso.datetime({ offset: false, precision: 0 }),
        /** Why: what the operator confirmed (one line). */
        reason: z.string().min(1).regex(/^[^\n]*$/, "one line"),
    })
    .strict()
    .refine((m) => m.promotedCluster !== m.fencedCluster, { message: "promotedCluster and fencedCluster must differ" });

export type FenceMarker = z.infer<typeof FenceMarkerSchema>;

/** The marker object's body, validated: what the promoted stack uploads to fenceMarkerKey(promotedCluster). */
export function fenceMarkerBody(marker: Omit<FenceMarker, "format">): string {
    return `${JSON.stringify(FenceMarkerSchema.parse({ format: FENCE_MARKER_FORMAT, ...marker }), null, 2)}\n`;
}

/**
 * CloudNativePG fencing (docs/src/fencing.md @v1.30.0): a JSON list of instance names in this
 * annotation of the Cluster; `["*"]` fences every instance (postmaster stopped, pods kept).
 */
export const CNPG_FENCING = {
    annotation: "cnpg.io/fencedInstances",
    allInstances: '["*"]',
    apiGroup: "postgresql.cnpg.io",
    apiVersion: "v1",
    resource: "clusters",
} as const;

/** Roles the job understands (CLUSTER_ROLE): the stack's declared `drstack:role`. */
export const FENCE_CHECK_ROLES = ["primary", "standby"] as const;
export type FenceCheckRole = (typeof FENCE_CHECK_ROLES)[number];

/** The script and the names it publishes under (scripts/README.md, `fence-check.sh`). */
export const FENCE_CHECK = {
    script: "fence-check.sh",
    pushgatewayJob: "drstack-fence-check",
    metrics: {
        success: "drstack_fence_check_success",
        lastRun: "drstack_fence_check_last_run_timestamp_seconds",
        fenced: "drstack_fence_cluster_fenced",
        promotionGeneration: "drstack_fence_promotion_generation",
        markerGeneration: "drstack_fence_marker_generation",
        markerTimestamp: "drstack_fence_marker_timestamp_seconds",
    },
    labels: { cluster: "cluster", peer: "peer" },
} as const;

export interface FenceCheckEnvArgs {
    /** This stack's CloudNativePG Cluster (the one the job may fence). */
    cluster: string;
    /** The peer stack's cluster: the job reads only fenceMarkerKey(peerCluster). */
    peerCluster: string;
    role: FenceCheckRole;
    /** This cluster's promotion generation (0 for a home primary never failed over). */
    promotionGeneration: number;
    /** This region's backup bucket. */
    bucket: string;
}

/** The job's settings as its CronJob passes them (documented in scripts/README.md). */
export function fenceCheckEnv(a: FenceCheckEnvArgs): Record<string, string> {
    if (!Number.isInteger(a.promotionGeneration) || a.promotionGeneration < 0 || a.promotionGeneration > FENCE_GENERATION_MAX) {
        throw new Error(`promotion generation must be a whole number from 0 to ${FENCE_GENERATION_MAX}, got ${a.promotionGeneration}`);
    }
    return {
        CLUSTER_NAME: a.cluster,
        PEER_CLUSTER_NAME: a.peerCluster,
        CLUSTER_ROLE: a.role,
        PROMOTION_GENERATION: String(a.promotionGeneration),
        S3_BUCKET: a.bucket,
    };
}

/**
 * The least the job's ServiceAccount needs (a namespaced Role): read and patch its own Cluster,
 * nothing else. `resourceNames` cannot restrict list/watch/create, which the job never does.
 */
export function fenceCheckRbacRules(cluster: string): { apiGroups: string[]; resources: string[]; resourceNames: string[]; verbs: string[] }[] {
    return [{ apiGroups: [CNPG_FENCING.apiGroup], resources: [CNPG_FENCING.resource], resourceNames: [cluster], verbs: ["get", "patch"] }];
}
