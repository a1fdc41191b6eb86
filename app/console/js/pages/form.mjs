// Any use case: a form made from its input schema, its output streamed from /<name>/stream.

import { api, jsonPost } from "../api.mjs";
import { formControls } from "../controls.mjs";
import { errorBox, h, modelPickers, show } from "../dom.mjs";
import { fieldsOf, inputOf, shownOutput, withChunk } from "../forms.mjs";
import { streamEvents } from "../sse.mjs";
import { title } from "../workspaces.mjs";

export async function formPage(draw, me, useCase) {
  const { name } = useCase;
  const fields = fieldsOf(await api(`/${name}/input_schema`));
  const controls = formControls(fields);
  const pickers = modelPickers(me);
  const output = h("div", { class: "output", "aria-live": "polite", "aria-label": "Output" });
  const errors = errorBox();
  const run = h("button", { type: "submit", text: "Run" });
  const stop = h("button", { type: "button", class: "danger", text: "Stop", disabled: true });
  let controller = null;
  const form = h("form", { "aria-label": name }, ...controls.nodes, pickers.node, h("div", { class: "row" }, run, stop));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { input: inputOf(fields, controls.values()), config: { configurable: pickers.configurable() } };
    let result = "";
    output.textContent = ""; show(errors, null); run.disabled = true; stop.disabled = false;
    controller = new AbortController();
    try {
      await streamEvents(`/${name}/stream`, jsonPost(body), (kind, data) => {
        if (kind !== "data") return;
        result = withChunk(result, data);
        output.textContent = shownOutput(result);
      }, controller.signal);
    } catch (error) {
      if (error.name !== "AbortError") show(errors, error);
    } finally { run.disabled = false; stop.disabled = true; }
  });
  stop.addEventListener("click", () => controller?.abort());
  draw(title(name), form, output, errors);
}
