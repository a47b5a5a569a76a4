// Promotion by stack switch, and the split-brain guard.
// A stack that is to be primary reads its peer stack's outputs (role, demotionToken) through a
// StackReference before declaring anything: it refuses to become primary while the peer still
// says it is primary (two writable regions), unless an emergency failover is confirmed, and on a
// planned switchover it passes the peer's demotion token on as the promotion token.

import * as pulumi from "@pulumi/pulumi";
import { DrConfig } from "../../config";
import { NAMESPACE } from "../../model/contract";

export interface PeerState {
    /** The peer stack's fully qualified name. */
    stack: string;
    /** The role the peer stack last deployed with, if it exported one. */
    role?: string;
    /** The peer cluster's demotion token, present once it was demoted (planned switchover). */
    demotionToken?: string;
    /** The peer's backup bucket, exported once the peer stack has deployed it (components/bootstrap.ts). */
    backupBucket?: string;
}

export class SplitBrainError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "SplitBrainError";
    }
}

/**
 * Reads the peer stack's outputs whenever a peer stack is configured, whatever the role: a primary
 * needs `role` and `demotionToken` (the guard, the token), every stack needs `backupBucket` (its
 * replication waits for the peer's bucket). The outputs live in the Pulumi backend, so this works
 * while the peer region is down. A stack created with `pulumi stack init` but never deployed has
 * no outputs: every field is then undefined, which the first-deployment sequence relies on.
 */
export async function readPeerState(config: DrConfig, opts?: pulumi.CustomResourceOptions): Promise<PeerState | undefined> {
    if (config.peerStack === undefined) {
        return undefined;
    }
    const ref = new pulumi.StackReference(`${config.prefix}-peer-stack`, { name: config.peerStack }, opts);
    const [role, token, bucket] = await Promise.all([ref.getOutputDetails("role"), ref.getOutputDetails("demotionToken"), ref.getOutputDetails("backupBucket")]);
    return {
        stack: config.peerStack,
        role: typeof role.value === "string" ? role.value : undefined,
        demotionToken: typeof token.value === "string" && token.value !== "" ? token.value : undefined,
        backupBucket: typeof bucket.value === "string" && bucket.value !== "" ? bucket.value : undefined,
    };
}

/** Throws when making this stack primary would leave two primaries. */
export function assertNoSplitBrain(config: DrConfig, peer: PeerState | undefined): void {
    if (!config.isPrimary || peer === undefined || peer.role !== "primary" || config.emergencyFailover) {
        return;
    }
    const k = (key: string) => `${NAMESPACE}:${key}`;
    throw new SplitBrainError(
        [
            `Refusing to make stack "${config.stack}" primary: its peer stack ${peer.stack} still reports role "primary".`,
            "Two primaries would both accept writes (split brain). Nothing was deployed. Choose one:",
            `  Planned switchover (the peer region is healthy): demote the peer first, then come back here:`,
            `    pulumi config set ${k("role")} standby -s ${peer.stack} && pulumi up -s ${peer.stack}`,
            `    pulumi refresh -s ${peer.stack} --yes   # until its demotionToken output is set`,
            `    pulumi up -s ${config.stack}`,
            `  Emergency failover (the peer region is lost): confirm it, accepting the data loss bounded by the RPO:`,
            `    pulumi config set ${k("emergencyFailover")} true -s ${config.stack} && pulumi up -s ${config.stack}`,
        ].join("\n"),
    );
}

/** The promotion token to pass, if this is the promoted side of a planned switchover. */
export function promotionTokenFor(config: DrConfig, peer: PeerState | undefined): string | undefined {
    if (!config.isPrimary || config.emergencyFailover || peer?.role !== "standby") {
        return undefined;
    }
    return peer.demotionToken;
}
