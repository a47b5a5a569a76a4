// The workload generator: commits one row per transaction at a set rate and records every
// commit it saw acknowledged. That record is the ground truth for data loss.
import { Client } from "pg";
import { Ack } from "./accounting";

export const TABLE = "drill_commits";

export interface Target {
    host: string;
    port: number;
    user: string;
    password: string;
}

export class Workload {
    readonly acked: Ack[] = [];
    /** Time of the first failed commit (the primary went away), ms since the scenario start. */
    firstErrorMs: number | undefined;
    private running = false;
    private loop: Promise<void> | undefined;
    private nextSeq = 1;

    private constructor(
        private readonly client: Client,
        private readonly rate: number,
        private readonly clockStart: number,
    ) {}

    /** Creates the table if needed and starts committing at `rate` per second. */
    static async start(target: Target, rate: number, clockStart: number, firstSeq = 1): Promise<Workload> {
        const client = new Client({ ...target, database: "postgres" });
        client.on("error", () => undefined);
        await client.connect();
        await client.query(`CREATE TABLE IF NOT EXISTS ${TABLE} (seq bigint PRIMARY KEY, committed_at timestamptz NOT NULL DEFAULT clock_timestamp())`);
        const w = new Workload(client, rate, clockStart);
        w.nextSeq = firstSeq;
        w.running = true;
        w.loop = w.run();
        return w;
    }

    private now(): number {
        return Date.now() - this.clockStart;
    }

    private async run(): Promise<void> {
        const interval = 1000 / this.rate;
        let due = Date.now();
        while (this.running) {
            const seq = this.nextSeq++;
            try {
                await this.client.query(`INSERT INTO ${TABLE} (seq) VALUES ($1)`, [seq]);
                this.acked.push({ seq, ackMs: this.now() });
            } catch {
                this.firstErrorMs ??= this.now();
                this.running = false;
                break;
            }
            due += interval;
            const wait = due - Date.now();
            if (wait > 0) {
                await new Promise((r) => setTimeout(r, wait));
            } else if (wait < -1000) {
                due = Date.now(); // fell behind (slow disk): do not burst to catch up
            }
        }
    }

    /** Stops committing; resolves when the last transaction is done. */
    async stop(): Promise<void> {
        this.running = false;
        await this.loop;
        await this.client.end().catch(() => undefined);
    }

    get lastSeq(): number {
        return this.nextSeq - 1;
    }
}

/** Sequence numbers present in the table on a server. */
export async function presentSeqs(target: Target): Promise<Set<number>> {
    const client = new Client({ ...target, database: "postgres" });
    client.on("error", () => undefined);
    await client.connect();
    try {
        // A server that never received the table holds none of the commits.
        const { rows } = await client.query(`SELECT seq FROM ${TABLE} WHERE to_regclass('${TABLE}') IS NOT NULL`).catch((e: Error & { code?: string }) => {
            if (e.code === "42P01") return { rows: [] as { seq: string }[] };
            throw e;
        });
        return new Set(rows.map((r) => Number(r.seq)));
    } finally {
        await client.end().catch(() => undefined);
    }
}

/** Retries one write until the server accepts it; resolves with the time it took. */
export async function firstWriteAccepted(target: Target, timeoutMs: number): Promise<number> {
    const start = Date.now();
    let lastError: unknown;
    while (Date.now() - start < timeoutMs) {
        const client = new Client({ ...target, database: "postgres", connectionTimeoutMillis: 2000 });
        client.on("error", () => undefined);
        try {
            await client.connect();
            // Its own table: the workload's may not exist on a standby that never received it.
            await client.query("CREATE TABLE IF NOT EXISTS drill_write_probe (at timestamptz NOT NULL DEFAULT clock_timestamp())");
            await client.query("INSERT INTO drill_write_probe DEFAULT VALUES");
            return Date.now() - start;
        } catch (error) {
            lastError = error;
            await new Promise((r) => setTimeout(r, 50));
        } finally {
            await client.end().catch(() => undefined);
        }
    }
    throw new Error(`the new primary accepted no write within ${timeoutMs} ms: ${(lastError as Error)?.message}`);
}
