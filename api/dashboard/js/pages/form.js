// Form fields that know their place in the JobSpec (data-loc="budget.candidates"), so that an
// API 422 ({"detail": [{"loc": ["body", "budget", "candidates"], "msg": ...}]}) is shown next
// to the field it names.

import { h } from "../dom.js";

export function slug(loc) {
  return loc.replace(/[^A-Za-z0-9_]+/g, "-");
}

/** Where the messages about `loc` appear. */
export function errorSlot(loc) {
  return h("p", { class: "field-error", id: `err-${slug(loc)}`, "data-error-for": loc, hidden: true });
}

/** A labelled input (or select) for `loc`, with its error slot. */
export function field(loc, label, input) {
  if (!input.id) input.id = slug(loc);
  input.setAttribute("aria-describedby", `err-${slug(loc)}`);
  return h("div", { class: "field", "data-loc": loc }, h("label", { for: input.id }, label), input, errorSlot(loc));
}

export function numberField(loc, label, value, attrs = {}) {
  return field(loc, label, h("input", { type: "number", id: slug(loc), value, step: 1, ...attrs }));
}

/** A number input's value, or undefined when empty (the field is then left out of the spec). */
export function readNumber(input) {
  return !input || input.value === "" ? undefined : Number(input.value);
}

function clear(form, scope) {
  for (const slot of form.querySelectorAll("[data-error-for]")) {
    const loc = slot.dataset.errorFor;
    if (scope !== null && loc !== scope && !loc.startsWith(`${scope}.`)) continue;
    slot.hidden = true;
    slot.textContent = "";
    form.querySelector(`[data-loc="${loc}"]`)?.querySelectorAll("[aria-invalid]")
      .forEach((el) => el.removeAttribute("aria-invalid"));
  }
}

/**
 * Shows API validation errors next to the deepest field their loc names; the rest go to
 * `fallback`. Only slots within `scope` (e.g. "space") are cleared first; null clears all.
 */
export function showErrors(form, items, scope = null, fallback = null) {
  clear(form, scope);
  const unplaced = [];
  let first = null;
  for (const item of items) {
    const path = (item.loc[0] === "body" ? item.loc.slice(1) : item.loc).map(String);
    let slot = null;
    for (let k = path.length; k > 0 && !slot; k--) {
      const loc = path.slice(0, k).join(".");
      slot = form.querySelector(`[data-error-for="${CSS.escape(loc)}"]`);
      if (slot) {
        slot.append(slot.textContent ? ` ${item.msg}` : item.msg);
        slot.hidden = false;
        const wrapper = form.querySelector(`[data-loc="${CSS.escape(loc)}"]`);
        const inputs = wrapper ? wrapper.querySelectorAll("input, select, textarea") : [];
        inputs.forEach((el) => el.setAttribute("aria-invalid", "true"));
        first = first || inputs[0] || null;
      }
    }
    if (!slot) unplaced.push(item);
  }
  if (fallback) {
    fallback.textContent = unplaced.map((item) => `${item.loc.slice(1).join(".") || "spec"}: ${item.msg}`).join(" ");
  }
  if (first && scope === null) first.focus();
}
