// npm test's CPU column (tools/suiteCpu.ts) counts a suite's orphans: a process whose parent exits first (as a
// daemon's does) is reaped by tini and so reaches GNU time, where without the subreaper it would go to init and
// its CPU would be missing from the table.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseCpuSeconds } from "../../tools/testSummary";
import { cpuUnmeasurable, GNU_TIME, measuredCommand, SUBREAPER } from "../../tools/suiteCpu";
import { testTimeout } from "../support/timeouts";

/**
 * Debian's interpreter, by path: a `python3` found on PATH may be a version manager's shim (pyenv's costs
 * about 0.7 CPU-s per start here), which would blur what the run measures.
 */
const PYTHON = "/usr/bin/python3";
/** CPU seconds the orphan burns (process time, so a niced run only takes longer). */
const ORPHAN_CPU_SECONDS = 1;

// The orphan writes its pid, then burns its CPU. The suite's main process has already lost it as a child (the
// sh that started it in the background exited at once) and waits until it has exited: gone from /proc, or a
// zombie that init has not reaped yet. Only then does the main process end, so the orphan's CPU is spent inside
// the run. The main process polls in Python, without forking, so its own CPU stays small however long it waits.
const ORPHAN = `import os, sys, time
open(sys.argv[1], "w").write(str(os.getpid()))
while time.process_time() < ${ORPHAN_CPU_SECONDS}: pass`;
const MAIN = `import subprocess, sys, time
pid_file = sys.argv[1]
subprocess.run(["sh", "-c", 'setsid "$0" -c "$1" "$2" &', sys.executable, ${JSON.stringify(ORPHAN)}, pid_file], check=True)
def state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        # Gone before the open (ENOENT) or reaped between the open and the read (ESRCH).
        return None
while True:
    try:
        pid = int(open(pid_file).read())
        break
    except (FileNotFoundError, ValueError):
        time.sleep(0.05)
while state(pid) not in (None, "Z"):
    time.sleep(0.05)`;

function cpuOfRun(dir: string, subreaper: boolean): number {
    const cpuFile = path.join(dir, `cpu-${subreaper}`);
    const pidFile = path.join(dir, `pid-${subreaper}`);
    const [command, ...args] = measuredCommand([PYTHON, "-c", MAIN, pidFile], cpuFile, { subreaper });
    const run = spawnSync(command, args, { encoding: "utf8", timeout: testTimeout(30_000) });
    assert.equal(run.status, 0, `${command} ${args.join(" ")}: ${run.stderr}`);
    const ms = parseCpuSeconds(fs.readFileSync(cpuFile, "utf8"));
    assert.ok(ms !== undefined, `not GNU time's "%U %S": ${fs.readFileSync(cpuFile, "utf8")}`);
    return ms / 1000;
}

describe("npm test's CPU column", function () {
    this.timeout(testTimeout(60_000));

    it(`is measured here (${GNU_TIME} and ${SUBREAPER})`, () => {
        assert.equal(cpuUnmeasurable(), undefined);
    });

    it("says which tool is missing and the package that has it", () => {
        assert.match(cpuUnmeasurable((f) => f !== SUBREAPER)!, /\/usr\/bin\/tini missing \(apt-get install tini;/);
        assert.match(cpuUnmeasurable(() => false)!, /\/usr\/bin\/time and \/usr\/bin\/tini missing \(apt-get install time tini;/);
    });

    it("counts the CPU of a process orphaned during the run, which time(1) alone misses", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "drstack-suite-cpu-"));
        try {
            const withTini = cpuOfRun(dir, true);
            const without = cpuOfRun(dir, false);
            assert.ok(withTini >= 0.9 * ORPHAN_CPU_SECONDS, `with tini: ${withTini} s, the orphan alone burned ${ORPHAN_CPU_SECONDS} s`);
            assert.ok(without < 0.5 * ORPHAN_CPU_SECONDS, `without tini: ${without} s; the orphan's ${ORPHAN_CPU_SECONDS} s should be missing`);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
