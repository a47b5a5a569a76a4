// The one cleanup mechanism of the drill, the bench and the tests: a stack of cleanup steps that
// runs newest first, exactly once, whether the work ends normally, fails, or the process is
// interrupted. Scopes nest (a scenario inside the drill, a topology inside a scenario), and every
// scope hangs off `processTeardown`, the process-wide stack that runs:
//   - on SIGINT / SIGTERM / SIGHUP: every step (awaited), then the process exits 128 + signal;
//     a second signal exits at once;
//   - on exit (normal end, uncaught error, process.exit): every step left, synchronously. Node
//     cannot await in an 'exit' handler, so a step then runs only up to its first `await`. The
//     steps that must work there (SIGKILL a process group, remove a temp dir) do their work
//     before awaiting; see ManagedProcess.kill and makeTempDir.
// Steps must be idempotent: a resource may be released by its own scope and again by the exit hook.

import { constants } from "os";

export type CleanupStep = () => unknown;

export interface Registration {
    /** Takes the step off its stack without running it (the resource was released another way). */
    release(): void;
}

interface Entry {
    what: string;
    run: () => Promise<void>;
    /** What runs at process exit, when nothing can be awaited. */
    runSync: () => void;
}

function message(error: unknown): string {
    return error instanceof Error ? error.message : String(error);
}

export class Teardown {
    private readonly entries: Entry[] = [];
    private finished: Promise<void> | undefined;
    private inParent: Registration | undefined;

    /** Use processTeardown.scope(name) rather than this: a scope outside the tree never runs on a signal. */
    constructor(readonly name: string) {}

    /** How many steps are waiting. */
    get size(): number {
        return this.entries.length;
    }

    /** Whether runAll() has started: a step added later runs at once. */
    get closed(): boolean {
        return this.finished !== undefined;
    }

    /** Pushes a cleanup step; it runs when this stack runs (or at once if the stack already ran). */
    add(what: string, step: CleanupStep): Registration {
        const entry: Entry = {
            what,
            run: async () => {
                await step();
            },
            runSync: () => {
                const result = step();
                // At exit nothing can be awaited: a failure of the asynchronous part is moot.
                if (result instanceof Promise) result.catch(() => undefined);
            },
        };
        return this.push(entry);
    }

    /**
     * A nested stack: its steps run when it runs, or, if it has not yet run, with this one. Once run, it
     * leaves this stack. Use one per unit of work that cleans up after itself (a scenario, a test suite).
     */
    scope(name: string): Teardown {
        const child = new Teardown(`${this.name} > ${name}`);
        child.inParent = this.push({ what: `the steps of ${child.name}`, run: () => child.runAll(), runSync: () => child.runAllSync() });
        return child;
    }

    /**
     * Runs every step, newest first, each once, even when one fails; the same promise on every call.
     * Steps added while it runs run too. Rejects with one error naming every step that failed.
     */
    runAll(): Promise<void> {
        this.finished ??= (async () => {
            const failures: string[] = [];
            for (let entry = this.entries.pop(); entry; entry = this.entries.pop()) {
                try {
                    await entry.run();
                } catch (error) {
                    failures.push(`${entry.what}: ${message(error)}`);
                }
            }
            this.inParent?.release();
            if (failures.length > 0) {
                throw new Error(`cleanup of ${this.name}: ${failures.length} step(s) failed:\n- ${failures.join("\n- ")}`);
            }
        })();
        return this.finished;
    }

    /** Runs `body`, then this stack, whatever happened; an error of the body wins over one of the cleanup. */
    async around<T>(body: (teardown: Teardown) => Promise<T>): Promise<T> {
        let result: T;
        try {
            result = await body(this);
        } catch (error) {
            await this.runAll().catch((cleanupError) => {
                (error as Error).message += `\n(and ${message(cleanupError)})`;
            });
            throw error;
        }
        await this.runAll();
        return result;
    }

    /** Process exit: every step left, newest first, synchronously. */
    private runAllSync(): void {
        for (let entry = this.entries.pop(); entry; entry = this.entries.pop()) {
            try {
                entry.runSync();
            } catch {
                // exiting: nothing more can be done for this step; the others still run
            }
        }
    }

    private push(entry: Entry): Registration {
        if (this.closed) {
            // Started after the stack ran (e.g. during an interrupted run): clean it up right away.
            void entry.run().catch(() => undefined);
            return { release: () => undefined };
        }
        if (this === processTeardown) {
            installProcessHooks();
        }
        this.entries.push(entry);
        return {
            release: () => {
                const at = this.entries.indexOf(entry);
                if (at >= 0) this.entries.splice(at, 1);
            },
        };
    }

    /** The exit hook's entry point (see installProcessHooks). */
    static runAtExit(teardown: Teardown): void {
        teardown.runAllSync();
    }
}

/** The process-wide stack; every other stack is a scope of it. */
export const processTeardown = new Teardown("process");

const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
let hooksInstalled = false;
let interrupted: NodeJS.Signals | undefined;

/** Installed once, when the first step is pushed, so a process that starts nothing keeps Node's defaults. */
function installProcessHooks(): void {
    if (hooksInstalled) return;
    hooksInstalled = true;
    process.on("exit", () => Teardown.runAtExit(processTeardown));
    for (const signal of SIGNALS) {
        process.on(signal, () => {
            const code = 128 + constants.signals[signal];
            if (interrupted) {
                console.error(`${signal} again: exiting now (the exit hook SIGKILLs what is left)`);
                process.exit(code);
            }
            interrupted = signal;
            console.error(`${signal}: stopping everything this process started (${signal} again to exit at once)`);
            processTeardown
                .runAll()
                .catch((error) => console.error(message(error)))
                .finally(() => process.exit(code));
        });
    }
}
