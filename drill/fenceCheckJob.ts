// The fence-check CronJob as the stack DECLARES it (drill/runbook.ts DeclaredFenceCheck), run for
// real: scripts/fence-check.sh in a job sandbox (local/jobSandbox.ts) against moto and the
// Kubernetes API stand-in (local/kubeApiStandIn.ts), on the declared schedule scaled by the
// drill's time scale (a "* * * * *" schedule at 1:90 fires every 0.67 s), with the declared
// concurrency policy (Forbid, the only one emulated: a tick is skipped while the previous run still runs). The script's
// own run time is real, not scaled.
import { JobResult, JobSandbox } from "../local/jobSandbox";
import { FENCE_CHECK } from "../model/fence";
import { DeclaredFenceCheck } from "./runbook";

export interface FenceCheckRun {
    startMs: number;
    endMs: number;
    result: JobResult;
}

/** What the drill supplies that the pod would get from its cluster: S3 endpoint and credentials, the API server, the token. */
export interface FenceCheckLocal {
    sandbox: JobSandbox;
    awsEnv: Record<string, string>;
    s3Endpoint: string;
    apiUrl: string;
    tokenFile: string;
}

/** Settings of the declared env the drill replaces with local ones: the pod's scratch dir and the in-cluster Pushgateway. */
const REPLACED_ENV = ["TMPDIR", "PUSHGATEWAY_URL"];

export class FenceCheckCron {
    readonly runs: FenceCheckRun[] = [];
    readonly skipped: number[] = [];
    /** Runs the sandbox itself failed (processes or files left behind). */
    readonly errors: Error[] = [];
    private running: Promise<void> | undefined;
    private timer: NodeJS.Timeout | undefined;

    constructor(
        readonly declared: DeclaredFenceCheck,
        private readonly local: FenceCheckLocal,
        readonly timeScale: number,
        private readonly now: () => number,
    ) {
        // Runs share one sandbox (its TMPDIR must be empty after each), so only one runs at a time.
        if (declared.concurrencyPolicy !== "Forbid") throw new Error(`CronJob ${declared.cronJob}: concurrencyPolicy ${declared.concurrencyPolicy} is not emulated (Forbid only)`);
    }

    /** The declared interval as the drill runs it, ms. */
    get intervalMs(): number {
        return (this.declared.intervalSeconds * 1000) / this.timeScale;
    }

    env(): Record<string, string> {
        const declared = Object.fromEntries(Object.entries(this.declared.env).filter(([k]) => !REPLACED_ENV.includes(k)));
        return {
            ...declared,
            ...this.local.awsEnv,
            S3_ENDPOINT_URL: this.local.s3Endpoint,
            KUBE_API_URL: this.local.apiUrl,
            KUBE_TOKEN_FILE: this.local.tokenFile,
            KUBE_NAMESPACE: this.declared.namespace,
        };
    }

    /** Fires on the scaled schedule from now on, aligned to the drill clock (as cron fires on minute boundaries). */
    start(): void {
        const tick = () => {
            const next = this.intervalMs - (this.now() % this.intervalMs);
            this.timer = setTimeout(() => {
                this.fire();
                tick();
            }, next);
        };
        tick();
    }

    private fire(): void {
        if (this.running && this.declared.concurrencyPolicy === "Forbid") {
            this.skipped.push(this.now());
            return;
        }
        const startMs = this.now();
        const run = this.local.sandbox.run(FENCE_CHECK.script, this.env(), { timeoutMs: 60000 }).then((result) => {
            this.runs.push({ startMs, endMs: this.now(), result });
        }, (error: Error) => {
            this.errors.push(error);
        });
        this.running = run.finally(() => (this.running = undefined));
    }

    /** Stops firing and waits for a run in progress. */
    async stop(): Promise<void> {
        if (this.timer) clearTimeout(this.timer);
        this.timer = undefined;
        await this.running;
    }
}
