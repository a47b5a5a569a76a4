// Runs a job script (scripts/) the way its CronJob does: a mounted copy readable by the job's
// unprivileged user, its own HOME and TMPDIR, the system PATH and ONLY the variables documented
// in scripts/README.md (plus PYTHON_TOOL_ENV, which makes this machine's Python start barman-cloud as
// the jobs' image does: local/tools.ts). Used by the integration tests and by the DR drill.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { runProcess, RunResult } from "./processes";
import { PYTHON_TOOL_ENV, systemPath } from "./tools";
import { makeTempDir, removeDir, serviceUser, writeOwnedFile } from "./user";

export const SCRIPTS_DIR = path.resolve(__dirname, "..", "scripts");

export interface JobResult extends RunResult {
    script: string;
    /** The non-empty lines the job wrote to stderr (the scripts promise at most one). */
    stderrLines: string[];
}

/** Command lines of running processes that mention `text` (from /proc). */
export function processesMentioning(text: string): string[] {
    const found: string[] = [];
    for (const pid of fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
        try {
            const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").trim();
            if (cmdline.includes(text)) {
                found.push(`${pid}: ${cmdline}`);
            }
        } catch {
            // exited meanwhile
        }
    }
    return found;
}

export class JobSandbox {
    readonly scriptsDir: string;
    readonly home: string;
    /** The job's TMPDIR (an emptyDir in the cluster): must be empty again after every run. */
    readonly tmp: string;

    private constructor(readonly dir: string) {
        this.scriptsDir = path.join(dir, "scripts");
        this.home = path.join(dir, "home");
        this.tmp = path.join(dir, "tmp");
    }

    /** A directory owned by the job user holding a copy of scripts/ (as a ConfigMap mount would). */
    static create(name: string): JobSandbox {
        const user = serviceUser();
        const dir = makeTempDir(`job-${name}`, user);
        const sandbox = new JobSandbox(dir);
        for (const sub of [sandbox.scriptsDir, sandbox.home, sandbox.tmp]) {
            fs.mkdirSync(sub, { mode: 0o755 });
            if (user.runAs) fs.chownSync(sub, user.uid, user.gid);
        }
        for (const file of fs.readdirSync(SCRIPTS_DIR).filter((f) => f.endsWith(".sh"))) {
            fs.copyFileSync(path.join(SCRIPTS_DIR, file), path.join(sandbox.scriptsDir, file));
            fs.chmodSync(path.join(sandbox.scriptsDir, file), 0o755);
        }
        return sandbox;
    }

    path(name: string): string {
        return path.join(this.dir, name);
    }

    /** Writes a file the job user can read (and owns). */
    writeFile(name: string, content: string): string {
        const file = this.path(name);
        writeOwnedFile(file, content);
        return file;
    }

    readFile(name: string): string {
        return fs.readFileSync(this.path(name), "utf8");
    }

    /**
     * Runs scripts/<script> as its CronJob would: the job user, PATH, HOME, TMPDIR, PYTHON_TOOL_ENV
     * and `env`, nothing else. Afterwards, whatever the outcome, nothing it started may still run and its
     * temporary files must be gone.
     */
    async run(script: string, env: Record<string, string>, options: { timeoutMs?: number; onSpawn?: (pid: number) => void } = {}): Promise<JobResult> {
        const result = await runProcess(path.join(this.scriptsDir, script), [], {
            env: { PATH: systemPath(), HOME: this.home, TMPDIR: this.tmp, ...PYTHON_TOOL_ENV, ...env },
            cwd: this.home,
            runAs: serviceUser().runAs,
            timeoutMs: options.timeoutMs ?? 300000,
            onSpawn: options.onSpawn,
        });
        if (process.env.DRSTACK_TEST_VERBOSE) {
            process.stdout.write(`---- ${script} stdout ----\n${result.stdout}---- stderr ----\n${result.stderr}\n`);
        }
        const stderrLines = result.stderr.split("\n").filter((l) => l.trim() !== "");
        const job: JobResult = { ...result, script, stderrLines };
        assert.deepEqual(processesMentioning(this.tmp), [], `processes left running by ${describeRun(job)}`);
        assert.deepEqual(fs.readdirSync(this.tmp), [], `temporary files left behind by ${describeRun(job)}`);
        return job;
    }

    cleanup(): void {
        removeDir(this.dir);
    }
}

function tail(text: string, lines = 40): string {
    return text.trimEnd().split("\n").slice(-lines).join("\n");
}

export function describeRun(r: JobResult): string {
    return `${r.script} exited ${r.timedOut ? "(timed out)" : r.code ?? r.signal} after ${r.durationMs} ms\n` +
        `stderr:\n${r.stderr}\nstdout (tail):\n${tail(r.stdout)}`;
}

