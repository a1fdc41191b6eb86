// The controls of a use case's form (fields from forms.mjs), and the values typed into them.

import { field, h } from "./dom.mjs";

function control(spec, rows) {
  if (spec.kind === "choice") {
    const options = spec.choices.map((value) => h("label", {},
      h("input", { type: "radio", name: spec.key, value, checked: value === spec.initial }), ` ${value}`));
    const node = h("fieldset", {}, h("legend", { text: spec.label }), ...options);
    return { node, value: () => node.querySelector("input:checked")?.value ?? "" };
  }
  const input = spec.kind === "number"
    ? h("input", { type: "number", name: spec.key, value: String(spec.initial) })
    : h("textarea", { name: spec.key, rows: String(rows[spec.key] || 3) });
  if (spec.kind !== "number") input.value = spec.initial;
  return { node: field(spec.label, input), value: () => input.value };
}

// { nodes, values() }; `rows` sets a text field's height by its key.
export function formControls(fields, rows = {}) {
  const made = fields.map((spec) => [spec.key, control(spec, rows)]);
  return {
    nodes: made.map(([, one]) => one.node),
    values: () => Object.fromEntries(made.map(([key, one]) => [key, one.value()])),
  };
}
