// What the drill checks about one `pulumi up` of a runbook that depends on what already exists
// (README "Deploying for real", "Failback after an emergency failover"), on top of the shared driver
// (drill/runbook.ts, which runs the program with the peers' outputs and the buckets' objects): the
// documented first-deployment sequence, whether anything a step declares would fail in AWS or
// CloudNativePG right now, and whether running the step again declares the same. No PostgreSQL
// here: unit-tested on its own.
import { BUCKET_PREFIXES, RESOURCE_TYPES } from "../model/contract";
import { DeclaredStep } from "./runbook";

/** The stacks in the order README "Deploying for real" runs `pulumi up` (a test checks it against the README). */
export const FIRST_DEPLOYMENT_SEQUENCE = ["dr", "primary", "dr"] as const;

/** Keys per existing bucket, as an S3 listing sees them (a bucket absent here does not exist). */
export type Objects = Record<string, string[]>;

/** A base backup of `server` in `bucket` (barman-cloud keeps them under `<server>/base/<backup id>/backup.info`). */
export function hasBaseBackup(objects: Objects, bucket: string, server: string): boolean {
    const base = `${BUCKET_PREFIXES.barman(server)}base/`;
    return (objects[bucket] ?? []).some((k) => k.startsWith(base) && k.endsWith("/backup.info"));
}

/** The stack's backup bucket, when the step declares it. */
export function declaredBucket(step: DeclaredStep): string | undefined {
    const buckets = [...step.resources.entries()].filter(([key]) => key.startsWith(`${RESOURCE_TYPES.bucket}::`));
    if (buckets.length > 1) throw new Error(`stack ${step.stack} declares ${buckets.length} buckets; the drill knows one backup bucket per stack`);
    return buckets[0] ? String((buckets[0][1] as { bucket: unknown }).bucket) : undefined;
}

/**
 * What of the step would fail if applied to the buckets as they are (empty: nothing). S3 refuses a
 * replication configuration whose destination bucket does not exist (components/bootstrap.ts); a
 * Cluster bootstrapping by recovery that finds no base backup is retried a few times, then marked
 * Unrecoverable by CloudNativePG (internal/controller/cluster_controller.go, v1.30.0). A Cluster
 * that already exists (and is not rebuilt) is not bootstrapped again: `created` names those the
 * step creates.
 */
export function wouldFail(step: DeclaredStep, objects: Objects, created: string[]): string[] {
    const problems: string[] = [];
    for (const rule of step.replication?.rules ?? []) {
        if (rule.enabled && objects[rule.destinationBucket] === undefined) {
            problems.push(`replication rule ${rule.id} of s3://${step.replication!.sourceBucket} into s3://${rule.destinationBucket}, which does not exist`);
        }
    }
    const bucket = declaredBucket(step);
    for (const c of step.clusters.filter((c) => c.main && created.includes(c.name))) {
        if (c.bootstrap.method === "recovery" && !(bucket && hasBaseBackup(objects, bucket, c.bootstrap.source))) {
            problems.push(`Cluster ${c.name} bootstraps by recovery from ${c.bootstrap.source}, but s3://${bucket}/ holds no base backup of it`);
        }
    }
    return problems;
}

/** Resources whose declared inputs differ between two runs (added, removed or changed), by type::name. */
export function declarationDiff(a: DeclaredStep, b: DeclaredStep): string[] {
    const keys = new Set([...a.resources.keys(), ...b.resources.keys()]);
    return [...keys].filter((k) => JSON.stringify(a.resources.get(k)) !== JSON.stringify(b.resources.get(k))).sort();
}
