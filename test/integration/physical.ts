// Shared by the physical-backup test files (physicalBackup.test.ts, physicalOutage.test.ts): WAL
// archiving as a CloudNativePG instance does it, a base backup as its ScheduledBackup takes it, and
// the waits on pg_stat_archiver. The files are separate so `mocha --parallel` runs them side by side.

import { archiverStats } from "../../drill/scenarios/scenario";
import { LocalPostgres } from "../../local/postgres";
import { MotoServer } from "../../local/motoServer";
import { runChecked, sleep, waitFor } from "../../local/processes";
import { PYTHON_TOOL_ENV, systemPath } from "../../local/tools";
import { serviceUser } from "../../local/user";

/** Short, so the test need not wait minutes; production's comes from config/derive.ts. */
export const ARCHIVE_TIMEOUT_SECONDS = 5;

/** The WAL segment the server writes now. */
export async function currentSegment(pg: LocalPostgres): Promise<string> {
    const [{ segment }] = await pg.query<{ segment: string }>("SELECT pg_walfile_name(pg_current_wal_lsn()) AS segment");
    return segment;
}

/** Waits until `segment` (and so everything before it) is in the archive. */
export async function waitArchived(pg: LocalPostgres, segment: string, what: string, timeoutMs: number): Promise<void> {
    await waitFor(
        `${what} (segment ${segment}) to be archived`,
        async () => ((await archiverStats(pg)).lastArchived ?? "") >= segment,
        timeoutMs,
        250,
    );
}

/** Forces a segment switch and waits until everything up to it is in the archive. */
export async function switchAndWaitArchived(pg: LocalPostgres, timeoutMs = 120000): Promise<string> {
    const [{ segment }] = await pg.query<{ segment: string }>("SELECT pg_walfile_name(pg_switch_wal()) AS segment");
    await waitArchived(pg, segment, "the segment just switched", timeoutMs);
    return segment;
}

/**
 * The barman-cloud WAL archiving a CloudNativePG instance does, as archive_command. No --encryption,
 * as the declared ObjectStore sets none (components/postgres/cluster.ts): S3 applies the bucket default.
 */
export function archiveCommand(endpoint: string, destination: string, server: string): string {
    return `barman-cloud-wal-archive --gzip --endpoint-url ${endpoint} ${destination} ${server} %p`;
}

/** A base backup as CloudNativePG's ScheduledBackup takes it (barman-cloud-backup, as the server's user). */
export async function baseBackup(pg: LocalPostgres, moto: MotoServer, endpoint: string, destination: string, server: string): Promise<void> {
    const jobHome = pg.baseDir;
    await runChecked(
        "barman-cloud-backup",
        [
            "--endpoint-url", endpoint,
            "--gzip",
            "--immediate-checkpoint",
            "-h", pg.socketDir,
            "-p", String(pg.port),
            "-U", pg.superuser,
            destination,
            server,
        ],
        { env: { PATH: systemPath(), HOME: jobHome, ...PYTHON_TOOL_ENV, ...moto.awsEnv() }, runAs: serviceUser().runAs, timeoutMs: 180000 },
    );
}

/** Commits one row every `everyMs` for `forMs`, switching segments now and then; returns rows committed. */
export async function commitFor(pg: LocalPostgres, table: string, forMs: number, everyMs = 200, switchEveryMs = 0): Promise<number> {
    const client = await pg.connect();
    let committed = 0;
    try {
        const end = Date.now() + forMs;
        let nextSwitch = switchEveryMs > 0 ? Date.now() + switchEveryMs : Infinity;
        while (Date.now() < end) {
            await client.query(`INSERT INTO ${table} DEFAULT VALUES`);
            committed++;
            if (Date.now() >= nextSwitch) {
                await client.query("SELECT pg_switch_wal()");
                nextSwitch = Date.now() + switchEveryMs;
            }
            await sleep(everyMs);
        }
    } finally {
        await client.end();
    }
    return committed;
}
