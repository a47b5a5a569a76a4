// How `npm test` (tools/testAll.ts) measures a suite's CPU time: GNU time around the suite, with tini as a
// subreaper between them.
//
// GNU time reports what wait4(2) returns for its child: the CPU of that child and of every descendant that was
// waited for in turn. A process whose parent exits first is reparented to init, which reaps it, and its CPU never
// reaches the suite's figure. Until 2026-11-25 every local PostgreSQL server started such a process, a warm
// barman-cloud server that its archive commands forked from (started in a session of its own by a client that
// then exited). Process accounting (acct(5)) over one `npm test` on this VM counted 1,099 CPU-s where the table
// showed 782, and with them counted, the drill at test scale took 611 CPU-s warm against 634 cold: the shortcut
// was removed. `tini -s` registers as a child subreaper (`tini -h`: "-s: Register as a process
// subreaper"), and an orphaned descendant is reparented to the nearest living subreaper ancestor, which wait(2)s
// for it (man7.org PR_SET_CHILD_SUBREAPER(2const)); time(1) then counts them through tini, whatever a suite
// starts next. A process still running when the suite's main process exits goes on to init uncounted, but the
// suites fail on any process left behind (local/processes.ts), so there should be none.

import * as fs from "fs";

/** GNU time (Debian package `time`). */
export const GNU_TIME = "/usr/bin/time";
/** tini (Debian package `tini`), run as a subreaper (`-s`) when it is not PID 1. */
export const SUBREAPER = "/usr/bin/tini";

/** Why the CPU column stays empty on this machine, or undefined when both tools are here. */
export function cpuUnmeasurable(exists: (file: string) => boolean = fs.existsSync): string | undefined {
    const missing = [
        [GNU_TIME, "time"],
        [SUBREAPER, "tini"],
    ].filter(([file]) => !exists(file));
    if (missing.length === 0) return undefined;
    return (
        `CPU time not measured: ${missing.map(([file]) => file).join(" and ")} missing ` +
        `(apt-get install ${missing.map(([, pkg]) => pkg).join(" ")}; .ci/run installs them)`
    );
}

/**
 * `command` wrapped so that its CPU time, and that of every process it starts (orphans included), is written
 * to `cpuFile` as "<user seconds> <system seconds>" (parsed by parseCpuSeconds in tools/testSummary.ts).
 * `subreaper: false` leaves tini out, for the test that shows what it adds.
 */
export function measuredCommand(command: string[], cpuFile: string, options: { subreaper?: boolean } = {}): string[] {
    const reaped = options.subreaper === false ? command : [SUBREAPER, "-s", "--", ...command];
    return [GNU_TIME, "-f", "%U %S", "-o", cpuFile, ...reaped];
}
