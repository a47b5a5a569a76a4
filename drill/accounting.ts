// RPO accounting: which acknowledged commits are missing after recovery, and how much time
// they span. Pure, so it can be tested exactly (a known number of withheld commits must be
// reported exactly).

export interface Ack {
    /** The workload's sequence number of the commit. */
    seq: number;
    /** When the client saw the commit acknowledged, ms since the scenario started. */
    ackMs: number;
}

export interface Loss {
    lost: Ack[];
    /** From the first lost commit's acknowledgement to the disaster, in seconds (0 when nothing is lost). */
    spanSeconds: number;
}

/**
 * Commits acknowledged before `disasterMs` that are not in `present`. Commits acknowledged after
 * the disaster cannot have happened on the lost primary (there are none in a real region loss);
 * they are ignored here rather than miscounted.
 */
export function lostCommits(acked: Ack[], present: ReadonlySet<number>, disasterMs: number): Loss {
    const lost = acked.filter((a) => a.ackMs <= disasterMs && !present.has(a.seq));
    const first = lost.reduce((min, a) => Math.min(min, a.ackMs), Infinity);
    return { lost, spanSeconds: lost.length === 0 ? 0 : (disasterMs - first) / 1000 };
}
