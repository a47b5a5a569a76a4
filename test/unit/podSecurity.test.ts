// Every pod the stack declares (the jobs' CronJobs, the heartbeat, the Pushgateway) runs under the Pod
// Security Standards "restricted" profile with a read-only root filesystem (components/podSecurity.ts), in
// every shape the program takes: both shipped stacks and the promoted DR stack.
import { strict as assert } from "assert";
import { RESOURCE_TYPES as T } from "../../model/contract";
import { ProgramRun, runProgram } from "../support/program";
import { podSpec, WORKLOAD_SHAPES } from "../support/workloads";

/** What keeps a workload's pod out of the restricted profile, as "<workload>: <field> is <value>". */
function unrestricted(run: ProgramRun): string[] {
    const problems: string[] = [];
    for (const w of [...run.ofType(T.cronJob), ...run.ofType(T.deployment)]) {
        const pod = podSpec(w);
        const expect = (field: string, actual: unknown, wanted: unknown) => {
            if (JSON.stringify(actual) !== JSON.stringify(wanted)) problems.push(`${w.name}: ${field} is ${JSON.stringify(actual)}`);
        };
        expect("securityContext.runAsNonRoot", pod.securityContext?.runAsNonRoot, true);
        expect("securityContext.seccompProfile", pod.securityContext?.seccompProfile, { type: "RuntimeDefault" });
        if (!(pod.securityContext?.runAsUser > 0)) problems.push(`${w.name}: securityContext.runAsUser is ${pod.securityContext?.runAsUser}`);
        for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
            expect(`${c.name} securityContext.readOnlyRootFilesystem`, c.securityContext?.readOnlyRootFilesystem, true);
            expect(`${c.name} securityContext.allowPrivilegeEscalation`, c.securityContext?.allowPrivilegeEscalation, false);
            expect(`${c.name} securityContext.capabilities`, c.securityContext?.capabilities, { drop: ["ALL"] });
        }
    }
    return problems;
}

describe("every pod the stack declares runs restricted (components/podSecurity.ts)", () => {
    for (const [title, stack, overrides, options] of WORKLOAD_SHAPES) {
        it(title, async () => {
            const run = await runProgram(stack, overrides, options);
            assert.ok(run.ofType(T.cronJob).length >= 1 && run.ofType(T.deployment).length >= 1, "the run declares pods to check");
            assert.deepEqual(unrestricted(run), []);
        });
    }

    it("names a pod that may escalate or runs as root (the check can fail)", async () => {
        const run = await runProgram("primary");
        const deployment = structuredClone(run.ofType(T.deployment)[0]);
        podSpec(deployment).securityContext = { runAsNonRoot: false, seccompProfile: { type: "RuntimeDefault" }, runAsUser: 0 };
        podSpec(deployment).containers[0].securityContext.allowPrivilegeEscalation = true;
        const planted = { ...run, ofType: (t: string) => (t === T.deployment ? [deployment] : run.ofType(t)) } as ProgramRun;
        const c = podSpec(deployment).containers[0].name;
        assert.deepEqual(unrestricted(planted).filter((p) => p.startsWith(`${deployment.name}:`)), [
            `${deployment.name}: securityContext.runAsNonRoot is false`,
            `${deployment.name}: securityContext.runAsUser is 0`,
            `${deployment.name}: ${c} securityContext.allowPrivilegeEscalation is true`,
        ]);
    });
});
