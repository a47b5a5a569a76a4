// The contract (model/contract.ts) is the one home of names several parts agree on. Shell scripts
// cannot import it, so this test reads them: the metrics scripts/lib.sh and the scripts publish, and
// the variables scripts/README.md documents, are exactly the contract's. It also keeps the layers
// honest: model/ is Pulumi-free, the policy pack imports no component, config/ needs Pulumi only in
// its adapter, and no contract name is retyped as a string literal outside model/ and the tests.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { PROJECT_ROOT } from "../../config";
import { ALERTS } from "../../model/alertCatalog";
import { BARMAN_CLOUD_PLUGIN, COMPONENT_TYPES, EXTERNAL_METRICS, JOB_METRICS, PUSHGATEWAY_JOBS, SCRIPT_ENV } from "../../model/contract";

const read = (file: string) => fs.readFileSync(path.join(PROJECT_ROOT, file), "utf8");

function sources(dir: string): string[] {
    return fs
        .readdirSync(path.join(PROJECT_ROOT, dir), { recursive: true, encoding: "utf8" })
        .filter((f) => f.endsWith(".ts"))
        .map((f) => path.join(dir, f));
}

describe("the contract", () => {
    // Every script the jobs run, so a new script is held to the contract without editing this list.
    const scripts = fs.readdirSync(path.join(PROJECT_ROOT, "scripts")).filter((f) => f.endsWith(".sh")).map((f) => read(`scripts/${f}`)).join("\n");
    const readme = read("scripts/README.md");

    it("names exactly the metrics the scripts publish, and the README documents them", () => {
        const published = new Set([...scripts.matchAll(/prom_gauge\s+(drstack_[a-z_]+)/g)].map((m) => m[1]));
        assert.deepEqual([...published].sort(), Object.values(JOB_METRICS).sort());
        const documented = new Set([...readme.matchAll(/\| `(drstack_[a-z_]+)`/g)].map((m) => m[1]));
        assert.deepEqual([...documented].sort(), Object.values(JOB_METRICS).sort());
    });

    it("names the Pushgateway jobs the scripts push under", () => {
        const pushed = new Set([...scripts.matchAll(/publish_metrics\s+\S+\s+(drstack-[a-z-]+)/g)].map((m) => m[1]));
        assert.deepEqual([...pushed].sort(), Object.values(PUSHGATEWAY_JOBS).sort());
    });

    it("lists the variables the scripts read, each documented in scripts/README.md", () => {
        for (const name of new Set(Object.values(SCRIPT_ENV).flat())) {
            assert.match(scripts, new RegExp(`\\b${name}\\b`), `${name} is not read by the scripts`);
            assert.match(readme, new RegExp("`" + name + "`"), `${name} is not documented in scripts/README.md`);
        }
    });

    it("has an alert catalog entry for every alert the README has a runbook for, and back", () => {
        const runbooks = [...read("README.md").matchAll(/### Alert: (Dr\w+)/g)].map((m) => m[1]);
        assert.deepEqual([...new Set(runbooks)].sort(), Object.keys(ALERTS).sort());
    });
});

describe("the layers", () => {
    it("model/ imports nothing from Pulumi", () => {
        for (const file of sources("model")) {
            assert.doesNotMatch(read(file), /from "@pulumi\//, file);
        }
    });

    it("config/ imports Pulumi only in its adapter", () => {
        for (const file of sources("config").filter((f) => f !== path.join("config", "pulumi.ts"))) {
            assert.doesNotMatch(read(file), /from "@pulumi\/|require\("@pulumi\//, file);
        }
    });

    it("the policy pack imports neither the components nor the program", () => {
        for (const file of sources("policies").filter((f) => !f.includes("node_modules"))) {
            assert.doesNotMatch(read(file), /from "\.\.\/(\.\.\/)?(components|index|tools)/, file);
        }
    });

    it("no contract name is retyped as a string literal outside model/ and the tests", () => {
        const names = [...Object.values(COMPONENT_TYPES), ...Object.values(JOB_METRICS), ...Object.values(EXTERNAL_METRICS).filter((m) => m.includes("_")), BARMAN_CLOUD_PLUGIN, ...Object.keys(ALERTS)];
        const code = ["index.ts", ...["components", "config", "policies", "drill", "tools", "bench", "local"].flatMap(sources)].filter(
            (f) => !f.includes("node_modules") && !f.startsWith(path.join("policies", "tests")),
        );
        for (const file of code) {
            const text = read(file);
            for (const name of names) {
                assert.ok(!new RegExp(`["'\`]${name}["'\`{]`).test(text), `${file} retypes ${name}; import it from model/`);
            }
        }
    });
});
