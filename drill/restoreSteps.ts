// The README runbook "Accidental deletion or corruption", as the drill runs it, step by step with
// the runbook's commands: find the mistake's commit time in the archived WAL (barman-cloud-wal-restore
// + pg_waldump), restore what the program declares for that target (drill/declaredRestore.ts), and
// extract the rows into the primary (pg_dump | psql in one transaction, keeping rows that exist).
import * as path from "path";
import { LocalPostgres } from "../local/postgres";
import { runChecked } from "../local/processes";
import { postgresBinDir, PYTHON_TOOL_ENV, systemPath } from "../local/tools";
import { makeTempDir, removeDir, serviceUser } from "../local/user";
import { DeclaredRestore, BarmanBackup, chooseBaseBackup, localRecoverySettings } from "./declaredRestore";
import { MotoServer } from "../local/motoServer";
import { Target } from "./workload";

/** The commit the runbook finds: the transaction that deleted from the table, and the instant just before it committed. */
export interface MistakeCommit {
    xid: string;
    /** pg_waldump's commit time, e.g. "2026-11-24 09:41:07.197122 UTC". */
    committed: string;
    /** One microsecond before the commit, RFC 3339: the restore target. */
    target: string;
}

/** "2026-11-24 09:41:07.197122 UTC" minus one microsecond, as RFC 3339 with Z. */
export function microsecondBefore(committed: string): string {
    const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))? UTC$/.exec(committed);
    if (!m) throw new Error(`pg_waldump commit time ${JSON.stringify(committed)} is not "YYYY-MM-DD hh:mm:ss[.ffffff] UTC"`);
    const micros = BigInt(Date.parse(`${m[1]}T${m[2]}Z`)) * 1000n + BigInt((m[3] ?? "").padEnd(6, "0")) - 1n;
    const seconds = new Date(Number(micros / 1000000n) * 1000).toISOString().replace(/\.000Z$/, "");
    return `${seconds}.${String(micros % 1000000n).padStart(6, "0")}Z`;
}

/** Commit times by transaction id, from pg_waldump's Transaction records. */
export function deleteCommits(waldump: string): Map<string, string> {
    const commits = new Map<string, string>();
    for (const line of waldump.split("\n")) {
        const commit = /tx:\s+(\d+),.*desc: COMMIT (\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)? UTC)/.exec(line);
        if (commit) commits.set(commit[1], commit[2]);
    }
    return commits;
}

/**
 * Step 1 of the runbook: fetch the archived segments around the incident from `bucket` with
 * barman-cloud-wal-restore, find the transaction that deleted from the table's file (pg_waldump),
 * and its commit time. Throws unless exactly one transaction deleted from it.
 */
export async function findMistakeCommit(moto: MotoServer, bucket: string, server: string, segments: string[], relPath: string): Promise<MistakeCommit> {
    const user = serviceUser();
    const dir = makeTempDir("drill-waldump", user);
    const env = { PATH: systemPath(), HOME: dir, LANG: "C", ...PYTHON_TOOL_ENV, ...moto.awsEnv() };
    try {
        let dump = "";
        for (const segment of segments) {
            const file = path.join(dir, segment);
            await runChecked("barman-cloud-wal-restore", ["--endpoint-url", moto.endpoint, `s3://${bucket}/`, server, segment, file], { env, runAs: user.runAs, timeoutMs: 60000 });
            // pg_waldump exits non-zero at the end of a segment that a switch left partly empty; its output is complete.
            const out = await runChecked("bash", ["-c", `${path.join(postgresBinDir(), "pg_waldump")} "$1" 2>/dev/null || true`, "waldump", file], { env, runAs: user.runAs, timeoutMs: 60000 });
            dump += out.stdout;
        }
        const deleters = new Set([...dump.matchAll(new RegExp(`tx:\\s+(\\d+),.*desc: DELETE .*rel ${relPath.replace(/\//g, "\\/")} `, "g"))].map((m) => m[1]));
        const commits = deleteCommits(dump);
        const found = [...deleters].filter((xid) => commits.has(xid));
        if (found.length !== 1) throw new Error(`expected one committed transaction deleting from rel ${relPath} in segments ${segments.join(", ")}, found ${found.length} (${[...deleters].join(", ")})`);
        const committed = commits.get(found[0])!;
        return { xid: found[0], committed, target: microsecondBefore(committed) };
    } finally {
        removeDir(dir);
    }
}

/** The table's file as pg_waldump names it: tablespace/database/filenode (the runbook's query). */
export async function relationPath(pg: Target, table: string): Promise<string> {
    const { Client } = await import("pg");
    const client = new Client({ ...pg, database: "postgres" });
    // pg emits a lost connection as an 'error' event too (lib/client.js _handleErrorEvent), which unhandled
    // ends the whole process; the awaited queries below reject with it, which is how it reaches the caller.
    client.on("error", () => undefined);
    await client.connect();
    try {
        const { rows } = await client.query(
            `SELECT format('%s/%s/%s', coalesce(nullif(reltablespace, 0), (SELECT dattablespace FROM pg_database WHERE datname = current_database())),
               (SELECT oid FROM pg_database WHERE datname = current_database()), pg_relation_filenode(oid)) AS rel FROM pg_class WHERE oid = $1::regclass`,
            [table],
        );
        return rows[0].rel;
    } finally {
        await client.end();
    }
}

/** Step 2, the part CloudNativePG does: the base backup it picks, restored, then WAL replayed to the declared target. */
export async function restoreDeclared(moto: MotoServer, declared: DeclaredRestore, name: string): Promise<{ server: LocalPostgres; backupId: string }> {
    const user = serviceUser();
    const home = makeTempDir("drill-backup-list", user);
    let backupId: string;
    try {
        const out = await runChecked("barman-cloud-backup-list", ["--format", "json", "--endpoint-url", moto.endpoint, declared.destinationPath, declared.serverName], {
            env: { PATH: systemPath(), HOME: home, ...PYTHON_TOOL_ENV, ...moto.awsEnv() },
            runAs: user.runAs,
            timeoutMs: 60000,
        });
        backupId = chooseBaseBackup((JSON.parse(out.stdout).backups_list ?? []) as BarmanBackup[], declared.recoveryTarget);
    } finally {
        removeDir(home);
    }
    const server = await LocalPostgres.adopt({
        name,
        env: moto.awsEnv(),
        populate: (s) => s.run("barman-cloud-restore", ["--endpoint-url", moto.endpoint, declared.destinationPath, declared.serverName, backupId, s.dataDir]),
        settings: localRecoverySettings(declared, moto.endpoint),
        signal: "recovery",
    });
    return { server, backupId };
}

/**
 * The options of the runbook's pg_dump: the table's rows only, as multi-row INSERTs that skip a row
 * whose key exists, and NOT the data of its owned sequences (pg_dump -t dumps an owned sequence's
 * setval too, which would set the primary's sequence back: observed with pg_dump 15).
 */
export function extractionDumpArgs(table: string): string[] {
    return ["--data-only", `--table=${table}`, `--exclude-table-data=${table}_*_seq`, "--rows-per-insert=1000", "--on-conflict-do-nothing"];
}

/** Step 3a: pg_dump of the table from the restored server, into `into` with psql --single-transaction. */
export async function extractRows(restored: LocalPostgres, into: Target, table: string): Promise<void> {
    const bin = postgresBinDir();
    const conn = (t: Target) => `host=${t.host} port=${t.port} dbname=postgres user=${t.user}`;
    const script =
        `set -o pipefail; PGPASSWORD="$RESTORED_PASSWORD" ${bin}/pg_dump ${extractionDumpArgs(table).join(" ")} "$RESTORED" | ` +
        `PGPASSWORD="$PRIMARY_PASSWORD" ${bin}/psql "$PRIMARY" --single-transaction -v ON_ERROR_STOP=1 -q`;
    await runChecked("bash", ["-c", script], {
        env: {
            PATH: systemPath(),
            HOME: restored.baseDir,
            RESTORED: conn({ host: restored.host, port: restored.port, user: restored.superuser, password: restored.password }),
            RESTORED_PASSWORD: restored.password,
            PRIMARY: conn(into),
            PRIMARY_PASSWORD: into.password,
        },
        runAs: restored.user.runAs,
        timeoutMs: 600000,
    });
}
