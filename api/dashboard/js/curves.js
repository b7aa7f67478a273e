// Function and derivative plots of candidates, with optional reference activations.

import { h } from "./dom.js";
import { COLORS, linePlot } from "./plot.js";
import { REFERENCES, referenceSeries } from "./format.js";

/**
 * Two charts, f(x) and f'(x). items: [{label, curve}] where curve is the API's
 * GET /candidates/{id}/curve answer (label: text or a node, see format.curveLabel); refs: names
 * of REFERENCES to overlay.
 */
export function functionPlots(items, refs, { what = "functions" } = {}) {
  const x = items.length ? items[0].curve.x : Array.from({ length: 201 }, (_, i) => -5 + i * 0.05);
  const series = (key) => items.map((item, i) => ({
    label: item.label, x: item.curve.x, y: item.curve[key], color: item.color || COLORS[i % COLORS.length],
  }));
  const names = [...refs];
  return h("div", { class: "plots" },
    linePlot([...series("f"), ...referenceSeries(names, x)], { title: `Plot of the ${what} f(x) on [-5, 5]`,
      yLabel: "f(x)", include: [-1, 1] }),
    linePlot([...series("df"), ...referenceSeries(names, x, true)], { title: `Plot of the derivatives f′(x) of the ${what}`,
      yLabel: "f′(x)", include: [-1, 1] }));
}

/** Checkboxes for the reference curves; onChange() after each toggle. */
export function referenceControls(refs, onChange, idPrefix) {
  return h("fieldset", { class: "inline" }, h("legend", {}, "Reference curves"),
    Object.keys(REFERENCES).map((name) => {
      const id = `${idPrefix}-ref-${name.toLowerCase()}`;
      return h("span", { class: "check" },
        h("input", { type: "checkbox", id, checked: refs.has(name), onchange: (event) => {
          if (event.target.checked) refs.add(name);
          else refs.delete(name);
          onChange();
        } }),
        h("label", { for: id }, name));
    }));
}
