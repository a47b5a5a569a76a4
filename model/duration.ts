// Durations as people write them in stack config: "30s", "5m", "1h30m", "7d", "2w", "7y".
// Strict on purpose: "5" or "5 minutes" is rejected rather than guessed, because a
// misread RPO silently changes how much data a disaster may cost.

const UNIT_SECONDS: Record<string, number> = {
    s: 1,
    m: 60,
    h: 3600,
    d: 86400,
    w: 7 * 86400,
    // A year is counted with its leap day share so "7y" of retention is never short of 7 calendar years.
    y: Math.ceil(365.25 * 86400),
};

const DURATION = /^(?:\d+[smhdwy])+$/;
const PART = /(\d+)([smhdwy])/g;

export const DURATION_HELP = "a number and a unit (s, m, h, d, w, y), e.g. 30s, 5m, 1h30m, 7d, 7y";

/** Parses a duration to whole seconds; returns undefined when the text is not a duration. */
export function parseDuration(text: string): number | undefined {
    const trimmed = text.trim();
    if (!DURATION.test(trimmed)) {
        return undefined;
    }
    let seconds = 0;
    for (const [, count, unit] of trimmed.matchAll(PART)) {
        seconds += Number(count) * UNIT_SECONDS[unit];
    }
    return seconds;
}

/** Formats seconds back into the largest exact units, e.g. 270 -> "4m30s", 86400 -> "1d". */
export function formatDuration(seconds: number): string {
    if (seconds === 0) {
        return "0s";
    }
    const parts: string[] = [];
    let rest = seconds;
    for (const unit of ["d", "h", "m", "s"]) {
        const size = UNIT_SECONDS[unit];
        const count = Math.floor(rest / size);
        if (count > 0) {
            parts.push(`${count}${unit}`);
            rest -= count * size;
        }
    }
    return parts.join("");
}

/** Whole days, rounding up: retention must never come out shorter than asked for. */
export function toDaysCeil(seconds: number): number {
    return Math.ceil(seconds / UNIT_SECONDS.d);
}
