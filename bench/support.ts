// Shared by the `npm run bench` parts: which machine the figures come from, timing of commands (with the
// writeback they cause) and a text table. Cleanup is local/teardown.ts's: each part runs in a scope of
// processTeardown, which also runs on Ctrl-C.

import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { runChecked, runProcess } from "../local/processes";

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
export async function syncFilesystem(dir: string): Promise<void> {
    await runChecked("sync", ["-f", dir], { env: process.env, timeoutMs: 600000 });
}

/** Left-aligned first column, the rest right-aligned. */
export function formatTable(header: string[], rows: string[][]): string {
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
    const line = (cells: string[]) =>
        cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(" | ");
    return [line(header), widths.map((w) => "-".repeat(w)).join("-|-"), ...rows.map(line)].join("\n");
}
