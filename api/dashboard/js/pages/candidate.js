// One candidate: its function and derivative, identity, properties, every evaluation, and its
// code in every export format (copy or download).

import { aborted, api, curve, describeError } from "../api.js";
import { h, panel, put, toast } from "../dom.js";
import { functionPlots, referenceControls } from "../curves.js";
import {
  baselineBadge, curveLabel, fitnessText, knownBadge, math, num, propertyBadges, relativeText, statusBadge, verdictBadge,
  workerLabel,
} from "../format.js";
import { compareButton } from "../selection.js";

const EXPORTS = [
  ["torch", "PyTorch module", "py"], ["function", "PyTorch function", "py"], ["numpy", "NumPy", "py"],
  ["jax", "JAX", "py"], ["latex", "LaTeX", "tex"], ["sympy", "SymPy", "py"],
];

function filename(id, format, ext) {
  return format === "torch" ? `candidate_${id}.py` : `candidate_${id}_${format}.${ext}`;
}

async function copy(text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // no clipboard API (a plain-HTTP address other than localhost is not a secure context): the old way
    const area = h("textarea", { class: "sr-only", "aria-hidden": "true" }, text);
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
}

function download(text, name) {
  const url = URL.createObjectURL(new Blob([text], { type: "text/plain;charset=utf-8" }));
  const link = h("a", { href: url, download: name, class: "sr-only" });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function exportPanel(candidate, signal) {
  const preview = h("pre", { class: "code", id: "export-preview", tabindex: "0", "aria-label": "Exported code" });
  const caption = h("p", { class: "muted small", "aria-live": "polite" }, "Choose a format to see its code.");
  const texts = new Map();
  async function get(format) {
    if (!texts.has(format)) texts.set(format, await api(`/candidates/${candidate.id}/export`, { query: { format }, text: true, signal }));
    return texts.get(format);
  }
  async function act(format, label, ext, what) {
    try {
      const text = await get(format);
      put(preview, text);
      caption.textContent = `${label} (${filename(candidate.id, format, ext)})`;
      if (what === "copy") {
        await copy(text);
        toast(`${label} copied.`);
      } else if (what === "download") {
        download(text, filename(candidate.id, format, ext));
      }
    } catch (err) {
      if (!aborted(err, signal)) caption.textContent = describeError(err);
    }
  }
  return panel("Export", { id: "export" },
    h("table", { class: "exports" }, h("caption", { class: "sr-only" }, "Export formats"),
      h("tbody", {}, EXPORTS.map(([format, label, ext]) => h("tr", {},
        h("th", { scope: "row" }, label),
        h("td", {}, h("button", { type: "button", class: "secondary small", "aria-label": `Show ${label}`,
          onclick: () => act(format, label, ext, "show") }, "Show"), " ",
        h("button", { type: "button", class: "secondary small", "aria-label": `Copy ${label}`,
          onclick: () => act(format, label, ext, "copy") }, "Copy"), " ",
        h("button", { type: "button", class: "small", "aria-label": `Download ${label}`, "data-export": format,
          onclick: () => act(format, label, ext, "download") }, "Download")))))),
    caption, preview);
}

// What the wall time and the rate of a run in a population are (issue 18: 0.355 s beside 291.3
// steps/s for 600 steps did not add up: the first is a member's share, the second the shared loop's).
const WALL_TIME_MEANS = "Wall time of the run. Trained in a population of K members (one batched network), "
  + "this is its share: the population's wall time divided by K.";
const RATE_MEANS = "Steps per second of the training loop. In a population every member advances one step per "
  + "step, so this is the population's rate, not divided by K; data loading, building and validation excluded.";

const COMBINED = "(combined)";  // the task of a multi-task job's score rows (store.COMBINED)
const COMBINED_MEANS = "The candidate's score on the job's tasks together: each task's fitness relative to the "
  + "baselines' mean there, (f - b) / |b|, then aggregated; the search's is over every task's seeds (seed —), "
  + "the confirm phase's one per seed.";

function metricsList(evaluation) {
  const entries = Object.entries(evaluation.metrics || {});
  if (!entries.length) return "—";
  if (evaluation.task === COMBINED) {  // score_<task>: the task's normalised score
    return entries.map(([k, v], i) => [i ? ", " : "", h("span", { class: "metric" },
      `${k.startsWith("score_") ? k.slice(6) : k}: ${typeof v === "number" ? `${v > 0 ? "+" : ""}${num(v)}` : num(v)}`)]);
  }
  // each "k=v" whole; lines break after the commas between them
  return entries.map(([k, v], i) => [i ? ", " : "", h("span", {
    class: "metric", title: k === "steps_per_second" ? RATE_MEANS : null,
  }, `${k}=${num(v)}`)]);
}

function wallTime(e) {
  if (e.wall_time === null) return "—";
  const value = h("span", { class: "value" }, `${num(e.wall_time, 3)} s`);
  if (!e.population || e.population < 2) return h("span", { title: WALL_TIME_MEANS }, value);
  return h("span", { title: WALL_TIME_MEANS }, value, h("div", { class: "muted small share" },
    `1/${e.population} of ${num(e.wall_time * e.population, 3)} s`));
}

function evaluationsTable(evaluations) {
  const headers = [["Task"], ["Seed"], ["Phase"], ["Steps"], ["Status"], ["Fitness"], ["Metrics"],
    ["Wall time", WALL_TIME_MEANS], ["Worker"]];
  return h("div", { class: "table-wrap" }, h("table", { class: "evaluations" },
    h("caption", { class: "sr-only" }, "Every evaluation of the candidate"),
    h("thead", {}, h("tr", {}, headers.map(([label, title]) => h("th", { scope: "col", title }, label)))),
    h("tbody", {}, evaluations.length ? evaluations.map((e) => h("tr", { class: e.task === COMBINED ? "combined" : null },
      h("td", {}, e.task === COMBINED ? h("span", { class: "combined-label", title: COMBINED_MEANS }, "combined score")
        : e.task),
      h("td", { class: "num" }, e.seed < 0 ? "—" : e.seed),
      h("td", { title: e.phase === "part" ? "one task's training, a part of the combined score" : null }, e.phase),
      h("td", { class: "num" }, num(e.steps)),
      h("td", {}, statusBadge(e.status), e.reason ? h("div", { class: "muted small" }, e.reason) : null),
      h("td", { class: "num" }, num(e.fitness)), h("td", { class: "metrics" }, metricsList(e)),
      h("td", { class: "num" }, wallTime(e)),
      h("td", { class: "small worker" }, workerLabel(e.worker))))
      : h("tr", {}, h("td", { colspan: 9, class: "empty" }, "No evaluation yet.")))),
    evaluations.some((e) => e.population > 1)
      ? h("p", { class: "muted small" }, "Trained in a population, a run's wall time is its share of the "
        + "population's time; steps_per_second is the population's shared training loop.") : null);
}

function identity(candidate, params) {
  const entries = [
    ["Expression", h("code", {}, candidate.expression)], ["Canonical form", h("code", {}, candidate.canonical)],
    ["LaTeX", h("code", {}, candidate.latex)], ["Fingerprint", h("code", {}, candidate.fingerprint)],
    ["Parameters (initial)", Object.keys(params).length ? Object.entries(params).map(([k, v]) => `${k} = ${num(v)}`).join(", ") : "none"],
    ["Cost", num(candidate.cost)],
    ["Known as", candidate.known_as ? [knownBadge(candidate), Object.keys(candidate.known_params || {}).length
      ? ` with ${Object.entries(candidate.known_params).map(([k, v]) => `${k} = ${num(v)}`).join(", ")}` : ""] : "—"],
  ];
  return h("dl", { class: "pairs" }, entries.map(([k, v]) => h("div", {}, h("dt", {}, k), h("dd", {}, v))));
}

/** A function's numbers on a task: "0.861 ± 0.01" and how many seeds trained (and why not). */
function seedsCell(numbers) {
  if (!numbers) return "—";
  const value = numbers.mean === null ? "—" : numbers.std !== null ? `${num(numbers.mean)} ± ${num(numbers.std, 2)}`
    : num(numbers.mean);
  const seeds = `${numbers.seeds} of ${numbers.of} seeds${numbers.seeds < numbers.of && numbers.reason ? `: ${numbers.reason}` : ""}`;
  return [h("span", { class: "value" }, value), h("span", { class: "muted small" }, seeds)];
}

/** The confirm phase's transfer verdict: per task the candidate's numbers beside each baseline's, and why it fails. */
function verdictPanel(verdict, job) {
  const tasks = Object.entries(verdict.tasks);
  const names = [...new Set(tasks.flatMap(([, row]) => Object.keys(row.baselines)))];
  const transferOnly = new Set(job.spec?.confirm?.tasks || []);
  return panel("Transfer verdict", { id: "verdict" },
    h("p", { class: "summary" }, verdictBadge(verdict), verdict.transfers ? " on every confirm task"
      : h("span", { class: "muted" }, ` — ${verdict.summary}`)),
    h("div", { class: "table-wrap" }, h("table", { class: "verdict-table" },
      h("caption", { class: "sr-only" }, "The candidate and the baselines on each confirm task"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Task"), h("th", { scope: "col", class: "num" }, "This function"),
        names.map((name) => h("th", { scope: "col", class: "num" }, name)), h("th", { scope: "col" }, "Verdict"))),
      h("tbody", {}, tasks.map(([task, row]) => h("tr", { "data-task": task },
        h("th", { scope: "row" }, task, transferOnly.has(task) ? h("div", { class: "muted small" }, "transfer check") : null),
        h("td", { class: "num" }, seedsCell(row)),
        names.map((name) => h("td", { class: "num" }, seedsCell(row.baselines[name]))),
        h("td", { class: ["why", row.fails ? "fails" : "transfers"] }, row.fails ? `✗ ${row.fails}` : "✓ transfers")))))),
    h("p", { class: "muted small" }, "A function fails on a task when a seed does not train to a finite fitness, or "
      + "when its mean falls short of the weakest baseline's by more than two standard errors."));
}

function propertiesTable(properties) {
  const entries = Object.entries(properties || {}).filter(([k]) => k !== "verdict");  // its own panel
  return [propertyBadges(properties), entries.length ? h("table", { class: "pairs-table" },
    h("caption", { class: "sr-only" }, "Measured properties"),
    h("tbody", {}, entries.map(([k, v]) => h("tr", {}, h("th", { scope: "row" }, k),
      // a structured value (the confirm phase's transfer verdict) is JSON, which may break anywhere
      h("td", {}, v !== null && typeof v === "object" ? h("code", { class: "json" }, JSON.stringify(v)) : num(v)))))) : null];
}

export function render(main, { id, signal }) {
  const refs = new Set(["SiLU"]);
  const error = h("p", { class: "error", role: "alert" }, "Loading…");
  put(main, h("h1", {}, `Candidate #${id}`), error);

  async function load() {
    try {
      const [candidate, evaluations, samples] = await Promise.all([api(`/candidates/${id}`, { signal }),
        api(`/candidates/${id}/evaluations`, { signal }), curve(id)]);
      const job = await api(`/jobs/${candidate.job_id}`, { signal });
      document.title = `${candidate.expression} · actsearch`;
      const several = (job.spec?.tasks?.length ?? 0) > 0;
      const plots = h("div");
      const drawPlots = () => put(plots, functionPlots([{ label: curveLabel(candidate, samples.params), curve: samples }],
        refs, { what: "function" }));
      drawPlots();
      put(main,
        h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "#/jobs" }, "Jobs"), " / ",
          h("a", { href: `#/jobs/${job.id}` }, job.name), ` / candidate ${candidate.number}`),
        h("div", { class: "page-head" }, h("h1", { class: "formula" }, math(candidate, { block: true })),
          compareButton(candidate.id, "compare")),
        h("p", { class: "summary" }, statusBadge(candidate.status), " ", knownBadge(candidate),
          candidate.baseline ? [" ", baselineBadge(candidate.baseline)] : null,
          several ? h("span", { title: COMBINED_MEANS }, " combined score ") : " fitness ",
          h("strong", {}, fitnessText(candidate)), candidate.confirmed_seeds > 0
            ? ` over ${candidate.confirmed_seeds} seeds (search ${several ? "score" : "fitness"} ${num(candidate.fitness)})`
            : candidate.fidelity ? ` at ${num(candidate.fidelity)} steps` : "",
          candidate.vs_baselines.length ? h("span", { class: "relative-line" }, ": ",
            candidate.vs_baselines.map((b, i) => [i ? ", " : "", h("span", {
              class: b.difference > 0 ? "ahead" : b.difference < 0 ? "behind" : null }, relativeText(b))])) : null),
        panel("Function and derivative", { id: "plot" }, referenceControls(refs, drawPlots, "cand"), plots),
        candidate.verdict ? verdictPanel(candidate.verdict, job) : null,
        h("div", { class: "grid" },
          panel("Identity", { id: "identity" }, identity(candidate, samples.params)),
          panel("Properties", { id: "properties" }, propertiesTable(candidate.properties))),
        panel("Evaluations", { id: "evaluations" }, evaluationsTable(evaluations.data)),
        exportPanel(candidate, signal),
        panel("Evaluated PyTorch source", { id: "source" }, h("details", {}, h("summary", {}, "Show the module that was trained"),
          h("pre", { class: "code" }, candidate.torch_source))));
    } catch (err) {
      if (!aborted(err, signal)) error.textContent = describeError(err);
    }
  }
  load();
  return null;
}
