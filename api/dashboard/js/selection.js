// The candidates picked for comparison, kept in localStorage so they survive navigation and
// can be collected across several jobs.

import { h, toast } from "./dom.js";

const KEY = "actsearch.compare";
export const MAX_COMPARE = 10;

export function selected() {
  try {
    const ids = JSON.parse(window.localStorage.getItem(KEY) || "[]");
    return Array.isArray(ids) ? ids.filter(Number.isInteger).slice(0, MAX_COMPARE) : [];
  } catch {
    return [];
  }
}

export function save(ids) {
  window.localStorage.setItem(KEY, JSON.stringify([...new Set(ids)].slice(0, MAX_COMPARE)));
}

export function isSelected(id) {
  return selected().includes(id);
}

/** Adds or removes `id`; returns whether it is selected afterwards. */
export function toggle(id) {
  const ids = selected();
  if (ids.includes(id)) {
    save(ids.filter((other) => other !== id));
    return false;
  }
  if (ids.length >= MAX_COMPARE) {
    toast(`At most ${MAX_COMPARE} candidates can be compared.`);
    return false;
  }
  save([...ids, id]);
  return true;
}

/** A toggle button "Add to compare" / "In comparison" for candidate `id`. */
export function compareButton(id, label = "compare") {
  const button = h("button", { type: "button", class: "secondary small", "aria-pressed": String(isSelected(id)),
    "aria-label": `Compare candidate ${id}` });
  const show = () => {
    const on = isSelected(id);
    button.setAttribute("aria-pressed", String(on));
    button.textContent = on ? `✓ ${label}` : `+ ${label}`;
  };
  button.addEventListener("click", () => {
    toggle(id);
    show();
  });
  show();
  return button;
}
