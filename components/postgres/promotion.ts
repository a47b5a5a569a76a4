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
    /** The peer stack's drstack:promotion.generation, if it exported one. */
    promotionGeneration?: number;
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
    const [role, token, bucket, generation] = await Promise.all([
        ref.getOutputDetails("role"),
        ref.getOutputDetails("demotionToken"),
        ref.getOutputDetails("backupBucket"),
        ref.getOutputDetails("promotionGeneration"),
    ]);
    return {
        stack: config.peerStack,
        role: typeof role.value === "string" ? role.value : undefined,
        demotionToken: typeof token.value === "string" && token.value !== "" ? token.value : undefined,
        backupBucket: typeof bucket.value === "string" && bucket.value !== "" ? bucket.value : undefined,
        promotionGeneration: typeof generation.value === "number" ? generation.value : undefined,
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

/**
 * Generations (scripts/README.md "Generations"): a primary must hold a promotion generation above
 * its peer's, or a fence marker the peer wrote (at the peer's generation) would fence it. The only
 * exception is the first state: the home region primary at 0 and a peer never promoted (0).
 * Checked where the peer's outputs are readable (they live in the Pulumi backend, not the lost region).
 */
export function assertGenerationAbovePeer(config: DrConfig, peer: PeerState | undefined): void {
    const theirs = peer?.promotionGeneration;
    const ours = config.promotion.generation;
    if (!config.isPrimary || theirs === undefined || ours > theirs || (config.topology.isHome && theirs === 0)) {
        return;
    }
    throw new SplitBrainError(
        `Refusing to make stack "${config.stack}" primary with ${NAMESPACE}:promotion.generation ${ours}: its peer stack ${peer!.stack} is at generation ${theirs}. ` +
            `Every promotion takes a generation above both stacks' current ones, or the peer's fence marker would fence this cluster. Nothing was deployed. Run:\n` +
            `    pulumi config set --path ${NAMESPACE}:promotion.generation ${theirs + 1} -s ${config.stack} && pulumi up -s ${config.stack}`,
    );
}
