// A long-running HTTP server from a Debian package (prometheus, prometheus-pushgateway,
// prometheus-postgres-exporter) started for the drill and the tests: on a free loopback port, in its
// own process group (stopping it kills the group), logging to a file in its own temp dir, ready once
// an HTTP GET of its readiness path answers 200. One place for what the three have in common.

import * as fs from "fs";
import * as path from "path";
import { freePort, LOOPBACK } from "./ports";
import { ManagedProcess, startProcess, waitFor } from "./processes";
import { requireTools, systemPath, Tool } from "./tools";
import { makeTempDir, removeDir, ServiceUser } from "./user";

export interface HttpDaemonOptions {
    /** Names the temp dir and the process, for humans reading `ps` or /tmp. */
    name: string;
    tool: Tool;
    /** The arguments for a given port and temp dir (config files go in the temp dir). */
    args: (port: number, dir: string) => string[];
    /** Written into the temp dir before the start (relative name -> content). */
    files?: (dir: string) => Record<string, string>;
    /** GET this path until it answers 200 (e.g. "/-/ready", "/metrics"). */
    readyPath: string;
    env?: Record<string, string>;
    /** Run as this user (when we are root and the daemon should not be). */
    user?: ServiceUser;
    startTimeoutMs?: number;
}

export class HttpDaemon {
    private constructor(
        readonly name: string,
        readonly dir: string,
        readonly port: number,
        private readonly process: ManagedProcess,
    ) {}

    get url(): string {
        return `http://${LOOPBACK}:${this.port}`;
    }

    get logFile(): string {
        return path.join(this.dir, `${this.name}.log`);
    }

    get running(): boolean {
        return this.process.running;
    }

    get pid(): number {
        return this.process.pid;
    }

    /** Starts the daemon; retries on a new port if the chosen one was taken meanwhile. Nothing is left behind on failure. */
    static async start(options: HttpDaemonOptions): Promise<HttpDaemon> {
        requireTools([options.tool], systemPath());
        const dir = makeTempDir(options.name, options.user);
        let lastError: Error | undefined;
        try {
            for (const [file, content] of Object.entries(options.files?.(dir) ?? {})) {
                fs.writeFileSync(path.join(dir, file), content);
            }
            for (let attempt = 0; attempt < 3; attempt++) {
                const port = await freePort();
                const logFile = path.join(dir, `${options.name}.log`);
                const proc = startProcess(options.name, options.tool.command, options.args(port, dir), {
                    env: { PATH: systemPath(), HOME: dir, ...options.env },
                    cwd: dir,
                    runAs: options.user?.runAs,
                    logFile,
                });
                const daemon = new HttpDaemon(options.name, dir, port, proc);
                try {
                    await waitFor(
                        `${options.name} on ${daemon.url}${options.readyPath}`,
                        async () => {
                            if (!proc.running) {
                                throw new Error(`${options.name} exited during startup`);
                            }
                            const res = await fetch(`${daemon.url}${options.readyPath}`);
                            await res.arrayBuffer();
                            // Answered by this daemon, not by another one on the same port (ManagedProcess.listensOn).
                            return res.status === 200 && proc.listensOn(port);
                        },
                        options.startTimeoutMs ?? 30000,
                        100,
                    );
                    return daemon;
                } catch (err) {
                    await proc.stop("SIGKILL", 5000);
                    const log = daemon.logTail();
                    lastError = new Error(`${(err as Error).message}\n${log}`);
                    if (!/address already in use/.test(log)) {
                        break;
                    }
                }
            }
        } catch (err) {
            lastError = err as Error;
        }
        removeDir(dir);
        throw lastError ?? new Error(`${options.name} did not start`);
    }

    logTail(lines = 20): string {
        try {
            return fs.readFileSync(this.logFile, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
        } catch {
            return `(no ${this.name} log)`;
        }
    }

    /** Stops the whole process group (SIGTERM, then SIGKILL after the grace) and deletes the temp dir. */
    async stop(graceMs = 5000): Promise<void> {
        await this.process.stop("SIGTERM", graceMs, true);
        removeDir(this.dir);
    }
}
