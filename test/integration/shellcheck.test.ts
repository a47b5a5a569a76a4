// Every job script is POSIX sh and shellcheck-clean: the CronJob images run them with /bin/sh.

import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { runProcess } from "../../local/processes";
import { requireTools, TOOLS } from "../../local/tools";
import { REPO_ROOT, SCRIPTS_DIR } from "./harness";

describe("job scripts (scripts/*.sh)", function () {
    this.timeout(120000);

    const scripts = fs.readdirSync(SCRIPTS_DIR).filter((f) => f.endsWith(".sh")).sort();

    it("are the documented set", function () {
        assert.deepEqual(scripts, ["fence-check.sh", "lib.sh", "logical-backup.sh", "verify-logical.sh", "verify-physical.sh"]);
        const readme = fs.readFileSync(path.join(SCRIPTS_DIR, "README.md"), "utf8");
        for (const script of scripts.filter((s) => s !== "lib.sh")) {
            assert.ok(readme.includes(`## \`${script}\``), `scripts/README.md documents ${script}`);
            assert.equal(fs.readFileSync(path.join(SCRIPTS_DIR, script), "utf8").split("\n")[0], "#!/bin/sh", `${script} runs with /bin/sh`);
            assert.ok((fs.statSync(path.join(SCRIPTS_DIR, script)).mode & 0o111) !== 0, `${script} is executable`);
        }
    });

    it("pass shellcheck -s sh with no finding at all", async function () {
        requireTools([TOOLS.shellcheck], process.env.PATH ?? "");
        const r = await runProcess("shellcheck", ["-s", "sh", ...scripts.map((s) => path.join("scripts", s))], {
            env: { PATH: process.env.PATH },
            cwd: REPO_ROOT,
            timeoutMs: 60000,
        });
        assert.equal(r.code, 0, `shellcheck findings:\n${r.stdout}${r.stderr}`);
    });

    it("parse with /bin/sh -n (dash on Debian)", async function () {
        for (const script of scripts) {
            const r = await runProcess("sh", ["-n", path.join(SCRIPTS_DIR, script)], { env: { PATH: process.env.PATH } });
            assert.equal(r.code, 0, `${script}: ${r.stderr}`);
        }
    });
});
