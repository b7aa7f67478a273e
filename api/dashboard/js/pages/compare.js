// Compare: candidates picked from any jobs, their curves overlaid and their fitness side by side.

import { aborted, api, curve, describeError } from "../api.js";
import { h, panel, put } from "../dom.js";
import { functionPlots, referenceControls } from "../curves.js";
import { curveLabel, fitnessText, fitnessValue, knownBadge, math, num } from "../format.js";
import { COLORS, intervalChart } from "../plot.js";
import { MAX_COMPARE, save, selected, toggle } from "../selection.js";

export function render(main, { params, signal }) {
  const fromUrl = (params.get("ids") || "").split(",").map(Number).filter((n) => Number.isInteger(n) && n > 0);
  if (fromUrl.length) save(fromUrl);  // a shared link replaces the stored selection
  const refs = new Set();
  const jobs = new Map();  // job id -> job, fetched once
  const jobSelect = h("select", { id: "compare-job", onchange: () => pick(Number(jobSelect.value)) },
    h("option", { value: "" }, "choose a job…"));
  const picker = h("div", { class: "picker" });
  const chosen = h("div");
  const plots = h("div");
  const fitness = h("div");
  const error = h("p", { class: "error", role: "alert" });
  put(main, h("h1", {}, "Compare"), error,
    panel("Add candidates", { id: "add" },
      h("div", { class: "field inline" }, h("label", { for: "compare-job" }, "From job"), jobSelect), picker),
    panel("Selected", { id: "selected" }, chosen),
    panel("Functions", { id: "compare-functions" }, referenceControls(refs, draw, "cmp"), plots),
    panel("Fitness", { id: "compare-fitness" },
      h("p", { class: "muted small" }, "Confirmed mean ± std where confirmed, else the search fitness. Fitness is "
        + "comparable only between jobs on the same task and budget."), fitness));

  async function job(jobId) {
    if (!jobs.has(jobId)) jobs.set(jobId, api(`/jobs/${jobId}`, { signal }));
    return jobs.get(jobId);
  }

  async function pick(jobId) {
    if (!jobId) {
      put(picker);
      return;
    }
    try {
      const board = await api(`/jobs/${jobId}/leaderboard`, { query: { limit: 20 }, signal });
      const ids = new Set(selected());
      put(picker, board.data.length ? h("ul", { class: "pick-list" }, board.data.map((row) => {
        const box = h("input", { type: "checkbox", id: `pick-${row.candidate_id}`, checked: ids.has(row.candidate_id),
          onchange: () => {
            box.checked = toggle(row.candidate_id);
            draw();
          } });
        return h("li", {}, box, h("label", { for: `pick-${row.candidate_id}` }, `${row.rank}. `, math(row),
          ` ${fitnessText(row)}`));
      })) : h("p", { class: "muted" }, "This job has no candidates yet."));
    } catch (err) {
      if (!aborted(err, signal)) error.textContent = describeError(err);
    }
  }

  async function draw() {
    const ids = selected();
    window.history.replaceState(null, "", ids.length ? `#/compare?ids=${ids.join(",")}` : "#/compare");
    if (!ids.length) {
      put(chosen, h("p", { class: "muted" }, `Pick up to ${MAX_COMPARE} candidates above, or with “+ compare” on a job's leaderboard.`));
      put(plots, functionPlots([], refs));
      put(fitness);
      return;
    }
    try {
      const results = await Promise.allSettled(ids.map((i) => api(`/candidates/${i}`, { signal })));
      const gone = ids.filter((_, i) => results[i].status === "rejected" && results[i].reason?.status === 404);
      if (gone.length) {  // deleted, or another token's: drop them from the selection
        save(ids.filter((i) => !gone.includes(i)));
        draw();
        return;
      }
      const failed = results.find((r) => r.status === "rejected");
      if (failed) throw failed.reason;
      const candidates = results.map((r) => r.value);
      const [curves, owners] = await Promise.all([Promise.all(ids.map((i) => curve(i))),
        Promise.all(candidates.map((c) => job(c.job_id)))]);
      if (signal.aborted) return;
      const label = (c, i) => curveLabel(c, curves[i].params, `#${c.id} `);
      put(chosen, h("div", { class: "table-wrap" }, h("table", { class: "compare" },
        h("caption", { class: "sr-only" }, "Selected candidates"),
        h("thead", {}, h("tr", {}, ["Colour", "Function", "Job", "Task", "Fitness", "Known as", "Remove"].map((t, i) => h("th", { scope: "col" },
          i === 0 || i === 6 ? h("span", { class: "sr-only" }, t) : t)))),
        h("tbody", {}, candidates.map((c, i) => h("tr", { "data-candidate": c.id },
          h("td", {}, h("span", { class: "swatch", "aria-hidden": "true", style: { borderColor: COLORS[i % COLORS.length] } })),
          h("th", { scope: "row" }, h("a", { href: `#/candidates/${c.id}`, "aria-label": `Candidate ${c.id}: ${c.expression}` }, math(c))),
          h("td", {}, h("a", { href: `#/jobs/${c.job_id}` }, owners[i].name)),
          h("td", {}, owners[i].spec?.task?.name ?? "—"),
          h("td", { class: "num" }, fitnessText(c)),
          h("td", {}, knownBadge(c)),
          h("td", {}, h("button", { type: "button", class: "secondary small", "aria-label": `Remove candidate ${c.id}`,
            onclick: () => { toggle(c.id); draw(); pick(Number(jobSelect.value)); } }, "Remove"))))))));
      put(plots, functionPlots(candidates.map((c, i) => ({ label: label(c, i), curve: curves[i] })), refs,
        { what: "selected functions" }));
      put(fitness, intervalChart(candidates.map((c) => ({ label: `#${c.id} ${c.expression}`.slice(0, 32),
        mean: fitnessValue(c), std: c.confirmed_seeds > 0 ? c.confirmed_std : null })), { title: "Fitness of the selected candidates" }));
    } catch (err) {
      if (!aborted(err, signal)) error.textContent = describeError(err);
    }
  }

  api("/jobs", { query: { limit: 100 }, signal }).then((page) => {
    jobSelect.append(...page.data.map((j) => h("option", { value: j.id }, `#${j.id} ${j.name} (${j.status})`)));
  }).catch((err) => { if (!aborted(err, signal)) error.textContent = describeError(err); });
  document.title = "Compare · actsearch";
  draw();
  return null;
}
