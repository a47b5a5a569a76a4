// The drill's results, as written to drill-report.json and rendered by drill/report/. Every
// verdict in here is reached once, by drill/scenarios/result.ts; the report only renders it.
// Times are milliseconds since the drill (or scenario) started unless named otherwise.

export type Status = "PASS" | "FAIL" | "ERROR";

export interface Target {
    /** The target as the stack declares it, e.g. "5m (drstack:rpo.region)". */
    label: string;
    /** The target in drill seconds (scaled by the time scale when it concerns archive timing). */
    seconds: number;
}

export interface RpoResult {
    /** Acknowledged commits missing after recovery. */
    lostCommits: number;
    /** Acknowledged commits in total before the disaster. */
    acknowledgedCommits: number;
    /** Time between the first lost commit's acknowledgement and the disaster (0 when none lost), seconds. */
    measuredSeconds: number;
    target: Target;
    /** The bound the design predicts for this path (e.g. archive_timeout + upload + replication lag), seconds. */
    predictedBoundSeconds?: number;
    /** Which bound the PASS/FAIL compares against and why. */
    judgedAgainst: string;
    /**
     * The limit the measured span is judged against, seconds: the target, or (log shipping) the
     * predicted bound. Defaults to target.seconds.
     */
    limitSeconds?: number;
    /** The verdict: the loss fits the limit (a zero limit: no acknowledged commit lost). */
    met: boolean;
}

export interface RtoResult {
    /** From the disaster (or the start of the switchover) to the first write accepted by the new primary, seconds. */
    measuredSeconds: number;
    target: Target;
    /** The verdict: measured within the target. */
    met: boolean;
}

export interface Step {
    name: string;
    startMs: number;
    endMs: number;
}

export interface Check {
    name: string;
    ok: boolean;
    detail: string;
}

export interface TimelineEvent {
    atMs: number;
    label: string;
    /** "alert": an alert was first seen firing (the SVG timeline marks it). */
    kind: "disaster" | "recovered" | "info" | "alert";
}

/** An alert instance the drill's Prometheus fired during the scenario (drill/monitoring/). */
export interface AlertFiring {
    alert: string;
    /** First seen firing, ms since the scenario start. */
    firedAtMs: number;
    /** Seconds from the fault to the firing (time to detect); undefined when it fired before any fault. */
    afterFaultSeconds?: number;
    /** It fired while the scenario was in a healthy phase: a FAIL (result.ts). */
    inHealthyPhase: boolean;
    labels: Record<string, string>;
}

/** An alert the scenario's fault must fire, and whether it did in time. */
export interface ExpectedAlert {
    alert: string;
    /** The limit (drill seconds after the fault) and where it comes from. */
    withinSeconds: number;
    limitName: string;
    detectedAfterSeconds?: number;
    met: boolean;
}

export interface AlertsResult {
    firings: AlertFiring[];
    expected: ExpectedAlert[];
}

export interface ScenarioResult {
    /** CLI name, e.g. "region-loss". */
    name: string;
    title: string;
    status: Status;
    /** One line: why FAIL or ERROR, or a summary on PASS. */
    summary: string;
    startedAt: string;
    durationMs: number;
    rpo?: RpoResult;
    rto?: RtoResult;
    /** Alerts fired and expected (scenarios that run the monitoring stack). */
    alerts?: AlertsResult;
    steps: Step[];
    checks: Check[];
    timeline: {
        /** Acknowledgement times of commits (ms since scenario start), in order. */
        commitsMs: number[];
        /** Acknowledgement times of the commits that were lost. */
        lostMs: number[];
        events: TimelineEvent[];
    };
    /** Things the reader must know to interpret the numbers (emulations, scaling). */
    notes: string[];
}

export interface DrillReport {
    stack: string;
    startedAt: string;
    finishedAt: string;
    status: Status;
    machine: { cpus: number; cpuModel: string; memoryGiB: number; os: string; node: string; postgres: string };
    settings: {
        rate: number;
        durationSeconds: number;
        replicationLagSeconds: number;
        /** Production seconds per drill second for archive timing (archive_timeout, RPO targets). */
        timeScale: number;
        archiveTimeoutSeconds: number;
        productionArchiveTimeout: string;
        walCompression: string;
        walUploadAllowanceSeconds: number;
    };
    /** Stand-ins for cloud parts, said plainly (e.g. the S3 replication emulation). */
    emulations: string[];
    scenarios: ScenarioResult[];
}
