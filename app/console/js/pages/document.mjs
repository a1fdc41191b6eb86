// A use case that reads documents: its input form, where the document's field may be typed
// or uploaded (POST /<name>/file), with the run's progress shown as it goes.

import { api, jsonPost } from "../api.mjs";
import { formControls } from "../controls.mjs";
import { errorBox, field, h, modelPickers, renderMarkdown, show } from "../dom.mjs";
import { fieldsOf, inputOf, shownOutput, withChunk } from "../forms.mjs";
import { fromRunEvent, statusOf } from "../progress.mjs";
import { streamEvents } from "../sse.mjs";
import { title } from "../workspaces.mjs";

// The documents the platform reads (app/documents/extract.py).
const DOCUMENT_TYPES = ".pdf,.docx,.txt,.md,.markdown,.html,.htm";

export function uploadForm(input, configurable, file) {
  const body = new FormData();
  body.append("file", file);
  for (const [key, value] of Object.entries({ ...input, ...configurable })) body.append(key, String(value));
  return { body };
}

export async function documentPage(draw, me, useCase) {
  const { name, document_field: documentField } = useCase;
  const fields = fieldsOf(await api(`/${name}/input_schema`));
  const controls = formControls(fields, { [documentField]: 8 });
  const file = h("input", { type: "file", name: "file", accept: DOCUMENT_TYPES });
  const pickers = modelPickers(me);
  const progress = h("p", { class: "progress", role: "status", "aria-live": "polite" });
  const steps = h("ol", { class: "steps", "aria-label": "Progress" });
  const output = h("div", { class: "output markdown", "aria-live": "polite", "aria-label": "Output" });
  const errors = errorBox();
  const run = h("button", { type: "submit", text: "Run" });
  const form = h("form", { "aria-label": name }, ...controls.nodes,
    field("…or a document (PDF, DOCX, TXT, Markdown, HTML)", file), pickers.node, h("p", {}, run));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    let text = "";
    output.replaceChildren(); steps.replaceChildren(); progress.textContent = ""; show(errors, null);
    run.disabled = true;
    const onStep = (step) => {
      if (!step) return;
      const status = statusOf(step);
      if (status !== undefined) progress.textContent = status;
      if (step.name === "progress") steps.append(h("li", { text: status }));
      else if (step.name === "data") { text = withChunk(text, step.data); renderMarkdown(output, shownOutput(text)); }
    };
    const configurable = pickers.configurable();
    try {
      if (file.files.length) {
        const { [documentField]: _typed, ...others } = inputOf(fields, controls.values());
        const upload = uploadForm(others, configurable, file.files[0]);
        await streamEvents(`/${name}/file`, upload, (kind, data) => onStep({ name: kind, data }));
      } else {
        const body = { input: inputOf(fields, controls.values()), config: { configurable } };
        await streamEvents(`/${name}/stream_events`, jsonPost(body), (kind, data) => onStep(fromRunEvent(kind, data)));
      }
    } catch (error) { show(errors, error); } finally { run.disabled = false; }
  });
  draw(title(name), form, progress, steps, output, errors);
}
