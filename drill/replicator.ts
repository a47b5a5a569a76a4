// An EMULATION of S3 cross-region replication as the stack DECLARES it (drill/declared.ts): each
// new object of the primary region's bucket that an enabled rule selects (filter.prefix) is copied
// into that rule's destination once it has existed for `lagSeconds`; nothing else crosses. A
// delete crosses (as a delete marker) only when the rule replicates delete markers. Real S3
// replication (with RTC) is asynchronous with a 15-minute SLA; the lag stands in for it. When the
// primary region is lost, objects not yet copied are lost with it (stop()).
import { CopyObjectCommand, DeleteObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { DeclaredReplicationRule } from "./declared";

/** The enabled rule that selects a key (S3 applies the highest-priority match; prefixes here are disjoint or equal). */
export function ruleFor(rules: DeclaredReplicationRule[], key: string): DeclaredReplicationRule | undefined {
    return rules.find((r) => r.enabled && key.startsWith(r.prefix));
}

/** The least a replication allowance is: the lag plus `floorSeconds` for the emulation's poll and copy; `context` says why it applies. */
export function replicationFloor(lagSeconds: number, floorSeconds: number, context: string): { seconds: number; why: string } {
    return { seconds: lagSeconds + floorSeconds, why: `replication lag ${lagSeconds} s + ${floorSeconds} s for a poll and a copy (${context})` };
}

/**
 * The pause between two listings of the source bucket. Each listing costs moto_server about 9 ms of CPU (200
 * ListObjectsV2 of a 31-object bucket took it 1.8 CPU-s, measured 2026-12-07) plus the client's, and a scenario
 * lists for as long as it runs: at 200 ms that was about 0.05 of a core per replicator, all drill long. At 300 ms
 * what copyAllowanceSeconds measures (the longest cycle, plus the slowest copy, which waits up to one cycle
 * after its lag) stays within the 1 s the log-shipping bound allows for a poll and a copy on an unloaded machine
 * (drill/scenarios/regionLoss.ts REPLICATION_POLL_AND_COPY_FLOOR_SECONDS); a slower cycle is measured and widens
 * the bound by what it took.
 */
export const REPLICATOR_POLL_MS = 300;

export class Replicator {
    private readonly firstSeen = new Map<string, number>();
    /** Copied keys and the destination each went to. */
    private readonly copied = new Map<string, string>();
    private readonly deletedSeen = new Map<string, number>();
    private running = true;
    private loop: Promise<void>;
    /** Replication latencies observed (ms), for the report. */
    readonly latenciesMs: number[] = [];
    /** Deletes replicated as delete markers. */
    deletesReplicated = 0;
    /** Copy failures (they are retried). */
    failures = 0;
    /** The longest poll cycle (list, copies, pause), ms: how long a new object can wait before a listing sees it. */
    longestCycleMs = 0;

    constructor(
        private readonly s3: S3Client,
        readonly source: string,
        readonly rules: DeclaredReplicationRule[],
        readonly lagSeconds: number,
        private readonly pollMs = REPLICATOR_POLL_MS,
    ) {
        this.loop = this.run();
    }

    private async listAll(): Promise<string[]> {
        const keys: string[] = [];
        let token: string | undefined;
        do {
            const page = await this.s3.send(new ListObjectsV2Command({ Bucket: this.source, ContinuationToken: token }));
            for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
            token = page.IsTruncated ? page.NextContinuationToken : undefined;
        } while (token);
        return keys;
    }

    private async run(): Promise<void> {
        while (this.running) {
            const cycleStart = Date.now();
            try {
                const now = Date.now();
                const present = await this.listAll();
                for (const key of present) {
                    const rule = ruleFor(this.rules, key);
                    if (!rule || this.copied.has(key)) continue;
                    if (!this.firstSeen.has(key)) this.firstSeen.set(key, now);
                    if (now - this.firstSeen.get(key)! < this.lagSeconds * 1000 || !this.running) continue;
                    await this.s3.send(new CopyObjectCommand({ Bucket: rule.destinationBucket, Key: key, CopySource: `${this.source}/${encodeURIComponent(key).replace(/%2F/g, "/")}` }));
                    this.copied.set(key, rule.destinationBucket);
                    this.latenciesMs.push(Date.now() - this.firstSeen.get(key)!);
                }
                const still = new Set(present);
                for (const [key, destination] of this.copied) {
                    if (still.has(key) || !ruleFor(this.rules, key)?.replicateDeletes) continue;
                    if (!this.deletedSeen.has(key)) this.deletedSeen.set(key, now);
                    if (now - this.deletedSeen.get(key)! < this.lagSeconds * 1000 || !this.running) continue;
                    // On a versioned bucket a delete without a version id adds a delete marker, as replication does.
                    await this.s3.send(new DeleteObjectCommand({ Bucket: destination, Key: key }));
                    this.copied.delete(key);
                    this.deletedSeen.delete(key);
                    this.deletesReplicated++;
                }
            } catch {
                this.failures++;
            }
            await new Promise((r) => setTimeout(r, this.pollMs));
            this.longestCycleMs = Math.max(this.longestCycleMs, Date.now() - cycleStart);
        }
    }

    /**
     * How long an object took, at most, from landing in the source to its copy landing in the destination, as
     * measured so far: the poll cycle whose listing first sees it starts at most one cycle after it lands, and
     * its copy ends `latenciesMs` after that cycle's start (the lag included). Objects not copied yet do not
     * widen it: a copy that never comes is a failure to report, not a slower machine. At least
     * `lagSeconds + floorSeconds`, the allowance before anything is measured.
     */
    copyAllowanceSeconds(floorSeconds: number): { seconds: number; why: string } {
        if (this.latenciesMs.length === 0) return replicationFloor(this.lagSeconds, floorSeconds, "nothing copied yet");
        const slowest = Math.max(...this.latenciesMs);
        const measured = (this.longestCycleMs + slowest) / 1000;
        const why =
            `the slowest of ${this.latenciesMs.length} copies ended ${(slowest / 1000).toFixed(1)} s after the start of the poll cycle that first listed it (replication lag ${this.lagSeconds} s included), ` +
            `and that cycle starts at most one poll cycle (longest ${(this.longestCycleMs / 1000).toFixed(1)} s) after the object lands`;
        const floor = replicationFloor(this.lagSeconds, floorSeconds, `measured: ${why}, ${measured.toFixed(1)} s`);
        return measured > floor.seconds ? { seconds: measured, why } : floor;
    }

    /** Objects a rule selects that were seen in the source but not (yet) copied. */
    get pending(): number {
        return [...this.firstSeen.keys()].filter((k) => !this.copied.has(k)).length;
    }

    /** Stops replicating (the source region is gone); what was not copied is lost. */
    async stop(): Promise<void> {
        this.running = false;
        await this.loop;
    }
}
