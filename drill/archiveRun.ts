// How long a segment takes to reach the WAL archive on the machine the drill runs on, measured while the
// scenario runs: from the moment the primary moves on to the next segment (archive_timeout or a full
// segment) to the moment pg_stat_archiver reports that segment archived (the archiver's wake-up plus one
// barman-cloud-wal-archive run). The drill scales the stack's archive timing by its time scale, but not
// this: the archive command is a Python program whose start-up alone takes 0.5-3 s here, depending on
// load, so at 1:90 it is far above the scaled upload allowance (drstack:walUploadAllowance / 90). A bound
// that includes the upload uses the larger of the two, so a loaded machine does not turn a correct
// archive into a FAIL, and a broken one (no segment archived) still gets the scaled allowance only.
import { LocalPostgres } from "../local/postgres";

/** How often the timer samples the primary; each measured time is late or early by at most this. */
const SAMPLE_MS = 200;

export class ArchiveTimer {
    /** When each segment stopped being the one written to (ms since epoch). */
    private readonly completedAt = new Map<string, number>();
    /** When pg_stat_archiver first reported each segment archived. */
    private readonly archivedAt = new Map<string, number>();
    private stopped = false;
    private readonly loop: Promise<void>;

    private constructor(private readonly pg: LocalPostgres) {
        this.loop = this.run();
    }

    /** Starts sampling `pg` (the archiving primary) until stop(). */
    static start(pg: LocalPostgres): ArchiveTimer {
        return new ArchiveTimer(pg);
    }

    private async run(): Promise<void> {
        let current: string | undefined;
        while (!this.stopped) {
            const now = Date.now();
            try {
                const [row] = await this.pg.query<{ current: string; last: string | null }>(
                    "SELECT pg_walfile_name(pg_current_wal_insert_lsn()) AS current, last_archived_wal AS last FROM pg_stat_archiver",
                );
                if (current !== undefined && row.current !== current && !this.completedAt.has(current)) this.completedAt.set(current, now);
                current = row.current;
                if (row.last !== null && !this.archivedAt.has(row.last)) this.archivedAt.set(row.last, now);
            } catch {
                // The primary is gone (the scenario's disaster): nothing more to measure.
                return;
            }
            await new Promise((r) => setTimeout(r, SAMPLE_MS));
        }
    }

    /** Stops sampling (the disaster stops the primary; call it before). */
    async stop(): Promise<void> {
        this.stopped = true;
        await this.loop;
    }

    /** Seconds from completion to archive of every segment seen both completed and archived, in segment order. */
    get runsSeconds(): number[] {
        return [...this.completedAt.entries()]
            .filter(([segment]) => this.archivedAt.has(segment))
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([segment, completed]) => Math.max(0, this.archivedAt.get(segment)! - completed) / 1000);
    }

    /** The longest of runsSeconds; undefined when no segment was seen completed and archived. */
    get longestSeconds(): number | undefined {
        const runs = this.runsSeconds;
        return runs.length === 0 ? undefined : Math.max(...runs);
    }
}
