// Child processes that cannot outlive their owner. Every process runs in its own process group
// (detached), so stopping it also stops what it started (PostgreSQL backends, an archive_command
// in flight, the tools a job script runs). Groups still alive when Node exits are SIGKILLed.

import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";

/** The OS identity a process runs as; omitted means the current user. */
export interface RunAs {
    uid: number;
    gid: number;
}

export interface ProcessExit {
    code: number | null;
    signal: NodeJS.Signals | null;
}

const live = new Set<ManagedProcess>();

process.on("exit", () => {
    for (const p of live) {
        p.signalGroup("SIGKILL");
    }
});

export class ManagedProcess {
    /** Resolves when the process (the group leader) exits. */
    readonly exited: Promise<ProcessExit>;
    private exitInfo: ProcessExit | undefined;

    constructor(
        readonly name: string,
        readonly child: ChildProcess,
    ) {
        live.add(this);
        this.exited = new Promise((resolve) => {
            const done = (code: number | null, signal: NodeJS.Signals | null) => {
                if (this.exitInfo === undefined) {
                    this.exitInfo = { code, signal };
                    resolve(this.exitInfo);
                }
            };
            child.once("exit", done);
            child.once("error", () => done(null, null));
        }).then((info) => {
            // The leader is gone; anything left in its group goes too.
            this.signalGroup("SIGKILL");
            live.delete(this);
            return info as ProcessExit;
        });
    }

    get pid(): number {
        if (this.child.pid === undefined) {
            throw new Error(`${this.name} did not start`);
        }
        return this.child.pid;
    }

    get running(): boolean {
        return this.exitInfo === undefined && this.child.pid !== undefined;
    }

    get exit(): ProcessExit | undefined {
        return this.exitInfo;
    }

    /** Signals only the leader (PostgreSQL's shutdown modes are signals to the postmaster). */
    signal(signal: NodeJS.Signals): void {
        if (this.child.pid !== undefined && this.exitInfo === undefined) {
            try {
                process.kill(this.child.pid, signal);
            } catch {
                // already gone
            }
        }
    }

    /** Signals the whole process group. */
    signalGroup(signal: NodeJS.Signals): void {
        if (this.child.pid !== undefined) {
            try {
                process.kill(-this.child.pid, signal);
            } catch {
                // group already gone
            }
        }
    }

    /**
     * Sends `signal` (to the leader, or the group with `group: true`), waits up to `graceMs`,
     * then SIGKILLs the group. Resolves once the leader has exited.
     */
    async stop(signal: NodeJS.Signals = "SIGTERM", graceMs = 15000, group = true): Promise<ProcessExit> {
        if (this.exitInfo !== undefined) {
            return this.exitInfo;
        }
        if (group) {
            this.signalGroup(signal);
        } else {
            this.signal(signal);
        }
        const timer = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), graceMs).unref());
        if ((await Promise.race([this.exited, timer])) === "timeout") {
            this.signalGroup("SIGKILL");
        }
        return this.exited;
    }
}

export interface StartOptions {
    env: NodeJS.ProcessEnv;
    cwd?: string;
    runAs?: RunAs;
    /** stdout and stderr are appended here; without it they are discarded. */
    logFile?: string;
}

/** Starts a long-running process in its own process group. */
export function startProcess(name: string, command: string, args: string[], options: StartOptions): ManagedProcess {
    const out = options.logFile ? fs.openSync(options.logFile, "a") : "ignore";
    try {
        const child = spawn(command, args, {
            env: options.env,
            cwd: options.cwd,
            uid: options.runAs?.uid,
            gid: options.runAs?.gid,
            detached: true,
            stdio: ["ignore", out, out],
        });
        return new ManagedProcess(name, child);
    } finally {
        if (typeof out === "number") {
            fs.closeSync(out);
        }
    }
}

export interface RunOptions {
    env: NodeJS.ProcessEnv;
    cwd?: string;
    runAs?: RunAs;
    /** Killed (whole group) after this long; the result then has timedOut set. */
    timeoutMs?: number;
    input?: string;
    /** Called with the pid once the command is running (to signal it from outside). */
    onSpawn?: (pid: number) => void;
}

export interface RunResult extends ProcessExit {
    stdout: string;
    stderr: string;
    durationMs: number;
    timedOut: boolean;
}

/** Runs a command to completion in its own process group, capturing its output. */
export function runProcess(command: string, args: string[], options: RunOptions): Promise<RunResult> {
    const started = Date.now();
    return new Promise((resolve, reject) => {
        let child: ChildProcess;
        try {
            child = spawn(command, args, {
                env: options.env,
                cwd: options.cwd,
                uid: options.runAs?.uid,
                gid: options.runAs?.gid,
                detached: true,
                stdio: ["pipe", "pipe", "pipe"],
            });
        } catch (err) {
            reject(err);
            return;
        }
        const managed = new ManagedProcess(command, child);
        if (child.pid !== undefined) {
            options.onSpawn?.(child.pid);
        }
        const stdout: Buffer[] = [];
        const stderr: Buffer[] = [];
        child.stdout!.on("data", (d: Buffer) => stdout.push(d));
        child.stderr!.on("data", (d: Buffer) => stderr.push(d));
        child.stdin!.on("error", () => undefined);
        child.stdin!.end(options.input ?? "");
        let timedOut = false;
        const timer =
            options.timeoutMs === undefined
                ? undefined
                : setTimeout(() => {
                      timedOut = true;
                      managed.signalGroup("SIGKILL");
                  }, options.timeoutMs);
        child.once("error", (err) => {
            if (timer) clearTimeout(timer);
            reject(new Error(`cannot run ${command}: ${err.message}`));
        });
        child.once("close", (code, signal) => {
            if (timer) clearTimeout(timer);
            // Whatever the command left running in its group goes with it.
            managed.signalGroup("SIGKILL");
            resolve({
                code,
                signal,
                stdout: Buffer.concat(stdout).toString("utf8"),
                stderr: Buffer.concat(stderr).toString("utf8"),
                durationMs: Date.now() - started,
                timedOut,
            });
        });
    });
}

/** Like runProcess, but throws with the command's output unless it exits 0. */
export async function runChecked(command: string, args: string[], options: RunOptions): Promise<RunResult> {
    const result = await runProcess(command, args, options);
    if (result.code !== 0) {
        throw new Error(
            `${command} ${args.join(" ")} failed (${result.timedOut ? "timed out" : `exit ${result.code ?? result.signal}`}):\n` +
                `${result.stderr}${result.stdout}`.trim().split("\n").slice(-20).join("\n"),
        );
    }
    return result;
}

/** Process ids of the groups this module still tracks (for leak checks in tests). */
export function liveProcessIds(): number[] {
    return [...live].filter((p) => p.running).map((p) => p.pid);
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it returns a value other than undefined/false, or throws after `timeoutMs`. */
export async function waitFor<T>(
    what: string,
    check: () => Promise<T | undefined | false> | T | undefined | false,
    timeoutMs: number,
    intervalMs = 250,
): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    for (;;) {
        try {
            const value = await check();
            if (value !== undefined && value !== false) {
                return value as T;
            }
        } catch (err) {
            lastError = err;
        }
        if (Date.now() > deadline) {
            const why = lastError instanceof Error ? `: ${lastError.message}` : "";
            throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
        }
        await sleep(intervalMs);
    }
}
