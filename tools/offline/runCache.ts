// Identical program runs in one process are answered once. The unit tests run the program under the
// mocks ~150 times, a third of them with the very same stack, config and peer outputs; each run costs
// seconds of CPU (the SDK serialises every input, and captures a stack trace per promise and resource).
// A run is memoised only when its answer cannot differ or be changed afterwards:
// - the key is everything the program reads: the stack name, the effective flat config (secrets
//   included), which keys are secret, and what the mocked peer stacks and buckets return;
// - the program reads the clock only to judge restore targets (config/restore.ts, `nowMs`), so a
//   config with `drstack:restore` is never memoised;
// - the result is deep-frozen, so a test that changes it fails loudly (TypeError in strict mode)
//   instead of changing what the next test sees.

import { configKey } from "../../model/contract";

/** Everything a run's outcome depends on (see above). */
export interface RunInputs {
    stack: string;
    config: Record<string, string>;
    secretKeys: string[];
    peers: Record<string, Record<string, unknown>>;
    objects: Record<string, string[]>;
}

/** Runs kept at most; the unit suite repeats a handful of keys, mostly the shipped stacks as they are. */
const CAPACITY = 48;

const CLOCK_DEPENDENT_KEYS = [configKey("restore")];

/** The memo key of a run, or undefined when its outcome may depend on the clock. */
export function runKey(inputs: RunInputs): string | undefined {
    if (CLOCK_DEPENDENT_KEYS.some((k) => inputs.config[k] !== undefined)) return undefined;
    return JSON.stringify([inputs.stack, inputs.config, [...inputs.secretKeys].sort(), inputs.peers, inputs.objects]);
}

function isPlainData(value: unknown): value is object {
    if (value === null || typeof value !== "object") return false;
    const proto = Object.getPrototypeOf(value);
    return Array.isArray(value) || proto === Object.prototype || proto === null;
}

/**
 * Freezes a value and every array and plain object reachable from it; returns it. It stops at
 * class instances: a component's inputs can hold live SDK objects (a Resource passed as an
 * argument, with its Outputs and parent), which the SDK itself still writes to.
 */
export function deepFreeze<T>(value: T): T {
    if (isPlainData(value) && !Object.isFrozen(value)) {
        Object.freeze(value);
        for (const key of Reflect.ownKeys(value)) deepFreeze((value as Record<PropertyKey, unknown>)[key]);
    }
    return value;
}

/** A least-recently-used memo of frozen run results. */
export class RunCache<T> {
    private readonly entries = new Map<string, T>();

    constructor(private readonly capacity = CAPACITY) {}

    get(key: string | undefined): T | undefined {
        if (key === undefined) return undefined;
        const hit = this.entries.get(key);
        if (hit !== undefined) {
            this.entries.delete(key);
            this.entries.set(key, hit);
        }
        return hit;
    }

    set(key: string | undefined, value: T): void {
        if (key === undefined) return;
        this.entries.set(key, deepFreeze(value));
        while (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
    }

    get size(): number {
        return this.entries.size;
    }
}
