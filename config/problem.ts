// A validation problem: the setting it is about (`drstack:<path>` or `aws:region`) and what is
// wrong with it, how to fix it. ConfigError lists them; the checks' tests assert on `key`.

import { configKey } from "../model/contract";

export interface Problem {
    /** The full config key, e.g. "drstack:rpo.region". */
    key: string;
    /** What is wrong and what is allowed; a text starting with "is " reads on from the key ("drstack:x is required"). */
    text: string;
}

export function problem(path: string, text: string): Problem {
    return { key: path.startsWith("aws:") ? path : configKey(path), text };
}

export function render(p: Problem): string {
    return p.text.startsWith("is ") ? `${p.key} ${p.text}` : `${p.key}: ${p.text}`;
}

/** Raised for any invalid setting, before a single resource is declared. */
export class ConfigError extends Error {
    constructor(
        readonly stack: string,
        readonly problems: string[],
    ) {
        super(
            `Invalid drstack configuration for stack "${stack}" (nothing was deployed):\n` +
                problems.map((p) => `  - ${p}`).join("\n"),
        );
        this.name = "ConfigError";
    }
}
