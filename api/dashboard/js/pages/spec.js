// A job's JobSpec as definition lists: controller, space, task(s), scoring, budget, fidelity, confirm.

import { h } from "../dom.js";
import { num } from "../format.js";

function value(v) {
  if (Array.isArray(v)) return v.length ? v.join(", ") : "—";
  if (v !== null && typeof v === "object") return Object.keys(v).length ? JSON.stringify(v) : "—";
  return num(v);
}

function block(title, entries) {
  return h("div", { class: "spec-block" }, h("h3", {}, title),
    h("dl", {}, Object.entries(entries).map(([key, v]) => h("div", {}, h("dt", {}, key), h("dd", {}, value(v))))));
}

export function specDetails(job) {
  const spec = job.spec || {};
  const space = spec.space || {};
  const controller = spec.controller || {};
  const spaceEntries = space.form === "tree"
    ? { form: "tree", unary: space.unary, binary: space.binary, max_size: space.max_size, max_depth: space.max_depth,
      constants: space.constants }
    : { form: space.form, unary: space.unary, binary: space.binary, units: space.units, min_units: space.min_units };
  return [
    h("div", { class: "spec-grid" },
      block(`Controller: ${controller.kind}`, Object.keys(controller.params || {}).length ? controller.params
        : { params: "defaults" }),
      block("Space", spaceEntries),
      // several tasks scored together: each, then how they are combined
      spec.tasks?.length ? spec.tasks.map((task, i) => block(`Task ${i + 1} of ${spec.tasks.length}`, task))
        : block("Task", spec.task || {}),
      block("Scoring", { ...(spec.tasks?.length ? { aggregate: spec.aggregate } : {}), baselines: spec.baselines ?? [] }),
      block("Budget", spec.budget || {}),
      block("Fidelity", spec.fidelity || {}),
      block("Confirm", { ...(spec.confirm || {}), seed: spec.seed })),
    job.error ? h("details", { open: true }, h("summary", {}, "Error"), h("pre", {}, job.error)) : null,
    job.summary ? h("details", {}, h("summary", {}, "Summary"), h("pre", {}, JSON.stringify(job.summary, null, 2))) : null,
    h("details", {}, h("summary", {}, "JobSpec (JSON)"), h("pre", {}, JSON.stringify(spec, null, 2))),
  ];
}
