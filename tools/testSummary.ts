// The pure half of `npm test` (tools/testAll.ts): what each suite counted, the closing table, and the closing
// `N passed, N failed` line that CI reads. Kept apart from the runner so it is unit-tested without processes.

export interface SuiteOutcome {
    /** Short name shown in the table. */
    name: string;
    /** The package.json script that ran it. */
    script: string;
    /** Process exit code (null when killed by a signal). */
    code: number | null;
    /** Wall time of the suite alone, milliseconds. */
    ms: number;
    /** Mocha's own counts, when the suite is a mocha run that reached its summary. */
    tests?: TestCounts;
    /**
     * CPU time (user + system) of the suite and every process it started (servers, archive commands, Python
     * tools, and processes that outlived their parent: tools/suiteCpu.ts), milliseconds; undefined when not
     * measured.
     */
    cpuMs?: number;
}

/** Parses what `/usr/bin/time -f "%U %S"` writes: user and system seconds; undefined if it is not that. */
export function parseCpuSeconds(text: string): number | undefined {
    const m = /^\s*(\d+(?:\.\d+)?) (\d+(?:\.\d+)?)\s*$/m.exec(text);
    return m ? Math.round((Number(m[1]) + Number(m[2])) * 1000) : undefined;
}

export interface TestCounts {
    passed: number;
    failed: number;
    pending: number;
}

/**
 * Reads the summary lines of mocha's spec reporter ("  12 passing (3s)", "  1 failing", "  2 pending").
 * Returns undefined when there is no "passing" line: not a mocha run, or one that died before its summary.
 */
export function mochaCounts(output: string): TestCounts | undefined {
    const count = (word: string): number | undefined => {
        const m = output.match(new RegExp(`^\\s*(\\d+) ${word}\\b`, "m"));
        return m ? Number(m[1]) : undefined;
    };
    const passed = count("passing");
    if (passed === undefined) return undefined;
    return { passed, failed: count("failing") ?? 0, pending: count("pending") ?? 0 };
}

export function succeeded(o: SuiteOutcome): boolean {
    return o.code === 0 && (o.tests?.failed ?? 0) === 0;
}

/**
 * Totals over all suites, in tests: each mocha test counts once; a suite that is not a mocha run
 * (typecheck, policy:check) or that died before mocha's summary counts as one test, passed or failed
 * by its exit code. So a failing suite always shows up in `failed`.
 */
export function totals(outcomes: SuiteOutcome[]): TestCounts {
    const t: TestCounts = { passed: 0, failed: 0, pending: 0 };
    for (const o of outcomes) {
        if (o.tests) {
            t.passed += o.tests.passed;
            t.pending += o.tests.pending;
            // A mocha run that exits non-zero with no failing test (e.g. a crash after the summary) still fails.
            t.failed += o.tests.failed > 0 || o.code === 0 ? o.tests.failed : 1;
        } else if (o.code === 0) {
            t.passed += 1;
        } else {
            t.failed += 1;
        }
    }
    return t;
}

export function seconds(ms: number): string {
    return `${(ms / 1000).toFixed(1)} s`;
}

/**
 * The CPU line under the table: the suites' CPU time, and the shortest wall time that work can take on
 * `cores` cores (CPU / cores, with every core busy all the time). Only when every suite was measured.
 */
export function cpuLine(outcomes: SuiteOutcome[], cores: number): string | undefined {
    if (outcomes.length === 0 || outcomes.some((o) => o.cpuMs === undefined)) return undefined;
    const cpu = outcomes.reduce((s, o) => s + o.cpuMs!, 0);
    return `CPU time ${seconds(cpu)} (user + system, all processes): at least ${seconds(cpu / cores)} of wall time on ${cores} cores`;
}

/** The closing table: one row per suite in run order, then the wall time of the whole run and the sum. */
export function summaryTable(outcomes: SuiteOutcome[], wallMs: number, parallelNote: string, cores = 1): string {
    const rows = outcomes.map((o) => [
        o.name,
        o.script,
        succeeded(o) ? "ok" : o.code === null ? "KILLED" : "FAILED",
        o.tests ? `${o.tests.passed}/${o.tests.failed}/${o.tests.pending}` : "-",
        o.cpuMs === undefined ? "-" : seconds(o.cpuMs),
        seconds(o.ms),
    ]);
    const header = ["suite", "npm run", "result", "tests pass/fail/pend", "CPU", "wall"];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (cells: string[]): string =>
        cells.map((c, i) => (i >= cells.length - 2 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ").trimEnd();
    const rule = widths.map((w) => "-".repeat(w)).join("  ");
    const sum = outcomes.reduce((s, o) => s + o.ms, 0);
    const failed = outcomes.filter((o) => !succeeded(o)).length;
    return [
        line(header),
        rule,
        ...rows.map(line),
        rule,
        `total wall time ${seconds(wallMs)} (sum of suite times ${seconds(sum)}; ${parallelNote})`,
        ...[cpuLine(outcomes, cores)].filter((l): l is string => l !== undefined),
        `${outcomes.length - failed} of ${outcomes.length} suites passed`,
    ].join("\n");
}

/** The last line of `npm test`, in the plain form CI reads: "N passed, N failed[, N skipped]", counting tests. */
export function closingLine(outcomes: SuiteOutcome[]): string {
    const t = totals(outcomes);
    return `${t.passed} passed, ${t.failed} failed` + (t.pending > 0 ? `, ${t.pending} skipped` : "");
}
