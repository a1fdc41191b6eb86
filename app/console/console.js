// The console: workspaces for every use case the tenant may use, its usage, and (admin keys)
// tenants and keys. It calls the platform's documented API only, with the session cookie.
"use strict";

const main = document.getElementById("main");
let me = null; // GET /me: the caller, its tenant, models and use cases

// --- the API ---------------------------------------------------------------------------

class ApiError extends Error {}

async function api(path, options = {}) {
  const init = { credentials: "same-origin", ...options, headers: { ...(options.headers || {}) } };
  if (options.json !== undefined) {
    init.body = JSON.stringify(options.json);
    init.headers["Content-Type"] = "application/json";
  }
  const response = await fetch(path, init);
  if (response.status === 204) return null;
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(body.error?.message || `${response.status} ${response.statusText}`);
  return body;
}

// Server-Sent Events of a POST: calls onEvent(name, data) for each; rejects on an error event.
async function streamEvents(path, init, onEvent, signal) {
  const response = await fetch(path, { credentials: "same-origin", method: "POST", signal, ...init });
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    throw new ApiError(body.error?.message || `${response.status} ${response.statusText}`);
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value.replace(/\r\n/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (!data.length && name === "message") continue;
      const parsed = data.length ? JSON.parse(data.join("\n")) : null;
      if (name === "error") throw new ApiError(parsed?.message || "The stream failed.");
      onEvent(name, parsed);
    }
  }
}

function jsonPost(body) {
  return { headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
}

// --- small DOM helpers -----------------------------------------------------------------

function h(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

function field(label, control) {
  const id = control.id || `f-${Math.random().toString(36).slice(2)}`;
  control.id = id;
  return h("div", {}, h("label", { for: id, text: label }), control);
}

function errorBox() {
  return h("p", { class: "error", role: "alert", "aria-live": "assertive" });
}

function show(box, error) {
  box.textContent = error ? error.message || String(error) : "";
}

function renderMarkdown(target, text) {
  target.innerHTML = DOMPurify.sanitize(marked.parse(text));
  for (const block of target.querySelectorAll("pre")) {
    const copy = h("button", { type: "button", class: "copy quiet", text: "Copy" });
    copy.addEventListener("click", async () => {
      await navigator.clipboard.writeText(block.querySelector("code")?.textContent || block.textContent);
      copy.textContent = "Copied";
    });
    block.append(copy);
  }
}

function modelPickers() {
  const model = h("select", { name: "model" },
    ...me.chat_models.map((alias) => h("option", { value: alias, selected: alias === me.default_model, text: alias })));
  const temperature = h("input", { type: "number", name: "temperature", min: "0", max: "2", step: "0.1", value: "0.7" });
  const node = h("div", { class: "row" }, field("Model", model), field("Temperature", temperature));
  return { node, configurable: () => ({ model: model.value, temperature: Number(temperature.value) }) };
}

// --- pages -----------------------------------------------------------------------------

function page(title, ...children) {
  main.replaceChildren(h("h1", { text: title }), ...children);
  document.title = `${title} · genai-platform`;
  main.focus();
}

function signInPage() {
  const key = h("input", { type: "password", name: "key", autocomplete: "off", required: true });
  const form = h("form", { "aria-label": "Sign in" },
    h("p", { text: "Sign in with an API key (the admin key of `make run` is in var/admin-key)." }),
    field("API key", key), h("p", {}, h("button", { type: "submit", text: "Sign in" })));
  const errors = errorBox();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = key.value.trim();
    // Checked first, so a wrong key is an error here rather than a page of JSON.
    const check = await fetch("/me", { headers: { Authorization: `Bearer ${value}` } });
    if (!check.ok) {
      const body = await check.json().catch(() => ({}));
      return show(errors, new ApiError(body.error?.message || "This key does not sign in."));
    }
    const signedIn = await fetch("/signin", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ key: value }),
    });
    if (!signedIn.ok) {
      const body = await signedIn.json().catch(() => ({}));
      return show(errors, new ApiError(body.error?.message || "This browser could not sign in."));
    }
    window.location.assign("/");
  });
  page("Sign in", form, errors);
  key.focus();
}

// Chat: kept sessions (new, rename, delete), streamed replies with a stop button.
async function chatPage() {
  const list = h("ul");
  const messages = h("div", { class: "messages", role: "log", "aria-live": "polite", "aria-label": "Conversation" });
  const input = h("textarea", { name: "message", rows: "3" });
  const send = h("button", { type: "submit", text: "Send" });
  const stop = h("button", { type: "button", class: "danger", text: "Stop", disabled: true });
  const errors = errorBox();
  const pickers = modelPickers();
  let current = null;
  let controller = null;

  function bubble(kind, text) {
    const body = h("div", { class: "body" });
    const node = h("div", { class: `message ${kind}` },
      h("div", { class: "who-said", text: kind === "human" ? "You" : "Assistant" }), body);
    renderMarkdown(body, text);
    messages.append(node);
    messages.scrollTop = messages.scrollHeight;
    return body;
  }

  async function refreshSessions() {
    const { sessions } = await api("/chat/sessions");
    list.replaceChildren(...sessions.map((id) => h("li", {},
      h("button", { type: "button", class: "quiet", "aria-current": id === current ? "true" : "false",
        text: id, onclick: () => open(id) }))));
  }

  async function open(id) {
    current = id;
    messages.replaceChildren();
    show(errors, null);
    if (id) {
      try {
        const history = await api(`/chat/history?session_id=${encodeURIComponent(id)}`);
        for (const message of history.messages) bubble(message.type === "human" ? "human" : "ai", message.data.content);
      } catch (error) { show(errors, error); }
    }
    await refreshSessions();
  }

  const form = h("form", { "aria-label": "Send a message" }, field("Message", input),
    h("div", { class: "row" }, send, stop), pickers.node);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    if (!current) current = `chat-${new Date().toISOString().replace(/[^0-9]/g, "").slice(0, 14)}`;
    input.value = "";
    bubble("human", text);
    const reply = bubble("ai", "");
    let answer = "";
    controller = new AbortController();
    send.disabled = true; stop.disabled = false; show(errors, null);
    const body = { input: { messages: [{ type: "human", content: text }] },
      config: { configurable: { session_id: current, ...pickers.configurable() } } };
    try {
      await streamEvents("/chat/stream", jsonPost(body), (name, data) => {
        if (name === "data") { answer += data; renderMarkdown(reply, answer); messages.scrollTop = messages.scrollHeight; }
      }, controller.signal);
    } catch (error) {
      if (error.name === "AbortError") reply.append(h("p", { class: "note", text: "(stopped)" }));
      else show(errors, error);
    } finally {
      send.disabled = false; stop.disabled = true; controller = null;
      await refreshSessions();
    }
  });
  stop.addEventListener("click", () => controller?.abort());
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); form.requestSubmit(); }
  });

  const newChat = h("button", { type: "button", text: "New chat", onclick: () => open(null) });
  const rename = h("button", { type: "button", class: "quiet", text: "Rename", onclick: async () => {
    if (!current) return;
    const to = window.prompt("New name for this chat", current);
    if (!to || to === current) return;
    try { await api(`/chat/sessions/${encodeURIComponent(current)}/rename`, { method: "POST", json: { to } }); await open(to); }
    catch (error) { show(errors, error); }
  } });
  const remove = h("button", { type: "button", class: "danger", text: "Delete", onclick: async () => {
    if (!current || !window.confirm(`Delete the chat '${current}' and its history?`)) return;
    try { await api(`/chat/history?session_id=${encodeURIComponent(current)}`, { method: "DELETE" }); await open(null); }
    catch (error) { show(errors, error); }
  } });
  page("Chat", h("div", { class: "chat" },
    h("section", { class: "sessions", "aria-label": "Chats" }, h("div", { class: "row" }, newChat, rename, remove), list),
    h("section", { "aria-label": "Conversation" }, messages, form, errors)));
  const first = (await api("/chat/sessions")).sessions[0] || null;
  await open(first);
}

// Summarize: a pasted text (progress from /summarize/stream_events) or a file (/summarize/file).
function summarizePage() {
  const text = h("textarea", { name: "text", rows: "8" });
  const file = h("input", { type: "file", name: "file", accept: ".pdf,.docx,.txt,.md,.markdown,.html,.htm" });
  const style = h("fieldset", {}, h("legend", { text: "Style" }),
    ...["paragraph", "bullets"].map((value) => h("label", {},
      h("input", { type: "radio", name: "style", value, checked: value === "paragraph" }), ` ${value}`)));
  const pickers = modelPickers();
  const progress = h("p", { class: "progress", role: "status", "aria-live": "polite" });
  const steps = h("ol", { class: "steps", "aria-label": "Progress" });
  const output = h("div", { class: "output markdown", "aria-live": "polite", "aria-label": "Summary" });
  const errors = errorBox();
  const run = h("button", { type: "submit", text: "Summarize" });
  const form = h("form", { "aria-label": "Summarize" }, field("Text to summarize", text),
    field("…or a document (PDF, DOCX, TXT, Markdown, HTML)", file), style, pickers.node, h("p", {}, run));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = form.querySelector("input[name=style]:checked").value;
    let summary = "";
    output.replaceChildren(); steps.replaceChildren(); progress.textContent = ""; show(errors, null);
    run.disabled = true;
    const onEvent = (name, data) => {
      if (name === "document") progress.textContent = `Read ${data.filename}${data.pages ? `: ${data.pages} pages` : ""}, ${data.characters} characters.`;
      else if (name === "progress") {
        progress.textContent = `Part ${data.part} of ${data.of}${data.round > 1 ? ` (round ${data.round})` : ""}`;
        steps.append(h("li", { text: progress.textContent }));
      }
      else if (name === "data") { summary += data; renderMarkdown(output, summary); }
      else if (name === "end") progress.textContent = "Done.";
    };
    try {
      const configurable = pickers.configurable();
      if (file.files.length) {
        const body = new FormData();
        body.append("file", file.files[0]);
        body.append("style", chosen);
        for (const [key, value] of Object.entries(configurable)) body.append(key, String(value));
        await streamEvents("/summarize/file", { body }, onEvent);
      } else {
        const body = { input: { text: text.value, style: chosen }, config: { configurable } };
        await streamEvents("/summarize/stream_events", jsonPost(body), (name, data) => {
          if (name !== "data") return onEvent(name, data);
          if (data.event === "on_custom_event" && data.name === "progress") onEvent("progress", data.data);
          else if (data.event === "on_chain_stream" && data.parent_ids.length === 0) onEvent("data", data.data.chunk);
        });
      }
    } catch (error) { show(errors, error); } finally { run.disabled = false; }
  });
  page("Summarize", form, progress, steps, output, errors);
}

// Any other use case: a form made from its input schema, its output streamed.
async function useCasePage(name) {
  const schema = await api(`/${name}/input_schema`);
  const controls = {};
  const fields = Object.entries(schema.properties || {}).map(([key, spec]) => {
    let control;
    if (spec.enum) control = h("select", { name: key }, ...spec.enum.map((value) => h("option", { value, text: value })));
    else if (spec.type === "integer" || spec.anyOf?.some((one) => one.type === "integer")) control = h("input", { type: "number", name: key });
    else control = h("textarea", { name: key, rows: key === "context" ? "4" : "3" });
    controls[key] = { control, spec };
    const required = (schema.required || []).includes(key);
    return field(`${spec.title || key}${required ? "" : " (optional)"}`, control);
  });
  const pickers = modelPickers();
  const output = h("div", { class: "output", "aria-live": "polite", "aria-label": "Output" });
  const errors = errorBox();
  const run = h("button", { type: "submit", text: "Run" });
  const stop = h("button", { type: "button", class: "danger", text: "Stop", disabled: true });
  let controller = null;
  const form = h("form", { "aria-label": name }, ...fields, pickers.node, h("div", { class: "row" }, run, stop));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = {};
    for (const [key, { control, spec }] of Object.entries(controls)) {
      if (control.value === "") continue;
      input[key] = spec.type === "integer" || control.type === "number" ? Number(control.value) : control.value;
    }
    let text = "";
    output.textContent = ""; show(errors, null); run.disabled = true; stop.disabled = false;
    controller = new AbortController();
    try {
      await streamEvents(`/${name}/stream`, jsonPost({ input, config: { configurable: pickers.configurable() } }), (kind, data) => {
        if (kind !== "data") return;
        if (typeof data === "string") text += data; else text = JSON.stringify(data, null, 2);
        output.textContent = text;
      }, controller.signal);
    } catch (error) {
      if (error.name !== "AbortError") show(errors, error);
    } finally { run.disabled = false; stop.disabled = true; }
  });
  stop.addEventListener("click", () => controller?.abort());
  page(name[0].toUpperCase() + name.slice(1), form, output, errors);
}

// Usage: the ledger's rows as charts, its totals, the budget and refusals; CSV export.
async function usagePage() {
  const tenantPicker = me.key.admin ? h("select", { name: "tenant" }) : null;
  const content = h("div");
  const errors = errorBox();
  async function load() {
    const tenant = tenantPicker ? tenantPicker.value : me.tenant.id;
    const query = `tenant=${encodeURIComponent(tenant)}`;
    try {
      const usage = await api(`/usage?${query}&limit=10000`);
      const tenantLoad = me.key.admin && tenant !== me.tenant.id ? await api(`/admin/tenants/${encodeURIComponent(tenant)}/load`) : me.load;
      content.replaceChildren(...usageView(usage, tenantLoad, tenant === me.tenant.id ? me.refused : null, query));
      drawCharts(content, usage.records);
    } catch (error) { show(errors, error); }
  }
  const controls = [];
  if (tenantPicker) {
    const { tenants } = await api("/admin/tenants");
    tenantPicker.append(...tenants.map((tenant) => h("option", { value: tenant.id, selected: tenant.id === me.tenant.id, text: tenant.id })));
    tenantPicker.addEventListener("change", load);
    controls.push(field("Tenant", tenantPicker));
  }
  page("Usage", ...controls, errors, content);
  await load();
}

function usageView(usage, load, refused, query) {
  const totals = usage.totals;
  const cards = h("div", { class: "cards", "aria-label": "Totals" },
    ...[["Requests", totals.requests], ["Input tokens", totals.input_tokens],
      ["Output tokens", totals.output_tokens], ["Cost (USD)", totals.cost_usd.toFixed(6)],
      ["Images", totals.images]].map(([label, value]) =>
      h("div", { class: "card", "data-total": label }, h("span", { text: label }), h("strong", { text: String(value) }))));
  const budget = load?.budget
    ? h("section", { "aria-label": "Budget" }, h("h2", { text: "Budget" }),
        h("meter", { min: "0", max: String(load.budget.limit_usd), value: String(load.budget.spent_usd), "aria-label": "Budget used" }),
        h("p", { text: `$${load.budget.spent_usd.toFixed(4)} of $${load.budget.limit_usd} used ($${load.budget.reserved_usd.toFixed(4)} reserved); resets ${new Date(load.budget.resets_at).toLocaleString()}.` }))
    : h("p", { class: "note", text: "No budget is set for this tenant." });
  const refusals = refused && Object.keys(refused).length
    ? h("p", { text: `Refused by a limit since this server started: ${Object.entries(refused).map(([limit, n]) => `${limit} ${n}`).join(", ")}.` })
    : h("p", { class: "note", text: refused ? "No request was refused by a limit since this server started." : "" });
  const charts = h("div", { class: "charts" },
    ...["requests", "tokens", "cost", "latency"].map((kind) => h("figure", {},
      h("canvas", { "data-chart": kind, role: "img", "aria-label": `${kind} over time` }), h("figcaption", { text: chartTitles[kind] }))));
  return [cards, budget, refusals, h("p", {}, h("a", { href: `/usage?${query}&format=csv`, download: "usage.csv", text: "Export CSV" })), charts];
}

const chartTitles = { requests: "Requests by route", tokens: "Tokens by model", cost: "Cost (USD) by model", latency: "Latency p50 / p95 (ms)" };

function drawCharts(container, records) {
  const minute = (row) => row.created_at.slice(0, 16).replace("T", " ");
  const buckets = [...new Set(records.map(minute))].sort();
  const series = (key, value) => {
    const groups = {};
    for (const row of records) {
      const name = row[key] || "(none)";
      groups[name] ??= Object.fromEntries(buckets.map((bucket) => [bucket, 0]));
      groups[name][minute(row)] += value(row);
    }
    return Object.entries(groups).map(([label, values]) => ({ label, data: buckets.map((bucket) => values[bucket]) }));
  };
  const percentile = (values, share) => {
    if (!values.length) return null;
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.round(share * (sorted.length - 1)))];
  };
  const latencies = buckets.map((bucket) => records.filter((row) => minute(row) === bucket).map((row) => row.latency_ms));
  const data = {
    requests: series("route", () => 1),
    tokens: series("model", (row) => row.input_tokens + row.output_tokens),
    cost: series("model", (row) => row.cost_usd),
    latency: [{ label: "p50", data: latencies.map((values) => percentile(values, 0.5)) },
      { label: "p95", data: latencies.map((values) => percentile(values, 0.95)) }],
  };
  for (const canvas of container.querySelectorAll("canvas[data-chart]")) {
    const kind = canvas.dataset.chart;
    new Chart(canvas, { type: kind === "latency" ? "line" : "bar",
      data: { labels: buckets, datasets: data[kind] },
      options: { animation: false, responsive: true, scales: { x: { stacked: kind !== "latency" }, y: { stacked: kind !== "latency", beginAtZero: true } } } });
  }
}

// Admin: tenants (create, edit) and keys (create, list, revoke); each change confirmed.
async function adminPage() {
  const errors = errorBox();
  const tenantsTable = h("table");
  const keysSection = h("section", { "aria-label": "Keys" });
  const created = h("div", { "aria-live": "polite" });
  const numbers = ["rpm", "tpm", "ipm", "max_concurrent"];

  function tenantForm(tenant) {
    const inputs = {
      id: tenant ? null : h("input", { name: "id", required: true, pattern: "[a-z0-9][a-z0-9_-]{0,63}" }),
      name: h("input", { name: "name", value: tenant?.name || "" }),
      ...Object.fromEntries(numbers.map((key) => [key, h("input", { type: "number", min: "1", name: key, value: tenant?.[key] ?? "" })])),
      budget_usd: h("input", { type: "number", min: "0", step: "0.01", name: "budget_usd", value: tenant?.budget_usd ?? "" }),
      budget_period: h("select", { name: "budget_period" }, ...["month", "day"].map((value) => h("option", { value, selected: tenant?.budget_period === value, text: value }))),
      allowed_routes: h("input", { name: "allowed_routes", value: (tenant?.allowed_routes || []).join(", "), placeholder: "all" }),
      allowed_models: h("input", { name: "allowed_models", value: (tenant?.allowed_models || []).join(", "), placeholder: "all" }),
    };
    const labels = { id: "Tenant id", name: "Name", rpm: "Requests per minute", tpm: "Tokens per minute", ipm: "Images per minute",
      max_concurrent: "Concurrent requests", budget_usd: "Budget (USD)", budget_period: "Budget period",
      allowed_routes: "Allowed routes (comma-separated)", allowed_models: "Allowed models (comma-separated)" };
    const form = h("form", { "aria-label": tenant ? `Edit tenant ${tenant.id}` : "Create a tenant" },
      h("div", { class: "row" }, ...Object.entries(inputs).filter(([, input]) => input).map(([key, input]) => field(labels[key], input))),
      h("p", {}, h("button", { type: "submit", text: tenant ? "Save" : "Create tenant" })));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = {};
      for (const [key, input] of Object.entries(inputs)) {
        if (!input || input.value === "") continue;
        if (numbers.includes(key)) body[key] = Number(input.value);
        else if (key === "budget_usd") body[key] = Number(input.value);
        else if (key.startsWith("allowed_")) body[key] = input.value.split(",").map((part) => part.trim()).filter(Boolean);
        else body[key] = input.value;
      }
      const what = tenant ? `Save the changes to tenant '${tenant.id}'?` : `Create tenant '${body.id}'?`;
      if (!window.confirm(what)) return;
      try {
        if (tenant) await api(`/admin/tenants/${encodeURIComponent(tenant.id)}`, { method: "PATCH", json: body });
        else await api("/admin/tenants", { method: "POST", json: body });
        show(errors, null);
        await refresh();
      } catch (error) { show(errors, error); }
    });
    return form;
  }

  async function showKeys(tenant) {
    const { keys } = await api(`/admin/keys?tenant=${encodeURIComponent(tenant.id)}`);
    const name = h("input", { name: "key-name", value: "console" });
    const admin = h("input", { type: "checkbox", name: "key-admin" });
    const form = h("form", { "aria-label": `Create a key for ${tenant.id}` },
      h("div", { class: "row" }, field("Key name", name), h("label", {}, admin, " admin key"), h("button", { type: "submit", text: "Create key" })));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!window.confirm(`Create a${admin.checked ? "n admin" : ""} key '${name.value}' for tenant '${tenant.id}'?`)) return;
      try {
        const key = await api(`/admin/tenants/${encodeURIComponent(tenant.id)}/keys`, { method: "POST", json: { name: name.value, admin: admin.checked } });
        const secret = h("p", { class: "secret", "data-new-key": "", text: key.key });
        const copy = h("button", { type: "button", text: "Copy key", onclick: async () => { await navigator.clipboard.writeText(key.key); copy.textContent = "Copied"; } });
        created.replaceChildren(h("h2", { text: "New key — shown this once" }), secret, copy);
        await showKeys(tenant);
      } catch (error) { show(errors, error); }
    });
    const rows = keys.map((key) => h("tr", {}, h("td", { text: key.id }), h("td", { text: key.name }), h("td", { text: key.admin ? "admin" : "" }),
      h("td", { text: key.revoked_at ? `revoked ${new Date(key.revoked_at).toLocaleString()}` : "active" }),
      h("td", {}, key.revoked_at ? null : h("button", { type: "button", class: "danger", text: "Revoke", "aria-label": `Revoke key ${key.id}`, onclick: async () => {
        if (!window.confirm(`Revoke key '${key.name}' (${key.id})? Clients using it stop working.`)) return;
        try { await api(`/admin/keys/${encodeURIComponent(key.id)}/revoke`, { method: "POST" }); await showKeys(tenant); }
        catch (error) { show(errors, error); }
      } }))));
    keysSection.replaceChildren(h("h2", { text: `Tenant ${tenant.id}` }), tenantForm(tenant), h("h2", { text: "Keys" }),
      h("table", {}, h("thead", {}, h("tr", {}, ...["Id", "Name", "Kind", "State", ""].map((text) => h("th", { text })))), h("tbody", {}, ...rows)),
      form);
  }

  async function refresh() {
    const { tenants } = await api("/admin/tenants");
    tenantsTable.replaceChildren(
      h("thead", {}, h("tr", {}, ...["Tenant", "Name", "Limits", "Budget", ""].map((text) => h("th", { text })))),
      h("tbody", {}, ...tenants.map((tenant) => h("tr", {}, h("td", { text: tenant.id }), h("td", { text: tenant.name }),
        h("td", { text: numbers.filter((key) => tenant[key]).map((key) => `${key} ${tenant[key]}`).join(", ") || "none" }),
        h("td", { text: tenant.budget_usd === null ? "none" : `$${tenant.budget_usd} / ${tenant.budget_period}` }),
        h("td", {}, h("button", { type: "button", class: "quiet", text: "Manage", "aria-label": `Manage tenant ${tenant.id}`, onclick: () => showKeys(tenant).catch((error) => show(errors, error)) }))))));
  }
  page("Admin", errors, h("h2", { text: "Tenants" }), tenantsTable, h("h2", { text: "New tenant" }), tenantForm(null), created, keysSection);
  await refresh();
}

// --- routing ---------------------------------------------------------------------------

function routes() {
  const list = me.use_cases.map(({ name }) => [name, name[0].toUpperCase() + name.slice(1)]);
  list.push(["usage", "Usage"]);
  if (me.key.admin) list.push(["admin", "Admin"]);
  return list;
}

async function route() {
  const name = window.location.hash.replace(/^#\/?/, "") || me.use_cases[0]?.name || "usage";
  const nav = document.getElementById("nav");
  for (const link of nav.querySelectorAll("a")) link.setAttribute("aria-current", link.dataset.route === name ? "page" : "false");
  try {
    if (name === "chat") await chatPage();
    else if (name === "summarize") summarizePage();
    else if (name === "usage") await usagePage();
    else if (name === "admin" && me.key.admin) await adminPage();
    else if (me.use_cases.some((one) => one.name === name)) await useCasePage(name);
    else page("Not found", h("p", { text: `No page '${name}'.` }));
  } catch (error) {
    page("Error", h("p", { class: "error", role: "alert", text: error.message }));
  }
}

async function start() {
  try {
    me = await api("/me");
  } catch {
    return signInPage();
  }
  const nav = document.getElementById("nav");
  nav.replaceChildren(...routes().map(([name, label]) => h("a", { href: `#/${name}`, "data-route": name, text: label })));
  nav.hidden = false;
  document.getElementById("who").textContent = `Tenant ${me.tenant.id}${me.key.admin ? " (admin)" : ""} · key ${me.key.name}`;
  const signout = document.getElementById("signout");
  signout.hidden = false;
  signout.addEventListener("click", async () => { await api("/signout", { method: "POST" }); window.location.assign("/"); });
  window.addEventListener("hashchange", route);
  await route();
}

start();
