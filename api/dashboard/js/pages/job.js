// One job, live: the event stream triggers a refresh of the job, its leaderboard and its
// aggregates (at most once a second), so the page follows the search without reloading.

import { aborted, api, curve, describeError } from "../api.js";
import { h, panel, put, throttle, toast } from "../dom.js";
import { functionPlots, referenceControls } from "../curves.js";
import {
  ACTIVE, baselineBadge, curveLabel, duration, etaText, fitnessText, knownBadge, liveElapsed, math, num, propertyBadges,
  relativeList, searchSeeds, statusBadge, statusExtra, stopText, verdictBadge, when,
} from "../format.js";
import { barList, linePlot } from "../plot.js";
import { compareButton } from "../selection.js";
import { followEvents } from "../sse.js";
import { specDetails } from "./spec.js";

const PAGE = 20;
const MAX_PAGE = 500;  // the API's largest page (and the insights' largest top)
const ACTIVITY = 40;

function describeEvent(kind, data) {
  const d = data || {};
  switch (kind) {
    case "status": return `status → ${d.status}${d.error ? `: ${String(d.error).split("\n")[0]}` : ""}`;
    case "proposed": return `proposed ${d.candidates?.length ?? 0}: ${(d.candidates || []).map((c) => c.expression).join(", ")}`;
    case "evaluation": return `evaluation of candidate ${d.candidate_id} (${d.phase}, seed ${d.seed}, ${d.steps} steps): `
      + `${d.status}${d.fitness !== null && d.fitness !== undefined ? ` ${num(d.fitness)}` : d.reason ? ` (${d.reason})` : ""}`;
    case "candidate": return `candidate ${d.candidate_id} ${d.expression}: ${d.status}`
      + `${d.fitness !== null && d.fitness !== undefined ? ` ${num(d.fitness)}` : d.reason ? ` (${d.reason})` : ""}`;
    case "phase": return `phase → ${d.phase}${d.stop ? ` (search stopped: ${d.stop})` : ""}`;
    case "confirm": return `confirming ${d.candidates?.length ?? 0} candidates`
      + `${d.baselines?.length ? ` and ${d.baselines.length} baselines` : ""} with ${d.seeds} seeds`
      + `${d.tasks?.length ? ` on ${d.tasks.join(", ")}` : ""}`;
    default: return `${kind} ${JSON.stringify(d)}`;
  }
}

// Columns of the leaderboard; "vs baselines" and "transfer" in a job with baselines only.
const COLUMNS = [["Rank"], ["Function"], ["Fitness (mean ± std)"], ["vs baselines", "compared"],
  ["Transfer", "compared"], ["Seeds", "optional"], ["Evaluations", "optional"], ["Known as"],
  ["Properties", "optional"], ["Compare"]];

function leaderRow(row, evaluations, seedsText, compared) {
  const counts = evaluations.get(row.candidate_id);
  // the seeds behind the number shown: the confirm phase's, else the search's (task.seeds)
  const seeds = row.confirmed_seeds > 0 ? row.confirmed_seeds : row.fitness !== null ? seedsText : "—";
  return h("tr", { "data-candidate": row.candidate_id, class: [`result-${row.status}`, row.baseline && "baseline-row"] },
    h("td", { class: "num" }, row.rank),
    h("th", { scope: "row", class: "function" },
      h("a", { href: `#/candidates/${row.candidate_id}`, "aria-label": `Candidate ${row.candidate_id}: ${row.expression}` },
        math(row)), row.baseline ? [" ", baselineBadge(row.baseline)] : null,
      row.status !== "ok" ? h("div", { class: `muted small status-${row.status}` }, row.status) : null),
    h("td", { class: "num fitness" }, fitnessText(row),
      row.confirmed_seeds > 0 ? h("div", { class: "muted small" }, "confirmed")
        : row.fidelity ? h("div", { class: "muted small" }, `${num(row.fidelity)} steps`) : null),
    compared ? h("td", { class: "relative-cell" }, relativeList(row.vs_baselines)) : null,
    compared ? h("td", { class: "verdict-cell" }, verdictBadge(row.verdict)) : null,
    h("td", { class: "num optional" }, String(seeds)),
    h("td", { class: "num optional" }, counts ? `${counts.finished}${counts.pending ? ` (+${counts.pending})` : ""}` : "—"),
    h("td", {}, knownBadge(row)),
    h("td", { class: "optional" }, propertyBadges(row.properties)),
    h("td", {}, compareButton(row.candidate_id)));
}

export function render(main, { id, signal }) {
  const state = { job: null, readAt: 0, board: null, insights: null, limit: PAGE, topK: 5, refs: new Set(["SiLU"]),
    plotKey: "" };
  const head = h("div", { class: "page-head" }, h("h1", {}, `Job #${id}`));
  const live = h("span", { class: "live", role: "status", id: "live-state" }, "loading…");
  const stats = h("dl", { class: "stats" });
  const elapsedValue = h("span", { id: "elapsed" });
  const etaValue = h("span", { id: "eta" });
  const actions = h("div", { class: "actions" });
  const error = h("p", { class: "error", role: "alert" });
  const boardHead = h("thead");
  const boardBody = h("tbody");
  const boardMore = h("div", { class: "pager" });
  const plots = h("div");
  const trace = h("div");
  const operators = h("div");
  const reasons = h("div");
  const details = h("div");
  const activity = h("ol", { class: "activity", id: "activity", "aria-live": "off" });
  const topSelect = h("select", { id: "top-k", onchange: () => { state.topK = Number(topSelect.value); drawPlots(); } },
    [1, 3, 5, 10].map((k) => h("option", { value: k, selected: k === state.topK }, String(k))));

  const cancel = cancelButton();
  put(actions, cancel);
  put(main, head, h("div", { class: "job-meta" }, live, actions), stats, error,
    panel("Leaderboard", { id: "leaderboard" },
      h("div", { class: "table-wrap" }, h("table", { class: "leaderboard" },
        h("caption", { class: "sr-only" }, "Candidates, best first"),
        boardHead, boardBody)),
      boardMore),
    panel("Top functions", { id: "functions" },
      h("div", { class: "controls" }, h("span", { class: "field inline" }, h("label", { for: "top-k" }, "Top k"), topSelect),
        referenceControls(state.refs, () => drawPlots(true), "job")),
      plots),
    h("div", { class: "grid" },
      panel("Best fitness so far", { id: "trace" }, trace),
      panel("Operator usage", { id: "operators" }, operators),
      panel("Rejections and failures", { id: "reasons" }, reasons),
      panel("Activity", { id: "activity-panel" }, activity)),
    panel("Controller and spec", { id: "spec" }, details));

  async function drawPlots(force = false) {
    const rows = (state.board?.data || []).filter((r) => r.fitness !== null || r.confirmed_mean !== null).slice(0, state.topK);
    const key = `${rows.map((r) => r.candidate_id).join(",")}|${[...state.refs].join(",")}`;
    if (!force && key === state.plotKey) return;
    state.plotKey = key;
    try {
      const curves = await Promise.all(rows.map((r) => curve(r.candidate_id)));
      if (signal.aborted || key !== state.plotKey) return;
      const items = rows.map((r, i) => ({ label: curveLabel(r, curves[i].params, `#${r.rank} `), curve: curves[i] }));
      put(plots, rows.length ? functionPlots(items, state.refs, { what: `top ${rows.length} functions` })
        : [h("p", { class: "muted" }, "No candidate has a fitness yet; references only:"), functionPlots([], state.refs)]);
    } catch (err) {
      if (!aborted(err, signal)) put(plots, h("p", { class: "error" }, describeError(err)));
    }
  }

  function drawJob(job) {
    document.title = `${job.name} · actsearch`;
    put(head, h("h1", {}, job.name, h("span", { class: "muted" }, ` #${job.id}`)), statusBadge(job.status, statusExtra(job)));
    const p = job.progress;
    const items = [
      ["Progress", [p.candidates_budget ? h("progress", { max: p.candidates_budget, value: p.candidates_done,
        "aria-label": "candidates evaluated" }) : null, ` ${num(p.candidates_done)}${p.candidates_budget ? ` / ${num(p.candidates_budget)}` : ""} candidates`]],
      ["Evaluations", `${num(p.evaluations_done)} (${num(p.rejected)} rejected, ${num(p.failed)} failed)`],
      ["Stopped by", stopText(job) || (ACTIVE.has(job.status) ? "—" : job.status)],
      ["Best fitness", num(job.best_fitness)],
      ["Baselines", job.baselines.length ? job.baselines.map((b) => b.name).join(", ") : "none"],
      ["Elapsed", elapsedValue],
      ["ETA", etaValue],
      ["Owner", job.owner], ["Created", when(job.created_at)], ["Finished", when(job.finished_at)],
    ];
    put(stats, items.map(([term, value]) => h("div", {}, h("dt", {}, term), h("dd", {}, value))));
    tick();
    cancel.hidden = !ACTIVE.has(job.status) || job.cancel_requested;
    put(details, specDetails(job));
  }

  // Elapsed and ETA count on between refreshes: no event may come for minutes (a first
  // population training), and the runner saves the elapsed time at every heartbeat only.
  function tick() {
    if (!state.job) return;
    const elapsed = liveElapsed(state.job, state.readAt);
    elapsedValue.textContent = duration(elapsed);
    etaValue.textContent = etaText(state.job, elapsed);
  }
  const ticker = setInterval(tick, 1000);

  // One button for the page's life: redrawn on every event, it would forget that it was armed.
  function cancelButton() {
    let armed = false;
    const button = h("button", { type: "button", class: "danger", id: "cancel-job", hidden: true }, "Cancel job");
    button.addEventListener("click", async () => {
      if (!armed) {  // two clicks, without a modal dialog: a stray click cancels nothing
        armed = true;
        button.textContent = "Click again to cancel";
        setTimeout(() => { armed = false; button.textContent = "Cancel job"; }, 4000);
        return;
      }
      button.disabled = true;
      try {
        await api(`/jobs/${id}/cancel`, { method: "POST", signal });
        toast("Cancel requested.");
        refresh();
      } catch (err) {
        button.disabled = false;
        if (!aborted(err, signal)) error.textContent = describeError(err);
      }
    });
    return button;
  }

  function drawBoard(board, insights) {
    const evaluations = new Map(insights.evaluations.map((e) => [e.candidate_id, e]));
    const focused = document.activeElement?.closest?.("tr[data-candidate]")?.dataset.candidate;
    const compared = (state.job?.baselines?.length ?? 0) > 0;
    const columns = COLUMNS.filter(([, kind]) => compared || kind !== "compared");
    put(boardHead, h("tr", {}, columns.map(([label, kind]) => h("th", { scope: "col", class: kind }, label))));
    const seeds = searchSeeds(state.job?.spec);
    put(boardBody, board.data.length ? board.data.map((row) => leaderRow(row, evaluations, seeds, compared))
      : h("tr", {}, h("td", { colspan: columns.length, class: "empty" }, "No candidates yet.")));
    if (focused) boardBody.querySelector(`tr[data-candidate="${focused}"] button, tr[data-candidate="${focused}"] a`)?.focus();
    put(boardMore, h("span", { class: "muted" }, `${board.data.length} of ${num(board.count)} candidates`),
      board.next_cursor ? h("button", { type: "button", class: "secondary", id: "show-more",
        onclick: (event) => showMore(event.currentTarget) }, "Show more") : null);
  }

  // The next page, right after the last row shown (by its cursor: as cheap at any depth, and no
  // row shown twice however the ranking moved above it); live refreshes then keep the longer board.
  async function showMore(button) {
    button.disabled = true;
    try {
      const page = await api(`/jobs/${id}/leaderboard`, { query: { limit: PAGE, cursor: state.board.next_cursor },
        signal });
      state.limit = state.board.data.length + PAGE;
      state.board = { ...page, data: [...state.board.data, ...page.data] };
      drawBoard(state.board, state.insights);
    } catch (err) {
      button.disabled = false;
      if (!aborted(err, signal)) error.textContent = describeError(err);
    }
  }

  // The top `rows` rows: the first page as large as the API gives, then page after page by cursor.
  async function loadBoard(rows) {
    const board = await api(`/jobs/${id}/leaderboard`, { query: { limit: Math.min(rows, MAX_PAGE) }, signal });
    while (board.data.length < rows && board.next_cursor) {
      const page = await api(`/jobs/${id}/leaderboard`, { query: {
        limit: Math.min(rows - board.data.length, MAX_PAGE), cursor: board.next_cursor }, signal });
      board.data.push(...page.data);
      board.next_cursor = page.next_cursor;
    }
    return board;
  }

  function drawInsights(insights) {
    const last = insights.trace.at(-1);
    const points = insights.trace.filter((pt) => pt.best !== null);
    put(trace, points.length ? linePlot([{ label: "best search fitness", x: points.map((pt) => pt.evaluations),
      y: points.map((pt) => pt.best), until: last.evaluations }], { title: "Best fitness so far against evaluations",
      xLabel: "search evaluations finished", yLabel: "best fitness", step: true, limit: Infinity, legend: false,
      markers: true, height: 260 }) : h("p", { class: "muted" }, "No successful evaluation yet."));
    put(operators, insights.operators.length ? [h("p", { class: "muted small" },
      `Among the top ${insights.top} candidates with a fitness${state.job?.baselines?.length ? " (baselines aside)" : ""}:`),
      barList(insights.operators.map((op) => ({ label: op.name, value: op.candidates, title: `${op.arity === 2 ? "binary" : "unary"} operator` })),
        { label: "Operator usage", format: (v) => `${v}` })] : h("p", { class: "muted" }, "No ranked candidate yet."));
    put(reasons, insights.reasons.length ? barList(insights.reasons.map((r) => ({ label: `${r.reason} (${r.status})`, value: r.count })),
      { label: "Rejections and failures by reason" }) : h("p", { class: "muted" }, "None so far."));
  }

  let started = 0;
  let shown = 0;
  async function refresh() {
    const seq = ++started;
    try {
      // insights first: its last_event_id is then no newer than what the other two show
      const rows = state.limit;
      const insights = await api(`/jobs/${id}/insights`, { query: { top: Math.min(rows, MAX_PAGE) }, signal });
      const [job, board] = await Promise.all([api(`/jobs/${id}`, { signal }), loadBoard(rows)]);
      if (seq < shown) return insights;  // a slow answer overtaken by a newer one: keep the newer
      if (rows < state.limit) {  // "Show more" added rows while this was read: read the longer board
        refresh();
        return insights;
      }
      shown = seq;
      Object.assign(state, { job, readAt: performance.now(), board, insights });
      error.textContent = "";
      drawJob(job);
      drawBoard(board, insights);
      drawInsights(insights);
      drawPlots();
      return insights;
    } catch (err) {
      if (!aborted(err, signal)) error.textContent = describeError(err);
      return null;
    }
  }

  let stream = null;
  let seen = 0;
  const refreshSoon = throttle(refresh, 1000);
  function onEvent(kind, data) {
    seen += 1;
    main.dataset.events = String(seen);
    activity.prepend(h("li", { class: `event-${kind}` }, h("span", { class: "kind" }, kind), " ", describeEvent(kind, data)));
    while (activity.children.length > ACTIVITY) activity.lastChild.remove();
    refreshSoon();
  }
  const states = { live: "● live", reconnecting: "reconnecting…", ended: "finished", error: "stream unavailable" };

  refresh().then((insights) => {
    if (!insights || signal.aborted) return;
    if (!ACTIVE.has(state.job.status)) {
      live.textContent = "finished";
      put(activity, h("li", { class: "muted" }, "The job has finished; nothing more will happen."));
      return;
    }
    stream = followEvents(`/jobs/${id}/events`, { lastEventId: insights.last_event_id, onEvent, onState: (s) => {
      live.textContent = states[s] || s;
      live.dataset.state = s;
      if (s === "ended") refresh();
    } });
  });
  return () => {
    clearInterval(ticker);
    stream?.close();
  };
}
