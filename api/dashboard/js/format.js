// How numbers, times and statuses read on the dashboard, and the reference activations.

import { h } from "./dom.js";
import { renderMath } from "./latex.js";

export function num(value, digits = 4) {
  if (value === null || value === undefined) return "—";
  if (typeof value === "string") return value;  // "NaN", "Infinity": the API's non-finite floats
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (typeof value !== "number") return JSON.stringify(value);
  if (Number.isInteger(value)) return value.toLocaleString("en-US");
  return Math.abs(value) >= 1e5 || (Math.abs(value) < 1e-3 && value !== 0)
    ? value.toExponential(2) : String(Number(value.toPrecision(digits)));
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "—";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

export function when(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  return date.toLocaleString(undefined, { dateStyle: "short", timeStyle: "short" });
}

export const ACTIVE = new Set(["queued", "running"]);

export function statusBadge(status, extra) {
  return h("span", { class: ["badge", `status-${status}`] }, status, extra ? ` · ${extra}` : "");
}

// The API's stop_reason in words; cancelled and failed already say so as the status.
const STOP_TEXT = { candidates: "candidate budget used", seconds: "time budget used", exhausted: "space exhausted" };

/** Why a job's search stopped ("" while it searches, or when its status says it). */
export function stopText(job) {
  return STOP_TEXT[job.stop_reason] ?? "";
}

/** What a status badge adds: the phase while running, "cancelling", or why it stopped. */
export function statusExtra(job) {
  if (job.status === "running" && job.phase) return job.phase;
  if (job.cancel_requested && ACTIVE.has(job.status)) return "cancelling";
  return ACTIVE.has(job.status) ? "" : stopText(job);
}

/** The job's elapsed seconds at `now` (performance.now()): the API's value, read at `readAt`,
 * plus the time since while it runs. The runner saves the value at every heartbeat (5 s), so
 * between polls (and while a first population trains, when no event comes) the page counts on. */
export function liveElapsed(job, readAt, now = performance.now()) {
  const saved = job.elapsed_seconds || 0;
  return job.status === "running" ? saved + Math.max(0, (now - readAt) / 1000) : saved;
}

/** Seconds of search still to go, from the rate so far (and the time budget, if any). */
export function eta(job, elapsed = job.elapsed_seconds) {
  if (!ACTIVE.has(job.status)) return null;
  const { candidates_done: done, candidates_budget: budget } = job.progress;
  const limits = [];
  if (budget && done > 0 && elapsed > 0) limits.push(((budget - done) * elapsed) / done);
  const seconds = job.spec?.budget?.seconds;
  if (typeof seconds === "number") limits.push(seconds - elapsed);
  return limits.length ? Math.max(0, Math.min(...limits)) : null;
}

/** Whether a confirm phase will re-train anything after the search. */
function confirmFollows(job) {
  return (job.spec?.confirm?.top_k ?? 0) > 0 || (job.spec?.baselines?.length ?? 0) > 0;
}

/** Seconds of the confirm phase still to go: the runner's estimate as of the job's
 * elapsed_seconds, counted down with the live elapsed time; null before it has one. */
export function confirmEta(job, elapsed = job.elapsed_seconds) {
  const seconds = job.progress?.confirm_eta_seconds;
  if (typeof seconds !== "number") return null;
  return Math.max(0, seconds - Math.max(0, elapsed - (job.elapsed_seconds || 0)));
}

/** What the ETA says. During the search, the search's estimate, naming the confirm phase that
 * follows (its length is not known before it starts); during the confirm phase, its own estimate
 * and how many of its evaluations are done ("confirming…" until the first one is). */
export function etaText(job, elapsed = job.elapsed_seconds) {
  if (job.status !== "running") return "—";
  if (job.phase === "confirm") {
    const { confirm_done: done, confirm_evaluations: total } = job.progress ?? {};
    const seconds = confirmEta(job, elapsed);
    const count = typeof total === "number" ? ` (confirm ${done}/${total})` : "";
    return seconds === null ? `confirming…${count}` : `${duration(seconds)}${count}`;
  }
  const seconds = eta(job, elapsed);
  if (seconds === null) return "—";
  if (seconds < 0.5) return "finishing the search…";
  return `${duration(seconds)}${confirmFollows(job) ? " + confirm" : ""}`;
}

/** "0.912 ± 0.004" once confirmed, else the search fitness. */
export function fitnessText(row) {
  if (row.confirmed_seeds > 0 && row.confirmed_mean !== null) {
    return row.confirmed_std !== null ? `${num(row.confirmed_mean)} ± ${num(row.confirmed_std, 2)}` : num(row.confirmed_mean);
  }
  return num(row.fitness);
}

export function fitnessValue(row) {
  return row.confirmed_seeds > 0 && row.confirmed_mean !== null ? row.confirmed_mean : row.fitness;
}

/** The seeds behind a search fitness: task.seeds, or each scored task's ("1 + 2"). */
export function searchSeeds(spec) {
  return spec?.tasks?.length ? spec.tasks.map((t) => t.seeds ?? 1).join(" + ") : String(spec?.task?.seeds ?? 1);
}

/** A difference as the CLI writes it: "+0.012". */
export function signed(value, digits = 3) {
  return `${value > 0 ? "+" : ""}${num(value, digits)}`;
}

/** "+0.012 ± 0.004 over ReLU" / "−0.003 vs SiLU": a score against a baseline (API vs_baselines). */
export function relativeText(b) {
  return `${signed(b.difference)}${b.spread !== null && b.spread !== undefined ? ` ± ${num(b.spread, 2)}` : ""} `
    + `${b.difference > 0 ? "over" : "vs"} ${b.name}`;
}

const RELATIVE_MEANS = "this score minus the baseline's: confirmed means ± the standard error of the difference "
  + "over the seeds when both are confirmed, else the search fitnesses";

/** Each of a row's vs_baselines on a line, green when ahead, red when behind. */
export function relativeList(items) {
  if (!items?.length) return h("span", { class: "muted" }, "—");
  return h("ul", { class: "relative", title: RELATIVE_MEANS }, items.map((b) => h("li", {
    class: b.difference > 0 ? "ahead" : b.difference < 0 ? "behind" : null, "data-baseline": b.name,
  }, relativeText(b))));
}

export function baselineBadge(name) {
  return h("span", { class: "badge baseline", title: `${name} is a baseline of this job: trained beside the `
    + "candidates with the same seeds, so every score can be read against it" }, `baseline · ${name}`);
}

/** The transfer verdict in a word: "✓ transfers", or "✗ fails on T" with why as the title. */
export function verdictBadge(verdict) {
  if (!verdict) return h("span", { class: "muted", title: "the confirm phase gives a verdict to its top-k" }, "—");
  if (verdict.transfers) {
    return h("span", { class: "verdict transfers", title: "trains on every confirm task, no worse than the baselines" },
      "✓ transfers");
  }
  return h("span", { class: "verdict fails", title: verdict.summary },
    `✗ fails on ${verdict.fails_on?.length ? verdict.fails_on.join(", ") : "a task"}`);
}

export function knownBadge(row) {
  if (!row.known_as) return null;
  return h("span", { class: "badge known", title: "the same function as a published activation" },
    `rediscovered: ${row.known_as}`);
}

/** Monotonic / bounded / smooth as short badges; empty while the service still measures them. */
export function propertyBadges(properties) {
  if (!properties || !Object.keys(properties).length) return h("span", { class: "muted" }, "measuring…");
  const out = [];
  const mono = properties.monotonic;
  if (mono && mono !== "no") out.push(mono === "constant" ? "constant" : `monotonic (${mono})`);
  else if (mono === "no") out.push("non-monotonic");
  const below = properties.bounded_below;
  const above = properties.bounded_above;
  if (below === true && above === true) out.push("bounded");
  else if (below === true) out.push("bounded below");
  else if (above === true) out.push("bounded above");
  else if (below === false && above === false) out.push("unbounded");
  if (properties.smooth === true) out.push("smooth");
  else if (properties.smooth === false) out.push("not smooth");
  const chips = out.map((text) => h("span", { class: "chip" }, text));
  const signal = signalChip(properties);
  if (signal) chips.push(signal);
  return h("span", { class: "props" }, chips);
}

/** The signal-propagation probe's gains per layer (32 He-initialised layers; ReLU is 1.00 and
 * 1.00): "signal ×0.52 · grad ×0.53 /layer"; non-finite gains (sent as strings) read "explodes". */
export function signalChip(properties) {
  const signal = properties?.signal_gain;
  const grad = properties?.gradient_gain;
  if (signal === undefined || grad === undefined) return null;
  const gain = (v) => (typeof v === "number" ? `×${v.toFixed(2)}` : v === "Infinity" ? "explodes" : String(v));
  return h("span", {
    class: "chip signal",
    title: "second-moment gain per layer of the signal (forward) and the gradient (backward) in a "
      + "32-layer He-initialised random network; ReLU: ×1.00 and ×1.00",
  }, `signal ${gain(signal)} · grad ${gain(grad)} /layer`);
}

export function math(row, options) {
  return renderMath(row.latex, row.expression, options);
}

/** A parameter name as LaTeX, as the service prints it (beta -> \beta, beta1 -> \beta_{1}). */
export function paramLatex(name) {
  const suffix = name.startsWith("beta") ? name.slice(4) : null;
  if (suffix === null) return `\\mathrm{${name}}`;
  return suffix ? `\\beta_{${suffix}}` : "\\beta";
}

/** A plot legend's label: the function as MathML (as in the tables), after an optional prefix,
 * and the parameter values its curve is drawn with ("β = 1"). */
export function curveLabel(row, params = {}, prefix = "") {
  const values = Object.entries(params || {});
  const latex = values.map(([name, value]) => `${paramLatex(name)} = ${num(value)}`).join(",\\; ");
  return h("span", { class: "curve-label" }, prefix, math(row),
    values.length ? [", ", renderMath(latex, values.map(([k, v]) => `${k} = ${num(v)}`).join(", "))] : null);
}

/** A worker (host:pid, and :node_id on Ray) with each long part cut to 8 characters; the whole
 * in the title. A Ray node id is 56 characters: whole, it squeezed the candidate's metrics. */
export function workerLabel(worker) {
  if (!worker) return "—";
  const short = worker.split(":").map((part) => (part.length > 16 ? `${part.slice(0, 8)}…` : part)).join(":");
  return h("span", { class: "id", title: worker }, short);
}

// Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): JavaScript has no erf, and GELU needs one.
function erf(x) {
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const y = 1 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t
    * Math.exp(-x * x);
  return x >= 0 ? y : -y;
}

const sigmoid = (x) => 1 / (1 + Math.exp(-x));
const phi = (x) => Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);

export const REFERENCES = {
  ReLU: { f: (x) => Math.max(x, 0), df: (x) => (x > 0 ? 1 : 0), color: "#6b7280" },
  SiLU: { f: (x) => x * sigmoid(x), df: (x) => sigmoid(x) * (1 + x * (1 - sigmoid(x))), color: "#9ca3af" },
  GELU: { f: (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)), df: (x) => 0.5 * (1 + erf(x / Math.SQRT2)) + x * phi(x),
    color: "#111827" },
};

/** Series of the checked reference functions on `x` (dashed, grey). */
export function referenceSeries(names, x, derivative = false) {
  return names.map((name) => ({
    label: `${name}${derivative ? "′" : ""} (reference)`, x, y: x.map(REFERENCES[name][derivative ? "df" : "f"]),
    color: REFERENCES[name].color, dash: "5 4", width: 1.5,
  }));
}
