// Named phases of a bench part: each is timed and reported by name, so a table says where the
// time went (load, plain copy, backup, download, decompression, unpack, WAL replay, ...).

import { formatTable } from "./support";

export interface PhaseTiming {
    name: string;
    seconds: number;
}

export class Phases {
    readonly timings: PhaseTiming[] = [];
    private readonly began = performance.now();

    constructor(private readonly log: (line: string) => void) {}

    /** Runs `fn` as phase `name`: logged when it starts and ends, its duration recorded even if it throws. */
    async run<T>(name: string, fn: () => Promise<T>): Promise<T> {
        this.say(`${name} ...`);
        const start = performance.now();
        try {
            return await fn();
        } finally {
            const seconds = Math.round(performance.now() - start) / 1000;
            this.timings.push({ name, seconds });
            this.say(`${name}: ${seconds.toFixed(2)} s`);
        }
    }

    /** A progress line, prefixed with the seconds since the part started. */
    say(line: string): void {
        this.log(`[${((performance.now() - this.began) / 1000).toFixed(0).padStart(5)}s] ${line}`);
    }
}

export function formatPhases(timings: PhaseTiming[]): string {
    const total = timings.reduce((sum, t) => sum + t.seconds, 0);
    return formatTable(
        ["phase", "seconds", "share"],
        timings.map((t) => [t.name, t.seconds.toFixed(2), `${total > 0 ? Math.round((100 * t.seconds) / total) : 0}%`]),
    );
}
