// Shared by the `npm run bench` parts: which machine the figures come from, a teardown that
// also runs on Ctrl-C, timing of commands (with the writeback they cause) and a text table.

import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { RunOptions, RunResult, runChecked, runProcess } from "../local/processes";

export const MIB = 1024 * 1024;

export interface MachineInfo {
    cpus: number;
    cpuModel: string;
    memoryMiB: number;
    os: string;
    kernel: string;
    node: string;
    /** The filesystem the temp dirs (data dir, copies, restores) live on. */
    filesystem: { path: string; source: string; fstype: string };
    /** 1/5/15-minute load averages when the benchmark started: other work on the machine skews figures. */
    loadAverageAtStart: number[];
}

function osName(): string {
    try {
        const release = fs.readFileSync("/etc/os-release", "utf8");
        return /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(release)?.[1] ?? os.type();
    } catch {
        return os.type();
    }
}

export async function machineInfo(dir: string = os.tmpdir()): Promise<MachineInfo> {
    const cpus = os.cpus();
    const mount = await runProcess("findmnt", ["-n", "-o", "SOURCE,FSTYPE", "-T", dir], { env: process.env, timeoutMs: 10000 }).catch(
        () => undefined,
    );
    const [source, fstype] = mount && mount.code === 0 ? mount.stdout.trim().split(/\s+/) : ["unknown", "unknown"];
    return {
        cpus: cpus.length,
        cpuModel: cpus[0]?.model.trim() ?? "unknown",
        memoryMiB: Math.round(os.totalmem() / MIB),
        os: osName(),
        kernel: os.release(),
        node: process.version,
        filesystem: { path: dir, source, fstype },
        loadAverageAtStart: os.loadavg().map((l) => Math.round(l * 100) / 100),
    };
}

/**
 * Cleanup steps that run once, newest first, when the benchmark ends, fails or is interrupted.
 * Commands started through it are killed (their whole process group) before the steps run, so
 * no upload or copy keeps writing into a directory being removed.
 */
export class Teardown {
    private readonly steps: { what: string; run: () => unknown }[] = [];
    private readonly commandGroups = new Set<number>();
    private done: Promise<void> | undefined;

    constructor(private readonly log: (line: string) => void) {}

    add(what: string, run: () => unknown): void {
        this.steps.push({ what, run });
    }

    /** runChecked, with the command's process group killed by the teardown if it is still running. */
    async run(command: string, args: string[], options: RunOptions): Promise<RunResult> {
        let pid: number | undefined;
        try {
            return await runChecked(command, args, {
                ...options,
                onSpawn: (p) => {
                    pid = p;
                    this.commandGroups.add(p);
                    options.onSpawn?.(p);
                },
            });
        } finally {
            if (pid !== undefined) {
                this.commandGroups.delete(pid);
            }
        }
    }

    /** Runs every step (even after one fails); the same promise on every call. */
    runAll(): Promise<void> {
        this.done ??= (async () => {
            for (const pid of this.commandGroups) {
                try {
                    process.kill(-pid, "SIGKILL");
                } catch {
                    // already gone
                }
            }
            for (const step of this.steps.reverse()) {
                try {
                    await step.run();
                } catch (err) {
                    this.log(`cleanup: ${step.what} failed: ${(err as Error).message}`);
                }
            }
        })();
        return this.done;
    }

    /**
     * Until the returned function is called, SIGINT/SIGTERM/SIGHUP run the teardown and exit.
     * The servers run in their own process groups, so a terminal's Ctrl-C reaches only us.
     */
    exitOnSignals(): () => void {
        const codes: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 };
        const handler = (signal: NodeJS.Signals) => {
            if (this.done) {
                this.log(`${signal}: still cleaning up`);
            } else {
                this.log(`${signal}: stopping and cleaning up`);
            }
            // process.exit (not the default signal death) so processes.ts's exit hook kills any group left.
            void this.runAll().finally(() => process.exit(codes[signal] ?? 1));
        };
        for (const signal of Object.keys(codes) as NodeJS.Signals[]) {
            process.on(signal, handler);
        }
        return () => {
            for (const signal of Object.keys(codes) as NodeJS.Signals[]) {
                process.off(signal, handler);
            }
        };
    }
}

export function seconds(fromMs: number, toMs: number = performance.now()): number {
    return Math.round((toMs - fromMs) / 10) / 100;
}

export function median(values: number[]): number {
    if (values.length === 0) {
        throw new Error("median of nothing");
    }
    const sorted = [...values].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function round(value: number, digits = 2): number {
    const f = 10 ** digits;
    return Math.round(value * f) / f;
}

/** Apparent size of the regular files under `dir` (what a copy or a restore has to write). */
export function dirBytes(dir: string): number {
    let total = 0;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) {
            total += dirBytes(full);
        } else if (entry.isFile()) {
            total += fs.lstatSync(full).size;
        }
    }
    return total;
}

/** Flushes the filesystem holding `dir`: writes still in the page cache count as not done yet. */
export async function syncFilesystem(teardown: Teardown, dir: string): Promise<void> {
    await teardown.run("sync", ["-f", dir], { env: process.env, timeoutMs: 600000 });
}

/** Left-aligned first column, the rest right-aligned. */
export function formatTable(header: string[], rows: string[][]): string {
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
    const line = (cells: string[]) =>
        cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(" | ");
    return [line(header), widths.map((w) => "-".repeat(w)).join("-|-"), ...rows.map(line)].join("\n");
}
