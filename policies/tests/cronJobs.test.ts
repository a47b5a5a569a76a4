import { strict as assert } from "assert";
import { backupCronJobSafety } from "../cronJobs";
import { Fixture, violations, withProp } from "./helpers";

const job: Fixture = {
    type: "kubernetes:batch/v1:CronJob",
    name: "dump",
    props: {
        metadata: { labels: { "app.kubernetes.io/part-of": "drstack" } },
        spec: { schedule: "15 3 * * *", concurrencyPolicy: "Forbid", startingDeadlineSeconds: 3600, jobTemplate: { spec: { activeDeadlineSeconds: 21600 } } },
    },
};

describe("policies: backup CronJobs", () => {
    it("backup-cronjob-safety: a safe job passes; other CronJobs are not judged", async () => {
        assert.deepEqual(await violations(backupCronJobSafety, job), []);
        assert.deepEqual(await violations(backupCronJobSafety, { ...job, props: withProp(withProp(job.props, "metadata.labels", {}), "spec.concurrencyPolicy", "Allow") }), []);
    });
    const broken: [string, string, unknown, RegExp][] = [
        ["concurrent runs allowed", "spec.concurrencyPolicy", "Allow", /concurrencyPolicy is "Allow"; it must be "Forbid"/],
        ["no starting deadline", "spec.startingDeadlineSeconds", undefined, /startingDeadlineSeconds is not set/],
        ["no active deadline", "spec.jobTemplate.spec.activeDeadlineSeconds", undefined, /activeDeadlineSeconds is not set/],
        ["an active deadline as long as the interval", "spec.jobTemplate.spec.activeDeadlineSeconds", 86400, /activeDeadlineSeconds is 1d; the limit is below the schedule's shortest interval 1d/],
    ];
    for (const [name, path, value, expected] of broken) {
        it(`backup-cronjob-safety: fails with ${name}`, async () => {
            assert.match((await violations(backupCronJobSafety, { ...job, props: withProp(job.props, path, value) }))[0], expected);
        });
    }
});
