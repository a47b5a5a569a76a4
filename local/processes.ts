// Child processes that cannot outlive their owner. Every process runs in its own process group
// and session (detached), and carries a tag in its environment that everything it starts
// inherits. Killing a process kills every process carrying its tag and every member of their
// groups, then waits until none is left. The tag is needed because a process group is not
// enough: PostgreSQL puts each child of the postmaster in a session of its own
// (InitPostmasterChild, src/backend/utils/init/miscinit.c, calls setsid()), and the archiver
// runs archive_command with system(), so an archive command in flight lives in the archiver's
// group, which survives a SIGKILL of the postmaster's group. Every process is also on
// processTeardown, so nothing is left when Node exits or is interrupted.

import { ChildProcess, spawn } from "child_process";
import { randomBytes } from "crypto";
import * as fs from "fs";
import { processTeardown, Registration } from "./teardown";
import { listeningSocketInodes } from "./ports";

/** The OS identity a process runs as; omitted means the current user. */
export interface RunAs {
    uid: number;
    gid: number;
}

export interface ProcessExit {
    code: number | null;
    signal: NodeJS.Signals | null;
}

/** The environment variable that marks every process started here, and what they start. */
export const OWNER_TAG_VARIABLE = "DRSTACK_OWNER_TAG";
/** This Node process's prefix of the tags: `${OWNER_TAG_PREFIX}<n>` for its n-th process. */
const OWNER_TAG_PREFIX = `${process.pid}.${randomBytes(4).toString("hex")}.`;
let nextTag = 1;
/** This Node process's own process group, which a cleanup must never signal. */
const OWN_GROUP = Number(fs.readFileSync("/proc/self/stat", "utf8").split(") ")[1].split(" ")[2]);

/** A process seen in /proc. */
export interface ProcessInfo {
    pid: number;
    ppid: number;
    pgid: number;
    sid: number;
    cmdline: string;
}

/** The environment tag of a process, if it has one (undefined also when its environment is not ours to read). */
function tagOf(pid: number): string | undefined {
    try {
        const environ = fs.readFileSync(`/proc/${pid}/environ`, "latin1");
        const at = environ.indexOf(`${OWNER_TAG_VARIABLE}=`);
        if (at < 0 || (at > 0 && environ[at - 1] !== "\0")) return undefined;
        const start = at + OWNER_TAG_VARIABLE.length + 1;
        const end = environ.indexOf("\0", start);
        return environ.slice(start, end < 0 ? undefined : end);
    } catch {
        return undefined;
    }
}

/** What a scan knows of a process before it reads its command line. */
interface ScanCandidate {
    pid: number;
    ppid: number;
    pgid: number;
    /** Its owner tag; read only when the scan asks for it (one more read per process). */
    tag?: string;
}

/**
 * Live processes (zombies excluded), from /proc, other than this one. `pick` sees each process's stat
 * (and its owner tag when `withTag`); the command line is read only of those it picks, and `keep`
 * then filters on the whole ProcessInfo.
 */
function scan(pick: (p: ScanCandidate) => boolean, withTag: boolean, keep: (p: ProcessInfo) => boolean = () => true): ProcessInfo[] {
    const found: ProcessInfo[] = [];
    for (const entry of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
        const pid = Number(entry);
        try {
            const stat = fs.readFileSync(`/proc/${pid}/stat`, "latin1");
            // After the parenthesised command: state ppid pgrp session ...
            const [state, ppid, pgrp, session] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
            if (state === "Z" || state === "X") continue; // dead, waiting to be reaped
            const candidate: ScanCandidate = { pid, ppid: Number(ppid), pgid: Number(pgrp), ...(withTag ? { tag: tagOf(pid) } : {}) };
            if (!pick(candidate)) continue;
            const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").trim();
            const info: ProcessInfo = { pid, ppid: candidate.ppid, pgid: candidate.pgid, sid: Number(session), cmdline };
            if (keep(info)) found.push(info);
        } catch {
            // exited meanwhile
        }
    }
    return found;
}

/**
 * Live processes (zombies excluded) that `match` selects, with their parent, group, session and
 * command line: for tests that look for what a server or a tool left behind, anyone's.
 */
export function liveProcesses(match: (p: ProcessInfo) => boolean): ProcessInfo[] {
    return scan(() => true, false, match);
}

/** Live processes (zombies excluded) whose command line contains `text`. */
export function processesWith(text: string): ProcessInfo[] {
    return liveProcesses((p) => p.cmdline.includes(text));
}

/** Every live process started by this Node process (through here), and what those started. */
export function ownedProcesses(): ProcessInfo[] {
    return scan((p) => p.tag?.startsWith(OWNER_TAG_PREFIX) === true, true);
}

export function describeProcesses(ps: ProcessInfo[]): string {
    return ps.map((p) => `pid ${p.pid} (group ${p.pgid}, session ${p.sid}): ${p.cmdline}`).join("\n");
}

export class ManagedProcess {
    /** Resolves when the process (the group leader) exits. */
    readonly exited: Promise<ProcessExit>;
    private exitInfo: ProcessExit | undefined;
    private readonly registration: Registration;

    constructor(
        readonly name: string,
        readonly child: ChildProcess,
        /** The value of OWNER_TAG_VARIABLE in its environment. */
        readonly tag: string,
    ) {
        this.registration = processTeardown.add(`kill ${name}`, () => this.kill());
        // What the leader leaves when it exits is killed by stop()/kill(), or by the exit hook.
        this.exited = new Promise((resolve) => {
            const done = (code: number | null, signal: NodeJS.Signals | null) => {
                if (this.exitInfo === undefined) {
                    this.exitInfo = { code, signal };
                    resolve(this.exitInfo);
                }
            };
            child.once("exit", done);
            child.once("error", () => done(null, null));
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

    /**
     * Every live process that belongs to this one: those carrying its tag (whatever group or session
     * they moved to, even orphaned), and every live member of the leader's group and of `groups`.
     */
    members(groups: ReadonlySet<number> = new Set()): ProcessInfo[] {
        // The leader's group number is only ours while the leader is unreaped: later it may be reused.
        const leader = this.exitInfo === undefined ? this.child.pid : undefined;
        return scan((p) => p.tag === this.tag || p.pgid === leader || groups.has(p.pgid), true);
    }

    /**
     * True when one of its processes holds a socket listening on 127.0.0.1:`port`. A readiness probe that only
     * connects cannot tell our server from another one on the same port: freePort()'s port can be bound by
     * another suite's server before ours binds it, and ours then exits on "address in use" after the probe
     * has been answered by the other one.
     */
    listensOn(port: number): boolean {
        const inodes = listeningSocketInodes(port);
        if (inodes.size === 0) return false;
        return this.members().some((p) => {
            try {
                return fs.readdirSync(`/proc/${p.pid}/fd`).some((fd) => {
                    const m = /^socket:\[(\d+)\]$/.exec(readLinkOrEmpty(`/proc/${p.pid}/fd/${fd}`));
                    return m !== null && inodes.has(m[1]);
                });
            } catch {
                return false; // gone, or not ours to read
            }
        });
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

    /** Signals the leader's process group (while the leader is unreaped: later its number may be reused). */
    signalGroup(signal: NodeJS.Signals): void {
        if (this.child.pid !== undefined && this.exitInfo === undefined) {
            try {
                process.kill(-this.child.pid, signal);
            } catch {
                // group already gone
            }
        }
    }

    /**
     * SIGKILLs, synchronously, every member and every group a member is in (adding those to `groups`).
     * Returns the members it found.
     */
    private killMembers(groups = new Set<number>()): ProcessInfo[] {
        this.signalGroup("SIGKILL");
        const members = this.members(groups);
        for (const m of members) {
            if (m.pgid > 1 && m.pgid !== OWN_GROUP) groups.add(m.pgid); // never our own group
        }
        for (const group of groups) {
            try {
                process.kill(-group, "SIGKILL");
            } catch {
                // gone
            }
        }
        for (const m of members) {
            try {
                process.kill(m.pid, "SIGKILL");
            } catch {
                // gone
            }
        }
        return members;
    }

    /**
     * Kills the process and everything it started, and resolves once none of them is left: no live
     * process carrying its tag or in a group one of them was in, and the leader reaped. The SIGKILLs go
     * out before the first await, so the exit hook can rely on this. Zombies do not count: they have
     * exited and wait only for their parent to reap them (here often init, which may take its time).
     * Throws, naming what remained and how long it waited, if anything is still running after `timeoutMs`.
     */
    async kill(timeoutMs = 20000): Promise<void> {
        const started = Date.now();
        const groups = new Set<number>();
        let left = this.killMembers(groups);
        while (left.length > 0 || this.running) {
            const waited = Date.now() - started;
            if (waited > timeoutMs) {
                const what = left.length > 0 ? describeProcesses(left) : `the leader (pid ${this.child.pid}) was not reaped`;
                throw new Error(`${this.name}: still running ${waited} ms after SIGKILL of its processes and groups ${[...groups].join(", ")}:\n${what}`);
            }
            // A scan reads /proc; on a loaded machine it takes a while, so poll gently.
            await new Promise((resolve) => setTimeout(resolve, 100));
            left = this.killMembers(groups);
        }
        this.registration.release();
    }

    /**
     * Sends `signal` (to the leader, or the group with `group: true`) and waits up to `graceMs` for the
     * leader to exit; then kills whatever is left of it (see kill()). Resolves once nothing is left.
     */
    async stop(signal: NodeJS.Signals = "SIGTERM", graceMs = 15000, group = true): Promise<ProcessExit> {
        if (this.exitInfo === undefined) {
            if (group) {
                this.signalGroup(signal);
            } else {
                this.signal(signal);
            }
            let timer: NodeJS.Timeout | undefined;
            await Promise.race([this.exited, new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
            clearTimeout(timer);
        }
        await this.kill();
        return this.exited;
    }
}

/** Live processes (zombies excluded) in process group `pgid`. */
export function processesInGroup(pgid: number): ProcessInfo[] {
    return scan((p) => p.pgid === pgid, false);
}

/** A fresh environment tag, and `env` carrying it. */
function tagged(env: NodeJS.ProcessEnv): { tag: string; env: NodeJS.ProcessEnv } {
    const tag = `${OWNER_TAG_PREFIX}${nextTag++}`;
    return { tag, env: { ...env, [OWNER_TAG_VARIABLE]: tag } };
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
    const { tag, env } = tagged(options.env);
    try {
        const child = spawn(command, args, {
            env,
            cwd: options.cwd,
            uid: options.runAs?.uid,
            gid: options.runAs?.gid,
            detached: true,
            stdio: ["ignore", out, out],
        });
        return new ManagedProcess(name, child, tag);
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
    const { tag, env } = tagged(options.env);
    return new Promise((resolve, reject) => {
        let child: ChildProcess;
        try {
            child = spawn(command, args, {
                env,
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
        const managed = new ManagedProcess(command, child, tag);
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
                      managed.kill().catch(() => undefined);
                  }, options.timeoutMs);
        child.once("error", (err) => {
            if (timer) clearTimeout(timer);
            managed.kill().catch(() => undefined);
            reject(new Error(`cannot run ${command}: ${err.message}`));
        });
        child.once("close", (code, signal) => {
            if (timer) clearTimeout(timer);
            const durationMs = Date.now() - started;
            // Whatever the command left running goes with it before its result counts.
            managed.kill().then(
                () =>
                    resolve({
                        code,
                        signal,
                        stdout: Buffer.concat(stdout).toString("utf8"),
                        stderr: Buffer.concat(stderr).toString("utf8"),
                        durationMs,
                        timedOut,
                    }),
                reject,
            );
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

/** Resolves after `ms`. */
function readLinkOrEmpty(link: string): string {
    try {
        return fs.readlinkSync(link);
    } catch {
        return "";
    }
}

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
