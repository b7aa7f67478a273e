// The new-job form's tasks: one task (the JobSpec's `task`), or several scored together (`tasks`,
// each with a weight and a hurdle, and `aggregate`); and the baselines every score is read
// against. Each field's place in the JobSpec (data-loc, data-error-for, its id) follows the rows
// as they are added and removed: "task.steps" for one task, "tasks.1.hurdle" for the second of
// several, so that the API's 422 for tasks[1].hurdle appears next to that field.

import { h } from "../dom.js";
import { errorSlot, field, readNumber, slug } from "./form.js";

// The JobSpec's defaults (worker/spec.py): DEFAULT_BASELINES, ReLU and SiLU; and the fitness of a spec that
// names no task, DEFAULT_TASKS by DEFAULT_AGGREGATE: two deep networks, so the best function is one a user can
// adopt in a deep network (the shallow mnist1d-mlp alone crowned x + x², which diverges at depth 12).
const DEFAULT_BASELINES = ["relu(x)", "x*sigmoid(x)"];
const DEFAULT_TASKS = [{ name: "mnist1d-deep-mlp", hurdle: -0.25 }, { name: "mnist1d-resmlp" }];
const DEFAULT_AGGREGATE = "min";
const HURDLE_MEANS = "The normalised score a candidate must reach on this task to be trained on the later ones: "
  + "its fitness relative to the baselines' mean there, (f - b) / |b| (0: as good as the baselines, -0.1: 10 % worse). "
  + "Empty: no hurdle. The last task holds nothing back.";
const WEIGHT_MEANS = "This task's share of the weighted mean of the normalised scores (aggregate: mean).";

/** A field of a task row, placed in the JobSpec by place(). */
function part(key, label, input, attrs = {}) {
  return h("div", { class: "field", "data-key": key, ...attrs }, h("label", {}, label), input,
    h("p", { class: "field-error", hidden: true }));
}

/** Gives a row's fields their JobSpec paths under `prefix` ("task" or "tasks.N"). */
function place(row, prefix) {
  row.dataset.loc = prefix;
  for (const wrapper of row.querySelectorAll("[data-key]")) {
    const loc = `${prefix}.${wrapper.dataset.key}`;
    const input = wrapper.querySelector("input, select");
    const slot = wrapper.querySelector(".field-error");
    wrapper.dataset.loc = loc;
    input.id = slug(loc);
    wrapper.querySelector("label").htmlFor = input.id;
    Object.assign(slot, { id: `err-${slug(loc)}`, hidden: true, textContent: "" });  // a moved row's old errors go
    slot.dataset.errorFor = loc;
    input.setAttribute("aria-describedby", slot.id);
    input.removeAttribute("aria-invalid");
  }
  const whole = row.querySelector(".task-error");
  Object.assign(whole, { id: `err-${slug(prefix)}`, hidden: true, textContent: "" });
  whole.dataset.errorFor = prefix;
}

function taskRow(tasks, { name, hurdle }, { onChange, onRemove }) {
  const info = h("p", { class: "muted small task-info" });
  const nameSelect = h("select", { onchange: () => { describe(); onChange(); } },
    tasks.map((t) => h("option", { value: t.name, selected: t.name === name }, t.name)));
  const steps = h("input", { type: "number", min: 1, step: 1, placeholder: "task default" });
  const remove = h("button", { type: "button", class: "secondary small remove-task", onclick: () => onRemove(row) },
    "Remove");
  const row = h("fieldset", { class: "task-row" }, h("legend", {}, "Task"),
    h("div", { class: "row" },
      part("name", "Task", nameSelect),
      part("seeds", "Seeds per candidate", h("input", { type: "number", min: 1, step: 1, value: 1 })),
      part("steps", "Training steps", steps),
      part("precision", "Precision", h("select", {},
        h("option", { value: "fp32" }, "fp32"), h("option", { value: "bf16" }, "bf16 autocast (GPU workers)"))),
      part("weight", "Weight", h("input", { type: "number", min: 0, step: "any", value: 1 }),
        { class: "field several", title: WEIGHT_MEANS }),
      part("hurdle", "Hurdle (optional)",
        h("input", { type: "number", step: "any", placeholder: "none", value: hurdle ?? "" }),
        { class: "field several", title: HURDLE_MEANS })),
    info,
    part("options", "Options (JSON object, optional)", h("input", { type: "text", placeholder: "{}" })),
    h("p", { class: "field-error task-error", hidden: true }),
    h("div", { class: "actions several" }, remove));

  function describe() {
    const task = tasks.find((t) => t.name === nameSelect.value);
    info.textContent = task ? `${task.description}${task.objective ? ` · fitness: ${task.objective}` : ""}` : "";
    steps.placeholder = task?.budget?.steps ? `default ${task.budget.steps}` : "task default";
  }
  describe();
  return row;
}

function readTask(row, several) {
  const input = (key) => row.querySelector(`[data-key="${key}"] input, [data-key="${key}"] select`);
  const task = { name: input("name").value, seeds: readNumber(input("seeds")), steps: readNumber(input("steps")),
    precision: input("precision").value };
  if (several) Object.assign(task, { weight: readNumber(input("weight")), hurdle: readNumber(input("hurdle")) });
  const options = input("options").value.trim();
  if (options) {
    try {
      task.options = JSON.parse(options);
    } catch {
      task.options = options;  // the API answers "must be an object" next to the field
    }
  }
  return task;
}

/** The form's "Tasks and baselines" section; `read()` gives its part of the JobSpec. */
export function taskSection(tasks, onChange) {
  const list = h("div", { class: "task-list" });
  const aggregate = h("select", {},
    h("option", { value: "mean", selected: DEFAULT_AGGREGATE === "mean" }, "mean (weighted) of the normalised scores"),
    h("option", { value: "min", selected: DEFAULT_AGGREGATE === "min" }, "min: good on every task"));
  const aggregateField = h("div", { class: "several" }, field("aggregate", "Aggregate", aggregate));
  const baselines = h("textarea", { rows: 4, spellcheck: "false", class: "baselines" }, DEFAULT_BASELINES.join("\n"));
  const hint = h("p", { class: "muted small" });
  const add = h("button", { type: "button", class: "secondary", id: "add-task", onclick: () => {
    const used = new Set(rows().map((row) => readTask(row, false).name));
    // the default fitness's tasks first: the deep networks a search is best scored on
    const order = [...DEFAULT_TASKS.map((t) => t.name), ...tasks.map((t) => t.name)];
    append({ name: order.find((n) => !used.has(n) && tasks.some((t) => t.name === n)) ?? tasks[0]?.name });
    onChange();
    rows().at(-1).querySelector("select").focus();
  } }, "Add a task");

  const rows = () => [...list.querySelectorAll(".task-row")];
  function renumber() {
    const all = rows();
    const several = all.length > 1;
    all.forEach((row, i) => {
      place(row, several ? `tasks.${i}` : "task");
      row.querySelector("legend").textContent = several ? `Task ${i + 1} of ${all.length}` : "Task";
      row.querySelector(".remove-task").setAttribute("aria-label", `Remove task ${i + 1}`);
    });
    section.classList.toggle("multi-task", several);
    hint.textContent = several
      ? "Scored together: each task's fitness relative to the baselines' mean there, then aggregated. Tasks train "
        + "in this order; a candidate that misses a task's hurdle is not trained on the later ones."
      : "Add a task to score candidates on several (a cheap one first, with a hurdle, spares the expensive ones).";
  }
  function append(task) {
    list.append(taskRow(tasks, task, { onChange, onRemove: (row) => { row.remove(); renumber(); onChange(); add.focus(); } }));
    renumber();
  }

  const section = h("section", { class: "panel", "data-loc": "tasks" }, h("h2", {}, "Tasks and baselines"),
    list, h("div", { class: "actions" }, add), hint, aggregateField,
    field("baselines", "Baselines (one expression per line; empty: none)", baselines),
    h("p", { class: "muted small" }, "Trained beside the candidates with the same seeds; every score is shown "
      + "relative to them, and several tasks are normalised against them."),
    errorSlot("tasks"));
  const known = DEFAULT_TASKS.filter((task) => tasks.some((t) => t.name === task.name));
  (known.length ? known : [{ name: tasks[0]?.name }]).forEach(append);

  function read() {
    const all = rows();
    const lines = baselines.value.split("\n").map((line) => line.trim()).filter(Boolean);
    if (all.length === 1) return { task: readTask(all[0], false), baselines: lines };
    return { tasks: all.map((row) => readTask(row, true)), aggregate: aggregate.value, baselines: lines };
  }
  return { section, read };
}
