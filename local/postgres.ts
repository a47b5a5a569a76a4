// A throwaway PostgreSQL server for tests and the DR drill: initdb in a temp dir, listening on
// a free loopback port (password auth) and a unix socket in the same dir, run as an
// unprivileged user, stopped fast / immediate / by SIGKILL, and always cleaned up.

import * as fs from "fs";
import * as path from "path";
import { Client } from "pg";
import { freePort, LOOPBACK } from "./ports";
import { ManagedProcess, runChecked, startProcess, waitFor } from "./processes";
import { postgresBinDir, PYTHON_TOOL_ENV, requireTools, systemPath, TOOLS } from "./tools";
import { makeTempDir, removeDir, ServiceUser, serviceUser, writeOwnedFile } from "./user";

export type SettingValue = string | number | boolean;

export interface PostgresOptions {
    /** Names the temp dir, for humans reading `ps` or /tmp. */
    name?: string;
    /** Extra postgresql.conf settings (archive_mode, archive_command, archive_timeout, ...). */
    settings?: Record<string, SettingValue>;
    /** Extra environment of the server process; archive_command and restore_command see it. */
    env?: Record<string, string>;
    /** Extra initdb arguments (e.g. ["--wal-segsize=1"]). */
    initdbArgs?: string[];
    /** How long to wait for the server to accept connections. */
    startTimeoutMs?: number;
}

/** How to stop: SIGINT (fast shutdown), SIGQUIT (immediate, crash-like), SIGKILL (the whole group). */
export type StopMode = "fast" | "immediate" | "kill";

const STOP_SIGNALS: Record<StopMode, NodeJS.Signals> = { fast: "SIGINT", immediate: "SIGQUIT", kill: "SIGKILL" };

/** A postgresql.conf value: strings single-quoted with quotes doubled. */
export function confValue(value: SettingValue): string {
    if (typeof value === "number") {
        return String(value);
    }
    if (typeof value === "boolean") {
        return value ? "on" : "off";
    }
    return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "''")}'`;
}


/**
 * initdb runs once per process and initdb arguments; every server starts from a copy of that data dir.
 * initdb costs 1-6 s (bootstrap of template1, more under load), a copy of its ~40 MB under 1 s, and the
 * drill and the suites start a dozen servers. What differs per server (port, socket dir, settings) is
 * appended by configure() to each copy. The copies share one system identifier, as the servers of one
 * initdb would: nothing here tells clusters apart by it (each server archives under its own name).
 */
const templates = new Map<string, Promise<string>>();

function initdbTemplate(user: ServiceUser, initdbArgs: string[]): Promise<string> {
    const key = JSON.stringify([user.uid, initdbArgs]);
    let template = templates.get(key);
    if (!template) {
        template = makeTemplate(user, initdbArgs);
        templates.set(key, template);
        // A failed initdb is not cached: the next server tries again and reports its own error.
        template.catch(() => templates.delete(key));
    }
    return template;
}

async function makeTemplate(user: ServiceUser, initdbArgs: string[]): Promise<string> {
    const baseDir = makeTempDir("pg-template", user);
    const pwfile = path.join(baseDir, "pwfile");
    const dataDir = path.join(baseDir, "data");
    try {
        writeOwnedFile(pwfile, `${LocalPostgres.PASSWORD}\n`, user, 0o600);
        await runChecked(
            path.join(postgresBinDir(), "initdb"),
            [
                "-D", dataDir,
                "-U", LocalPostgres.SUPERUSER,
                `--pwfile=${pwfile}`,
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-E", "UTF8",
                "--no-locale",
                "--no-sync",
                ...initdbArgs,
            ],
            { env: { PATH: systemPath(), HOME: baseDir, LANG: "C.UTF-8", TZ: "UTC" }, runAs: user.runAs, timeoutMs: 120000 },
        );
        fs.rmSync(pwfile);
        return dataDir;
    } catch (err) {
        removeDir(baseDir);
        throw err;
    }
}

export class LocalPostgres {
    static readonly SUPERUSER = "postgres";
    static readonly PASSWORD = "drstack-local";
    readonly host = LOOPBACK;
    readonly superuser = LocalPostgres.SUPERUSER;
    readonly password = LocalPostgres.PASSWORD;
    private process: ManagedProcess | undefined;

    private constructor(
        readonly baseDir: string,
        /** Changes only while starting, if the port first picked was taken meanwhile. */
        public port: number,
        readonly user: ServiceUser,
        readonly env: NodeJS.ProcessEnv,
    ) {}

    get dataDir(): string {
        return path.join(this.baseDir, "data");
    }

    get socketDir(): string {
        return this.baseDir;
    }

    get logFile(): string {
        return path.join(this.baseDir, "postgres.log");
    }

    get running(): boolean {
        return this.process?.running ?? false;
    }

    /** Initialises and starts a server; on any failure nothing is left behind. */
    static async start(options: PostgresOptions = {}): Promise<LocalPostgres> {
        requireTools([TOOLS.initdb, TOOLS.postgres], postgresBinDir());
        return LocalPostgres.create(options, 60000, (server) => server.init(options));
    }

    /**
     * A server whose data directory is filled by `populate` instead of initdb (a pg_basebackup
     * of another server, or a barman-cloud-restore), then configured like start() does and
     * started; with `signal`, it starts as a standby or in targeted recovery. On any failure
     * nothing is left behind.
     */
    static async adopt(
        options: PostgresOptions & {
            populate: (server: LocalPostgres) => Promise<void>;
            signal?: "standby" | "recovery";
        },
    ): Promise<LocalPostgres> {
        requireTools([TOOLS.postgres], postgresBinDir());
        return LocalPostgres.create(options, 120000, async (server) => {
            await options.populate(server);
            fs.chmodSync(server.dataDir, 0o700);
            server.configure(options.settings);
            if (options.signal) {
                writeOwnedFile(path.join(server.dataDir, `${options.signal}.signal`), "", server.user, 0o600);
            }
        });
    }

    /** A temp dir, a port and an environment; `prepare` fills the data dir, then the server starts. */
    private static async create(options: PostgresOptions, defaultTimeoutMs: number, prepare: (server: LocalPostgres) => Promise<void>): Promise<LocalPostgres> {
        const user = serviceUser();
        const baseDir = makeTempDir(`pg-${options.name ?? "server"}`, user);
        const env: NodeJS.ProcessEnv = { PATH: systemPath(), HOME: baseDir, LANG: "C.UTF-8", TZ: "UTC", ...PYTHON_TOOL_ENV, ...options.env };
        let server: LocalPostgres | undefined;
        try {
            server = new LocalPostgres(baseDir, await freePort(), user, env);
            await prepare(server);
            for (let attempt = 1; ; attempt++) {
                try {
                    await server.launch(options.startTimeoutMs ?? defaultTimeoutMs);
                    return server;
                } catch (err) {
                    // freePort()'s port can be taken before postgres binds it (by another server, or as the
                    // local end of an outgoing connection): take another one (a later `port` line wins).
                    if (attempt >= 3 || !/could not bind .*Address already in use/.test((err as Error).message)) throw err;
                    server.port = await freePort();
                    fs.appendFileSync(path.join(server.dataDir, "postgresql.conf"), `port = ${server.port}\n`);
                }
            }
        } catch (err) {
            if (server) {
                await server.cleanup();
            } else {
                removeDir(baseDir);
            }
            throw err;
        }
    }

    /** Runs a command as the server's user with the server's environment (barman-cloud, pg_basebackup). */
    async run(command: string, args: string[], extraEnv: Record<string, string> = {}, timeoutMs = 600000): Promise<void> {
        await runChecked(command, args, { env: { ...this.env, ...extraEnv }, runAs: this.user.runAs, timeoutMs });
    }

    private async init(options: PostgresOptions): Promise<void> {
        const template = await initdbTemplate(this.user, options.initdbArgs ?? []);
        // cp -a as the server's user: the copy keeps initdb's modes (0700 data dir, 0600 files).
        await runChecked("cp", ["-a", template, this.dataDir], { env: this.env, runAs: this.user.runAs, timeoutMs: 120000 });
        this.configure(options.settings);
    }

    /** Appends this server's own settings (later lines win over what a copied config says). */
    private configure(extra: Record<string, SettingValue> = {}): void {
        const settings: Record<string, SettingValue> = {
            port: this.port,
            listen_addresses: LOOPBACK,
            unix_socket_directories: this.socketDir,
            log_timezone: "UTC",
            timezone: "UTC",
            fsync: false,
            max_connections: 40,
            shared_buffers: "32MB",
            ...extra,
        };
        const lines = Object.entries(settings).map(([k, v]) => `${k} = ${confValue(v)}`);
        fs.appendFileSync(path.join(this.dataDir, "postgresql.conf"), `\n# drstack local server\n${lines.join("\n")}\n`);
    }

    private async launch(timeoutMs: number): Promise<void> {
        // A postmaster that exited on its own may have left what it started (an archive or restore command): end it.
        if (this.process && !this.process.running) await this.process.kill();
        this.process = startProcess("postgres", path.join(postgresBinDir(), "postgres"), ["-D", this.dataDir], {
            env: this.env,
            runAs: this.user.runAs,
            logFile: this.logFile,
        });
        if (this.user.runAs) {
            fs.chownSync(this.logFile, this.user.uid, this.user.gid);
        }
        const proc = this.process;
        const outcome = await waitFor(
            `PostgreSQL on port ${this.port} to accept connections`,
            async () => {
                // An exited server ends the wait at once (a thrown error would only be retried until the timeout).
                if (!proc.running) return "exited" as const;
                const client = this.newClient();
                try {
                    await client.connect();
                    await client.query("SELECT 1");
                    // Answered by a server of ours, not by another one on the same port (ManagedProcess.listensOn).
                    return proc.listensOn(this.port) ? ("accepting" as const) : undefined;
                } finally {
                    await client.end().catch(() => undefined);
                }
            },
            timeoutMs,
        ).catch((err: Error) => {
            throw new Error(`${err.message}\n${this.logTail()}`);
        });
        if (outcome === "exited") {
            throw new Error(`PostgreSQL exited during startup:\n${this.logTail()}`);
        }
    }

    /** Starts the server again after stop() (same data dir, port and settings). */
    async restart(timeoutMs = 60000): Promise<void> {
        if (this.running) {
            throw new Error("PostgreSQL is still running");
        }
        await this.launch(timeoutMs);
    }

    /** libpq variables for a client (a job script) connecting over TCP with the password. */
    connectionEnv(database = "postgres"): Record<string, string> {
        return {
            PGHOST: this.host,
            PGPORT: String(this.port),
            PGUSER: this.superuser,
            PGPASSWORD: this.password,
            PGDATABASE: database,
        };
    }

    /**
     * A server killed while a client is connected (the drill's disasters) makes node-postgres emit 'error' on
     * the client ("terminating connection due to unexpected postmaster exit"), besides rejecting any query in
     * flight; unhandled, that event is an uncaught exception (node-postgres docs, Client "error" event). The
     * handler goes on before connect(): the FATAL message can arrive in the same read as the end of the
     * handshake, and pg-protocol parses both synchronously, before the code awaiting connect() runs (seen in
     * `npm run bench -- --only rpo`). A query's rejection, or the next query's, reports the failure.
     */
    private newClient(database = "postgres"): Client {
        const client = new Client({
            host: this.host,
            port: this.port,
            user: this.superuser,
            password: this.password,
            database,
        });
        client.on("error", () => undefined);
        return client;
    }

    /** A connected client; the caller ends it. */
    async connect(database = "postgres"): Promise<Client> {
        const client = this.newClient(database);
        await client.connect();
        return client;
    }

    /** Runs one statement on a short-lived connection. */
    async query<T extends Record<string, any> = Record<string, any>>(sql: string, params: unknown[] = [], database = "postgres"): Promise<T[]> {
        const client = await this.connect(database);
        try {
            return (await client.query(sql, params)).rows as T[];
        } finally {
            await client.end();
        }
    }

    logTail(lines = 30): string {
        try {
            return fs.readFileSync(this.logFile, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
        } catch {
            return "(no server log)";
        }
    }

    /**
     * Stops the server; resolves once the postmaster and everything it started are gone, an
     * archive_command or restore_command in flight included (ManagedProcess.stop).
     */
    async stop(mode: StopMode = "fast", timeoutMs = 60000): Promise<void> {
        const proc = this.process;
        if (!proc) {
            return;
        }
        if (!proc.running) {
            // It exited on its own: still end what it started (an archive or restore command in flight).
            await proc.kill();
            return;
        }
        // fast/immediate are requests to the postmaster; it stops its children itself.
        await proc.stop(STOP_SIGNALS[mode], timeoutMs, mode === "kill");
    }

    /** Stops the server if needed (immediate: the data is thrown away) and deletes everything. */
    async cleanup(): Promise<void> {
        try {
            await this.stop("immediate", 20000);
        } finally {
            removeDir(this.baseDir);
        }
    }
}
