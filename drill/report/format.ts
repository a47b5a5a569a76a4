// How the drill report writes figures, shared by the Markdown and the SVG: seconds with a
// precision that suits their size, long spans also in the stack's own units, counts, targets.
import { formatDuration } from "../../model/duration";
import { RpoResult, Target } from "../types";

export function trimZeros(text: string): string {
    return text.includes(".") ? text.replace(/0+$/, "").replace(/\.$/, "") : text;
}

/**
 * Seconds with precision that suits their size: "0.012 s", "1.8 s", "42 s", "310 s".
 * Two decimals below 10 s so a measured 1.84 s never prints the same as a 1.8 s target it missed.
 */
export function formatSeconds(seconds: number | undefined): string {
    if (seconds === undefined || !Number.isFinite(seconds)) {
        return "n/a";
    }
    const abs = Math.abs(seconds);
    let text: string;
    if (abs === 0) {
        text = "0";
    } else if (abs < 0.001) {
        text = seconds.toPrecision(1);
    } else if (abs < 1) {
        text = trimZeros(seconds.toFixed(3));
    } else if (abs < 10) {
        text = trimZeros(seconds.toFixed(2));
    } else if (abs < 100) {
        text = trimZeros(seconds.toFixed(1));
    } else {
        text = String(Math.round(seconds));
    }
    return `${text} s`;
}

/** Long spans also in the units the stack config uses, e.g. "310 s (5m10s)". */
export function formatSpan(seconds: number): string {
    const rounded = Math.round(seconds);
    return rounded >= 60 ? `${formatSeconds(seconds)} (${formatDuration(rounded)})` : formatSeconds(seconds);
}

export function formatCount(n: number): string {
    return n.toLocaleString("en-US");
}

export function formatTarget(target: Target): string {
    return `${target.label} = ${formatSeconds(target.seconds)} drill`;
}

/** The RPO target, plus the limit actually judged against when it is not the target (log shipping). */
export function formatRpoTarget(rpo: RpoResult): string {
    const base = formatTarget(rpo.target);
    return rpo.limitSeconds !== undefined && rpo.limitSeconds !== rpo.target.seconds ? `${base}; judged against ${formatSeconds(rpo.limitSeconds)} (${rpo.judgedAgainst.split(" (")[0].split(";")[0]})` : base;
}

/** The verdict a scenario reached on one measure, as the report prints it. */
export function verdict(met: boolean): "PASS" | "FAIL" {
    return met ? "PASS" : "FAIL";
}
