// Batches: upload a JSONL file of requests as a batch, watch each batch's progress, cancel
// one, and download its results. It calls /v1/files and /v1/batches, as the openai SDK does.

import { api, failureOf } from "../api.mjs";
import { ENDPOINTS, canCancel, countsText, errorsText, isLive, progressOf, resultFiles } from "../batches.mjs";
import { errorBox, field, h, show } from "../dom.mjs";

const REFRESH_MS = 1000;

async function uploaded(file) {
  const form = new FormData();
  form.append("purpose", "batch");
  form.append("file", file, file.name);
  const response = await fetch("/v1/files", { method: "POST", body: form, credentials: "same-origin" });
  if (!response.ok) throw await failureOf(response);
  return response.json();
}

function batchRow(batch, cancel) {
  const { settled, total, percent } = progressOf(batch);
  const progress = h("progress", { max: String(total || 1), value: String(settled), "aria-label": `Progress of ${batch.id}`, title: `${percent}%` });
  const actions = h("td", {});
  if (canCancel(batch)) actions.append(h("button", { type: "button", class: "quiet", "aria-label": `Cancel ${batch.id}`, text: "Cancel", onclick: () => cancel(batch) }));
  for (const [label, id, name] of resultFiles(batch)) {
    actions.append(" ", h("a", { href: `/v1/files/${encodeURIComponent(id)}/content`, download: name, text: label }));
  }
  const why = errorsText(batch);
  return h("tr", { "data-batch": batch.id },
    h("td", {}, h("code", { text: batch.id })),
    h("td", { text: batch.endpoint }),
    h("td", { "data-status": batch.status, text: batch.status }),
    h("td", {}, progress, h("span", { "data-counts": "", text: ` ${countsText(batch)}` }), why ? h("p", { class: "error", text: why }) : null),
    h("td", { text: new Date(batch.created_at * 1000).toLocaleString() }),
    actions);
}

export async function batchesPage(draw) {
  const errors = errorBox();
  const file = h("input", { type: "file", name: "file", accept: ".jsonl,application/jsonl,text/plain", required: true });
  const endpoint = h("select", { name: "endpoint" }, ...ENDPOINTS.map((value) => h("option", { value, text: value })));
  const form = h("form", { "aria-label": "Create a batch" },
    h("div", { class: "row" }, field("Requests (JSONL)", file), field("Endpoint", endpoint)),
    h("p", {}, h("button", { type: "submit", text: "Create batch" })));
  const table = h("table", { "aria-label": "Batches" });
  let timer = null;

  async function cancel(batch) {
    if (!window.confirm(`Cancel batch ${batch.id}? Its requests not yet run will not run.`)) return;
    try {
      await api(`/v1/batches/${encodeURIComponent(batch.id)}/cancel`, { method: "POST" });
      await refresh();
    } catch (error) { show(errors, error); }
  }

  async function refresh() {
    clearTimeout(timer);
    if (!table.isConnected && timer !== null) return; // the user went to another page
    const { data } = await api("/v1/batches?limit=100");
    table.replaceChildren(
      h("thead", {}, h("tr", {}, ...["Batch", "Endpoint", "Status", "Progress", "Created", "Actions"].map((text) => h("th", { text })))),
      h("tbody", {}, ...data.map((batch) => batchRow(batch, cancel))));
    if (!data.length) table.append(h("caption", { text: "No batch yet." }));
    if (data.some(isLive)) timer = setTimeout(() => refresh().catch((error) => show(errors, error)), REFRESH_MS);
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!file.files.length) return;
    try {
      const stored = await uploaded(file.files[0]);
      await api("/v1/batches", { method: "POST", json: { input_file_id: stored.id, endpoint: endpoint.value, completion_window: "24h" } });
      show(errors, null);
      form.reset();
      await refresh();
    } catch (error) { show(errors, error); }
  });
  draw("Batches", h("p", { class: "note", text: "A file of requests, one JSON line each ({custom_id, method: POST, url, body}), answered offline at the batch price." }), form, errors, table);
  await refresh();
}
