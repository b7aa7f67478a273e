// Jobs: every job the token can see, filtered by status and name, refreshed while any runs.

import { aborted, api, describeError } from "../api.js";
import { debounce, h, put } from "../dom.js";
import { duration, etaText, num, statusBadge, statusExtra, when } from "../format.js";

const STATUSES = ["queued", "running", "completed", "failed", "cancelled"];
const PAGE = 50;
const POLL_MS = 3000;

function progressCell(job) {
  const { candidates_done: done, candidates_budget: budget, evaluations_done: evals, rejected, failed } = job.progress;
  const bar = budget ? h("progress", { max: budget, value: done, "aria-label": `Job ${job.id}: ${done} of ${budget} candidates` })
    : null;
  return h("td", { class: "progress-cell" }, bar,
    h("div", {}, budget ? `${num(done)} / ${num(budget)} candidates` : `${num(done)} candidates`),
    h("div", { class: "muted small" }, `${num(evals)} evaluations · ${num(rejected)} rejected · ${num(failed)} failed`));
}

function row(job) {
  return h("tr", { "data-job": job.id },
    h("td", { class: "num" }, `#${job.id}`),
    h("th", { scope: "row" }, h("a", { href: `#/jobs/${job.id}` }, job.name),
      h("div", { class: "muted small" }, `${job.spec?.controller?.kind ?? "?"} · ${job.spec?.task?.name ?? "?"} · ${job.owner}`)),
    h("td", {}, statusBadge(job.status, statusExtra(job))),
    progressCell(job),
    h("td", { class: "num" }, num(job.best_fitness)),
    h("td", { class: "num" }, duration(job.elapsed_seconds)),
    h("td", { class: "num" }, etaText(job)),  // the list polls every 3 s; the runner's heartbeat keeps elapsed live
    h("td", {}, when(job.created_at)));
}

export function render(main, { params, signal }) {
  const filters = { status: params.get("status") || "", name: params.get("name") || "", offset: 0 };
  const statusSelect = h("select", { id: "filter-status", onchange: () => { filters.status = statusSelect.value; restart(); } },
    h("option", { value: "" }, "any status"), STATUSES.map((s) => h("option", { value: s, selected: s === filters.status }, s)));
  const nameInput = h("input", { id: "filter-name", type: "search", value: filters.name, placeholder: "part of the name",
    oninput: debounce(() => { filters.name = nameInput.value; restart(); }, 300) });
  const summary = h("p", { class: "muted", "aria-live": "polite" });
  const body = h("tbody");
  const pager = h("div", { class: "pager" });
  const error = h("p", { class: "error", role: "alert" });
  put(main,
    h("div", { class: "page-head" }, h("h1", {}, "Jobs"), h("a", { class: "button", href: "#/new" }, "New job")),
    h("form", { class: "filters", role: "search", "aria-label": "Filter jobs", onsubmit: (e) => e.preventDefault() },
      h("div", { class: "field" }, h("label", { for: "filter-status" }, "Status"), statusSelect),
      h("div", { class: "field" }, h("label", { for: "filter-name" }, "Name"), nameInput)),
    summary, error,
    h("div", { class: "table-wrap" }, h("table", { class: "jobs" },
      h("caption", { class: "sr-only" }, "Jobs, newest first"),
      h("thead", {}, h("tr", {}, ["ID", "Name", "Status", "Progress", "Best fitness", "Elapsed", "ETA", "Created"]
        .map((label) => h("th", { scope: "col" }, label)))),
      body)),
    pager);

  let timer = null;
  async function load() {
    clearTimeout(timer);
    try {
      const page = await api("/jobs", { query: { status: filters.status, name: filters.name, limit: PAGE,
        offset: filters.offset }, signal });
      error.textContent = "";
      summary.textContent = page.count === 1 ? "1 job" : `${num(page.count)} jobs`;
      put(body, page.data.length ? page.data.map(row)
        : h("tr", {}, h("td", { colspan: 8, class: "empty" }, "No jobs match. ", h("a", { href: "#/new" }, "Submit one."))));
      renderPager(page.count);
    } catch (err) {
      if (aborted(err, signal)) return;
      error.textContent = describeError(err);
    }
    if (!signal.aborted) timer = setTimeout(load, document.visibilityState === "visible" ? POLL_MS : POLL_MS * 5);
  }

  function renderPager(count) {
    const last = Math.min(count, filters.offset + PAGE);
    put(pager, count > PAGE ? [
      h("button", { type: "button", class: "secondary", disabled: filters.offset === 0,
        onclick: () => { filters.offset = Math.max(0, filters.offset - PAGE); load(); } }, "Newer"),
      h("span", {}, `${filters.offset + 1}–${last} of ${num(count)}`),
      h("button", { type: "button", class: "secondary", disabled: last >= count,
        onclick: () => { filters.offset += PAGE; load(); } }, "Older"),
    ] : []);
  }

  function restart() {
    filters.offset = 0;
    const query = new URLSearchParams(Object.entries({ status: filters.status, name: filters.name }).filter(([, v]) => v));
    window.history.replaceState(null, "", `#/jobs${query.size ? `?${query}` : ""}`);  // shareable, no re-render
    load();
  }

  document.title = "Jobs · actsearch";
  load();
  return () => clearTimeout(timer);
}
