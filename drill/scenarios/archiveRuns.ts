// How long WAL archiving takes in this run, measured, and the floor it sets for the drill's scaled
// alert `for:` (drill/scenarios/alerts.ts). The drill scales archive_timeout and the rules' thresholds
// and `for:` by the time scale, but a barman-cloud-wal-archive run is real time: a Python start and the
// upload, up to seconds, whatever the scale. A healthy primary therefore has a
// segment ready (not yet archived) for that long after every switch, which is what these rules read:
// - DrWalArchiveStale: archive age above the threshold and a segment ready. At 1:90 the threshold is
//   2.7 s and archive_timeout 3 s, so every switch makes the condition true until the upload ends.
// - DrWalArchiveBacklog: ready / rate(archived_count[5m]) above the upload allowance (model/rpo.ts
//   archiveBacklogTiming). With one segment per archive_timeout the rate is 1/archive_timeout, so one
//   ready segment reads as archive_timeout seconds of expected wait, above the scaled allowance
//   (30 s / 90 = 0.3 s): the condition holds for as long as a segment is ready, and only its `for:`
//   (archive_timeout in production, 270 s against a seconds-long upload) keeps a healthy upload quiet.
// So no scaled `for:` may be shorter than the longest ready-to-archived time measured here plus one
// scrape and one evaluation. Measured on the primary at start-up: a WAL record, a forced switch, the
// time until pg_stat_archiver reports that segment archived (what the archiver's queue and the
// archive command together take, the wait the rules see).
import { LocalPostgres } from "../../local/postgres";
import { switchWal, waitArchived } from "../topology";
import { archiverStats, ArchiverStats } from "./scenario";
import { ALERTS } from "../../model/alertCatalog";
import { PLUGIN_METRIC_PREFIX } from "../monitoring/barmanCloudPlugin";

/**
 * Rules that read only the emulated Barman Cloud plugin's catalog timestamps (pushed once, after the backup)
 * have no real-time transient to allow for: they keep their scaled `for:`.
 */
function readsOnlyCatalog(alert: string): boolean {
    const metrics = (ALERTS as Record<string, { metrics: readonly string[] }>)[alert]?.metrics ?? [];
    return metrics.length > 0 && metrics.every((m) => m.startsWith(PLUGIN_METRIC_PREFIX));
}

/** Forced switches timed at start-up: enough to catch a slow Python start, few enough to stay cheap. */
const SAMPLES = 2;

export interface ArchiveRuns {
    /** Seconds from each forced switch to pg_stat_archiver reporting its segment archived. */
    seconds: number[];
    /** Why a switch was not archived in time (archiving is broken, or slower than the wait). */
    failure?: string;
    /** The wait per switch, seconds: a switch not archived within it took at least that long. */
    waitedSeconds: number;
}

/**
 * PostgreSQL's archiver tries a segment this many times, a second apart, then gives up until its next
 * wake-up, at most 60 s later (src/backend/postmaster/pgarch.c: NUM_ARCHIVE_RETRIES, PGARCH_AUTOWAKE_INTERVAL).
 * That many failures with nothing archived is an archive that does not work now: waiting longer shows nothing more.
 */
export const ARCHIVER_RETRIES = 3;

/**
 * Times SAMPLES forced segment switches on `server` until each is archived. Stops at the first not archived
 * within `timeoutMs`, or as soon as the archiver has failed ARCHIVER_RETRIES times with nothing archived since the switch.
 */
export async function measureArchiveRuns(server: LocalPostgres, timeoutMs: number): Promise<ArchiveRuns> {
    const seconds: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
        // A record first: pg_switch_wal() does nothing on a segment with no WAL since the last switch.
        await server.query("SELECT pg_logical_emit_message(false, 'drstack-drill', 'archive timing')");
        const before = await archiverStats(server);
        const start = Date.now();
        const segment = await switchWal(server);
        const failing = async () => {
            const now = await archiverStats(server);
            return now.archived === before.archived && now.failed - before.failed >= ARCHIVER_RETRIES ? now : undefined;
        };
        let broken: ArchiverStats | undefined;
        const archived = await waitArchived(server, segment, start, timeoutMs, 50, async () => (broken = await failing()) !== undefined);
        const waited = (Date.now() - start) / 1000;
        if (broken) {
            return {
                seconds,
                failure:
                    `archive_command failed ${broken.failed - before.failed} times (last on ${broken.lastFailed}) and archived nothing in ${waited.toFixed(1)} s after the switch to ${segment}; ` +
                    `PostgreSQL's archiver then waits up to 60 s before it tries again`,
                waitedSeconds: waited,
            };
        }
        if (!archived) {
            return { seconds, failure: `segment ${segment} not archived within ${timeoutMs} ms of the switch`, waitedSeconds: timeoutMs / 1000 };
        }
        seconds.push(waited);
    }
    return { seconds, waitedSeconds: timeoutMs / 1000 };
}

/** The per-rule `for:` floor from the measured runs, and the report note saying what was measured and used. */
export function forFloors(runs: ArchiveRuns, intervalSeconds: number, archiveTimeoutSeconds: number): { floor: (alert: string) => number; note: string } {
    // A switch not archived within the wait took at least the wait (slow or broken archiving).
    const longest = Math.max(0, ...runs.seconds, runs.failure ? runs.waitedSeconds : 0);
    // One scrape to see the condition and one evaluation to start `for:` (Prometheus "Alerting rules").
    const floor = Math.ceil((longest + 2 * intervalSeconds) * 10) / 10;
    const gap = archiveTimeoutSeconds - longest;
    return {
        floor: (alert) => (readsOnlyCatalog(alert) ? 0 : floor),
        note:
            `Archive runs measured at start-up (forced switch to archived, pg_stat_archiver): ${runs.seconds.map((x) => `${x.toFixed(2)} s`).join(", ") || "none"}` +
            (runs.failure ? ` (${runs.failure})` : "") +
            "; " +
            `a scaled for: shorter than the longest plus one scrape and one evaluation (${intervalSeconds} s each) is raised to ${floor.toFixed(1)} s (not for the rules on the plugin's catalog timestamps, which have no such transient). ` +
            (gap < intervalSeconds
                ? `The drill's archive_timeout (${archiveTimeoutSeconds} s) leaves less than one scrape between uploads: a healthy archiver is seen busy back to back here.`
                : `Between uploads the archiver idles about ${gap.toFixed(1)} s of each ${archiveTimeoutSeconds} s archive_timeout.`),
    };
}

/**
 * The longest a segment waited ready (not yet archived) on a server, sampled every 500 ms while the
 * scenario runs: the .ready file's modification time is when PostgreSQL marked the segment complete
 * (pg_ls_archive_statusdir, PostgreSQL 12+). What the uploads actually took, after the start-up timing.
 */
export class ReadyWaitSampler {
    longestSeconds = 0;
    private running = true;
    private readonly loop: Promise<void>;

    constructor(server: LocalPostgres) {
        this.loop = (async () => {
            while (this.running) {
                const rows = await server
                    .query<{ age: number | null }>("SELECT extract(epoch FROM max(now() - modification))::float8 AS age FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready'")
                    .catch(() => [{ age: null }]);
                this.longestSeconds = Math.max(this.longestSeconds, rows[0]?.age ?? 0);
                await new Promise((r) => setTimeout(r, 500));
            }
        })();
    }

    async stop(): Promise<void> {
        this.running = false;
        await this.loop;
    }
}
