// New job: a form for the JobSpec. The API validates it (422 names the field: the message is
// shown next to that field); the form only assembles JSON and shows the size of the space.

import { aborted, api, ApiError, describeError } from "../api.js";
import { debounce, h, put, toast } from "../dom.js";
import { num } from "../format.js";
import { fillTemplate, renderMath } from "../latex.js";
import { errorSlot, field, numberField, readNumber, showErrors } from "./form.js";
import { taskSection } from "./tasks.js";

// DESIGN.md's example space: small enough to search, and it contains Swish.
const EXAMPLE = { unary: ["x", "neg", "abs", "square", "sigmoid", "tanh", "sin", "exp", "relu"],
  binary: ["add", "mul", "sub", "max", "min"] };

function operatorGroup(kind, operators, onChange) {
  const ops = operators.filter((op) => op.searchable && op.arity === (kind === "unary" ? 1 : 2));
  const args = kind === "unary" ? ["x"] : ["x_{1}", "x_{2}"];
  const boxes = ops.map((op) => h("input", { type: "checkbox", id: `op-${op.name}`, name: kind, value: op.name,
    checked: EXAMPLE[kind].includes(op.name), onchange: onChange }));
  const set = (names) => () => {
    boxes.forEach((box) => { box.checked = names === null || names.includes(box.value); });
    onChange();
  };
  return h("fieldset", { class: "operators", "data-loc": `space.${kind}`, "aria-describedby": `err-space-${kind}` },
    h("legend", {}, `${kind === "unary" ? "Unary" : "Binary"} operators`),
    h("div", { class: "op-actions" },
      h("button", { type: "button", class: "secondary small", onclick: set(null), "aria-label": `Select every ${kind} operator` }, "All"),
      h("button", { type: "button", class: "secondary small", onclick: set([]), "aria-label": `Clear the ${kind} operators` }, "None"),
      h("button", { type: "button", class: "secondary small", onclick: set(EXAMPLE[kind]),
        "aria-label": `The example ${kind} operators` }, "Example")),
    h("div", { class: "op-grid" }, ops.map((op, i) => h("span", { class: "check op", title: op.description },
      boxes[i], h("label", { for: `op-${op.name}` }, h("code", {}, op.name), " ", renderMath(fillTemplate(op.latex, args), "")))),
    errorSlot(`space.${kind}`)));
}

function paramInput(name, fallback) {
  const id = `param-${name}`;
  if (typeof fallback === "boolean") return h("input", { type: "checkbox", id, checked: fallback, "data-param": name });
  if (typeof fallback === "number") {
    return h("input", { type: "number", id, value: fallback, step: Number.isInteger(fallback) ? 1 : "any", "data-param": name });
  }
  if (typeof fallback === "string") return h("input", { type: "text", id, value: fallback, "data-param": name });
  return h("input", { type: "text", id, value: JSON.stringify(fallback), "data-param": name, "data-json": "true" });
}

/** The params that differ from the controller's defaults (the rest stay server defaults). */
function readParams(container, defaults) {
  const params = {};
  for (const input of container.querySelectorAll("[data-param]")) {
    const name = input.dataset.param;
    let value;
    if (input.type === "checkbox") value = input.checked;
    else if (input.type === "number") value = input.value === "" ? defaults[name] : Number(input.value);
    else if (input.dataset.json) {
      try {
        value = JSON.parse(input.value);
      } catch {
        value = input.value;  // sent as text: the API says what it expected
      }
    } else value = input.value;
    if (JSON.stringify(value) !== JSON.stringify(defaults[name])) params[name] = value;
  }
  return params;
}

/** The confirm phase's transfer check (confirm.tasks): tasks the top-k and the baselines also
 * train on after the search, for each candidate's transfer verdict. Tasks that need options
 * (a data path) have no default budget and are left out; the API's 422 names any other problem. */
function transferTasks(tasks) {
  const usable = tasks.filter((task) => task.budget);
  return h("fieldset", { class: "operators", "data-loc": "confirm.tasks", "aria-describedby": "err-confirm-tasks" },
    h("legend", {}, "Check transfer to (confirm phase, optional)"),
    h("div", { class: "op-grid" }, usable.map((task) => h("span", { class: "check op", title: task.description },
      h("input", { type: "checkbox", id: `confirm-task-${task.name}`, name: "confirm-task", value: task.name }),
      h("label", { for: `confirm-task-${task.name}` }, h("code", {}, task.name))))),
    errorSlot("confirm.tasks"));
}

export function render(main, { signal }) {
  const error = h("div", { class: "error", role: "alert", id: "form-error" });
  put(main, h("h1", {}, "New job"), h("p", { class: "muted" }, "Loading operators, controllers and tasks…"), error);
  Promise.all([api("/operators", { signal }), api("/controllers", { signal }), api("/tasks", { signal })])
    .then(([operators, controllers, tasks]) => build(main, { operators, controllers, tasks, signal }))
    .catch((err) => { if (!aborted(err, signal)) error.textContent = describeError(err); });
  document.title = "New job · actsearch";
  return null;
}

function build(main, { operators, controllers, tasks, signal }) {
  const count = h("output", { id: "space-count", "aria-live": "polite", for: "op-x" }, "…");
  const countSpace = debounce(async () => {
    const spec = read();
    try {
      const answer = await api("/spaces/count", { method: "POST", body: spec.space, signal });
      count.textContent = `${answer.count > 1e15 ? answer.count.toExponential(2) : num(answer.count)} candidates in this space`;
      showErrors(form, [], "space");
    } catch (err) {
      if (aborted(err, signal)) return;
      count.textContent = "—";
      if (err instanceof ApiError && err.fields.length) {
        showErrors(form, err.fields.map((item) => ({ ...item, loc: ["body", "space", ...item.loc.slice(1)] })), "space");
      }
    }
  }, 250);
  const onSpace = () => { toggleTree(); countSpace(); };

  const formSelect = h("select", { id: "space-form", onchange: onSpace },
    h("option", { value: "core" }, "core units: b(u₁(x), u₂(x))"), h("option", { value: "tree" }, "free-form trees"));
  const kindSelect = h("select", { id: "controller-kind", onchange: () => drawParams() },
    controllers.map((c) => h("option", { value: c.kind, selected: c.kind === "evolution" }, c.kind)));
  const controllerInfo = h("p", { class: "muted small" });
  const paramsBox = h("div", { class: "params", "data-loc": "controller.params" });
  const scoring = taskSection(tasks, () => update());
  const treeFields = h("div", { class: "row", hidden: true },
    numberField("space.max_size", "Max size (nodes)", 9, { min: 1, max: 31 }),
    numberField("space.max_depth", "Max depth", 4, { min: 1, max: 8 }));
  const coreFields = h("div", { class: "row" },
    numberField("space.units", "Core units", 1, { min: 1, max: 3 }),
    numberField("space.min_units", "Fewest units", "", { min: 1, max: 3, placeholder: "= units" }));
  const preview = h("pre", { class: "code", id: "spec-preview" });
  const submit = h("button", { type: "submit", id: "submit-job" }, "Submit job");
  const formError = h("div", { class: "error", role: "alert", id: "form-error" });

  function toggleTree() {
    const tree = formSelect.value === "tree";
    treeFields.hidden = !tree;
    coreFields.hidden = tree;
  }

  function drawParams() {
    const controller = controllers.find((c) => c.kind === kindSelect.value);
    controllerInfo.textContent = controller?.description || "";
    const entries = Object.entries(controller?.params || {});
    put(paramsBox, entries.length ? entries.map(([name, fallback]) => field(`controller.params.${name}`, name,
      paramInput(name, fallback))) : h("p", { class: "muted small" }, "This controller has no parameters."),
    errorSlot("controller.params"));
    update();
  }

  function read() {
    const value = (loc) => form.querySelector(`[data-loc="${loc}"] input, [data-loc="${loc}"] select`);
    const checked = (kind) => [...form.querySelectorAll(`input[name="${kind}"]:checked`)].map((box) => box.value);
    const space = { form: formSelect.value, unary: checked("unary"), binary: checked("binary") };
    if (space.form === "tree") {
      Object.assign(space, { max_size: readNumber(value("space.max_size")), max_depth: readNumber(value("space.max_depth")) });
    } else {
      Object.assign(space, { units: readNumber(value("space.units")), min_units: readNumber(value("space.min_units")) });
    }
    const rungs = value("fidelity.rungs").value.trim();
    const spec = {
      name: value("name").value,
      space,
      controller: { kind: kindSelect.value, params: readParams(paramsBox,
        controllers.find((c) => c.kind === kindSelect.value)?.params || {}) },
      ...scoring.read(),
      budget: { candidates: readNumber(value("budget.candidates")), seconds: readNumber(value("budget.seconds")),
        in_flight: readNumber(value("budget.in_flight")) },
      confirm: { top_k: readNumber(value("confirm.top_k")), seeds: readNumber(value("confirm.seeds")),
        tasks: checked("confirm-task") },
      fidelity: { rungs: rungs ? rungs.split(/[\s,]+/).map(Number) : [], eta: readNumber(value("fidelity.eta")) },
      seed: readNumber(value("seed")),
    };
    return JSON.parse(JSON.stringify(spec));  // without the unset (undefined) fields
  }

  function update() {
    preview.textContent = JSON.stringify(read(), null, 2);
  }

  const form = h("form", { class: "job-form", novalidate: true, "aria-labelledby": "new-job-title" },
    h("section", { class: "panel", "data-loc": "" }, h("h2", {}, "Job"),
      h("div", { class: "row" }, field("name", "Name", h("input", { type: "text", id: "name", value: "search", required: true })),
        numberField("seed", "Random seed", 0, { min: 0 }))),
    h("section", { class: "panel", "data-loc": "space" }, h("h2", {}, "Search space"),
      h("div", { class: "row" }, field("space.form", "Form", formSelect), coreFields, treeFields),
      operatorGroup("unary", operators, onSpace), operatorGroup("binary", operators, onSpace),
      h("p", { class: "count" }, count), errorSlot("space")),
    h("section", { class: "panel", "data-loc": "controller" }, h("h2", {}, "Controller"),
      field("controller.kind", "Kind", kindSelect), controllerInfo, paramsBox, errorSlot("controller")),
    scoring.section,
    h("section", { class: "panel", "data-loc": "budget" }, h("h2", {}, "Budget and confirmation"),
      h("div", { class: "row" }, numberField("budget.candidates", "Candidates", 100, { min: 1 }),
        numberField("budget.seconds", "Seconds (optional)", "", { min: 1, step: "any" }),
        numberField("budget.in_flight", "In flight (optional)", "", { min: 1 })),
      h("div", { class: "row" }, numberField("confirm.top_k", "Confirm top k", 5, { min: 0 }),
        numberField("confirm.seeds", "Confirm seeds", 3, { min: 1 })), transferTasks(tasks),
      errorSlot("budget"), errorSlot("confirm")),
    h("details", { class: "panel" }, h("summary", {}, "Multi-fidelity (optional)"),
      h("div", { class: "row", "data-loc": "fidelity" },
        field("fidelity.rungs", "Rungs (training steps, increasing)", h("input", { type: "text", id: "fidelity-rungs",
          placeholder: "e.g. 100, 300, 1000" })),
        numberField("fidelity.eta", "Keep 1 in", 3, { min: 2 })), errorSlot("fidelity")),
    h("details", { class: "panel" }, h("summary", {}, "JobSpec (JSON)"), preview),
    formError, h("div", { class: "actions" }, submit));
  form.addEventListener("input", update);
  form.addEventListener("change", update);
  for (const loc of ["space.units", "space.min_units", "space.max_size", "space.max_depth"]) {
    form.querySelector(`[data-loc="${loc}"] input`).addEventListener("input", onSpace);
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showErrors(form, []);
    formError.textContent = "";
    submit.disabled = true;
    try {
      const job = await api("/jobs", { method: "POST", body: read(), signal });
      toast(`Job #${job.id} submitted.`);
      window.location.hash = `#/jobs/${job.id}`;
    } catch (err) {
      if (aborted(err, signal)) return;
      if (err instanceof ApiError && err.fields.length) showErrors(form, err.fields, null, formError);
      else formError.textContent = describeError(err);
    } finally {
      submit.disabled = false;
    }
  });
  put(main, h("h1", { id: "new-job-title" }, "New job"), form);
  drawParams();
  toggleTree();
  countSpace();
}
