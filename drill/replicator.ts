// An EMULATION of S3 cross-region replication: copies every new object of the primary region's
// bucket into the standby region's bucket once it has existed for `lagSeconds`. Real S3
// replication (with RTC) is asynchronous with a 15-minute SLA; the lag stands in for it. When the
// primary region is lost, objects not yet copied are lost with it (stop()).
import { CopyObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";

export class Replicator {
    private readonly firstSeen = new Map<string, number>();
    private readonly copied = new Set<string>();
    private running = true;
    private loop: Promise<void>;
    /** Replication latencies observed (ms), for the report. */
    readonly latenciesMs: number[] = [];
    /** Copy failures (they are retried). */
    failures = 0;

    constructor(
        private readonly s3: S3Client,
        readonly source: string,
        readonly destination: string,
        readonly lagSeconds: number,
        private readonly pollMs = 200,
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
            try {
                const now = Date.now();
                for (const key of await this.listAll()) {
                    if (this.copied.has(key)) continue;
                    if (!this.firstSeen.has(key)) this.firstSeen.set(key, now);
                    if (now - this.firstSeen.get(key)! < this.lagSeconds * 1000 || !this.running) continue;
                    await this.s3.send(new CopyObjectCommand({ Bucket: this.destination, Key: key, CopySource: `${this.source}/${encodeURIComponent(key).replace(/%2F/g, "/")}` }));
                    this.copied.add(key);
                    this.latenciesMs.push(Date.now() - this.firstSeen.get(key)!);
                }
            } catch {
                this.failures++;
            }
            await new Promise((r) => setTimeout(r, this.pollMs));
        }
    }

    /** Objects seen in the source but not (yet) copied. */
    get pending(): number {
        return [...this.firstSeen.keys()].filter((k) => !this.copied.has(k)).length;
    }

    /** Stops replicating (the source region is gone); what was not copied is lost. */
    async stop(): Promise<void> {
        this.running = false;
        await this.loop;
    }
}
