// Admin: tenants (create, edit), keys (create, list, revoke) and the shared tool servers
// (register, list, remove); each change confirmed.

import { api } from "../api.mjs";
import { errorBox, field, h, show } from "../dom.mjs";
import { CACHE_MODES, LABELS, LIMITS, keyBody, limitsText, policyText, tenantBody } from "../tenants.mjs";
import { toolServerBody } from "../toolservers.mjs";

export async function adminPage(draw) {
  const errors = errorBox();
  const tenantsTable = h("table");
  const keysSection = h("section", { "aria-label": "Keys" });
  const created = h("div", { "aria-live": "polite" });

  function tenantForm(tenant) {
    const inputs = {
      id: tenant ? null : h("input", { name: "id", required: true, pattern: "[a-z0-9][a-z0-9_\\-]{0,63}" }),  // "-" escaped: browsers read it with the v flag
      name: h("input", { name: "name", value: tenant?.name || "" }),
      ...Object.fromEntries(LIMITS.map((key) => [key, h("input", { type: "number", min: "1", name: key, value: tenant?.[key] ?? "" })])),
      budget_usd: h("input", { type: "number", min: "0", step: "0.01", name: "budget_usd", value: tenant?.budget_usd ?? "" }),
      budget_period: h("select", { name: "budget_period" }, ...["month", "day"].map((value) => h("option", { value, selected: tenant?.budget_period === value, text: value }))),
      allowed_routes: h("input", { name: "allowed_routes", value: (tenant?.allowed_routes || []).join(", "), placeholder: "all" }),
      allowed_models: h("input", { name: "allowed_models", value: (tenant?.allowed_models || []).join(", "), placeholder: "all" }),
      cache: h("select", { name: "cache" }, ...CACHE_MODES.map((value) => h("option", { value, selected: (tenant?.cache ?? "") === value, text: value || "as its models say" }))),
      allowed_tools: h("input", { name: "allowed_tools", value: (tenant?.allowed_tools || []).join(", "), placeholder: "none" }),
      tool_rpm: h("input", { type: "number", min: "1", name: "tool_rpm", value: tenant?.tool_rpm ?? "" }),
      guardrails: h("textarea", { name: "guardrails", rows: "4", placeholder: '{"request": {"email": "mask", "secret": "block"}}', text: policyText(tenant?.guardrails) }),
    };
    const shown = Object.entries(inputs).filter(([, input]) => input);
    const form = h("form", { "aria-label": tenant ? `Edit tenant ${tenant.id}` : "Create a tenant" },
      h("div", { class: "row" }, ...shown.map(([key, input]) => field(LABELS[key], input))),
      h("p", {}, h("button", { type: "submit", text: tenant ? "Save" : "Create tenant" })));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      let body;
      try {
        body = tenantBody(Object.fromEntries(shown.map(([key, input]) => [key, input.value])));
      } catch (error) { show(errors, error); return; }
      const what = tenant ? `Save the changes to tenant '${tenant.id}'?` : `Create tenant '${body.id}'?`;
      if (!window.confirm(what)) return;
      try {
        if (tenant) await api(`/admin/tenants/${encodeURIComponent(tenant.id)}`, { method: "PATCH", json: body });
        else await api("/admin/tenants", { method: "POST", json: body });
        show(errors, null);
        if (!tenant) form.reset();  // ready for the next one
        await refresh();
      } catch (error) { show(errors, error); }
    });
    return form;
  }

  async function showKeys(tenant) {
    const { keys } = await api(`/admin/keys?tenant=${encodeURIComponent(tenant.id)}`);
    const name = h("input", { name: "key-name", value: "console" });
    const admin = h("input", { type: "checkbox", name: "key-admin" });
    const policy = h("textarea", { name: "key-guardrails", rows: "2", placeholder: "its tenant's" });
    const form = h("form", { "aria-label": `Create a key for ${tenant.id}` },
      h("div", { class: "row" }, field("Key name", name), h("label", {}, admin, " admin key"),
        field("Key guardrail policy (JSON)", policy), h("button", { type: "submit", text: "Create key" })));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      let body;
      try {
        body = keyBody(name.value, admin.checked, policy.value);
      } catch (error) { show(errors, error); return; }
      if (!window.confirm(`Create a${admin.checked ? "n admin" : ""} key '${name.value}' for tenant '${tenant.id}'?`)) return;
      try {
        const key = await api(`/admin/tenants/${encodeURIComponent(tenant.id)}/keys`, { method: "POST", json: body });
        const secret = h("p", { class: "secret", "data-new-key": "", text: key.key });
        const copy = h("button", { type: "button", text: "Copy key", onclick: async () => { await navigator.clipboard.writeText(key.key); copy.textContent = "Copied"; } });
        created.replaceChildren(h("h2", { text: "New key — shown this once" }), secret, copy);
        show(errors, null);
        await showKeys(tenant);
      } catch (error) { show(errors, error); }
    });
    const rows = keys.map((key) => h("tr", {}, h("td", { text: key.id }), h("td", { text: key.name }), h("td", { text: key.admin ? "admin" : "" }),
      h("td", { text: key.revoked_at ? `revoked ${new Date(key.revoked_at).toLocaleString()}` : "active" }),
      h("td", {}, key.revoked_at ? null : h("button", { type: "button", class: "danger", text: "Revoke", "aria-label": `Revoke key ${key.id}`, onclick: async () => {
        if (!window.confirm(`Revoke key '${key.name}' (${key.id})? Clients using it stop working.`)) return;
        try {
          await api(`/admin/keys/${encodeURIComponent(key.id)}/revoke`, { method: "POST" });
          show(errors, null);
          created.replaceChildren();  // a key shown once and now revoked is shown no more
          await showKeys(tenant);
        }
        catch (error) { show(errors, error); }
      } }))));
    const purged = h("span", { "aria-live": "polite" });
    const purge = h("button", { type: "button", class: "danger", text: "Purge cached answers", onclick: async () => {
      if (!window.confirm(`Drop every cached answer of tenant '${tenant.id}'? Its next requests go to the models again.`)) return;
      try {
        const done = await api(`/admin/tenants/${encodeURIComponent(tenant.id)}/cache`, { method: "DELETE" });
        purged.textContent = ` ${done.purged} cached answers dropped.`;
        show(errors, null);
      } catch (error) { show(errors, error); }
    } });
    keysSection.replaceChildren(h("h2", { text: `Tenant ${tenant.id}` }), tenantForm(tenant), h("p", {}, purge, purged), h("h2", { text: "Keys" }),
      h("table", {}, h("thead", {}, h("tr", {}, ...["Id", "Name", "Kind", "State", ""].map((text) => h("th", { text })))), h("tbody", {}, ...rows)),
      form);
  }

  const serversTable = h("table", { "aria-label": "Tool servers" });
  const serverInputs = {
    name: h("input", { name: "server-name", required: true, pattern: "[a-z][a-z0-9_\\-]{0,31}", placeholder: "crm" }),
    url: h("input", { name: "server-url", required: true, type: "url", placeholder: "https://crm.internal/mcp" }),
    headers: h("textarea", { name: "server-headers", rows: "2", placeholder: "Authorization: Bearer ..." }),
    timeout: h("input", { name: "server-timeout", type: "number", min: "0.1", step: "0.1", placeholder: "10" }),
  };
  const serverLabels = { name: "Server name (its tools' prefix)", url: "MCP endpoint", headers: "Headers (one 'Name: value' a line; never shown again)", timeout: "Timeout (s)" };
  const serverForm = h("form", { "aria-label": "Register a tool server" },
    h("div", { class: "row" }, ...Object.entries(serverInputs).map(([key, input]) => field(serverLabels[key], input))),
    h("p", {}, h("button", { type: "submit", text: "Register server" })));
  serverForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    let body;
    try {
      body = toolServerBody(Object.fromEntries(Object.entries(serverInputs).map(([key, input]) => [key, input.value])));
    } catch (error) { show(errors, error); return; }
    if (!window.confirm(`Register the tool server '${body.name}' at ${body.url}?`)) return;
    try {
      await api("/admin/tool-servers", { method: "POST", json: body });
      serverForm.reset();
      show(errors, null);
      await refreshServers();
    } catch (error) { show(errors, error); }
  });

  async function refreshServers() {
    const { tool_servers: servers } = await api("/admin/tool-servers");
    serversTable.replaceChildren(
      h("thead", {}, h("tr", {}, ...["Server", "Endpoint", "Headers", "Timeout", ""].map((text) => h("th", { text })))),
      h("tbody", {}, ...servers.map((server) => h("tr", {}, h("td", { text: server.name }), h("td", { text: server.url }),
        h("td", { text: server.header_names.join(", ") || "none" }), h("td", { text: `${server.timeout_seconds} s` }),
        h("td", {}, h("button", { type: "button", class: "danger", text: "Remove", "aria-label": `Remove tool server ${server.name}`, onclick: async () => {
          if (!window.confirm(`Remove the tool server '${server.name}'? Its tools leave /mcp for every tenant.`)) return;
          try { await api(`/admin/tool-servers/${encodeURIComponent(server.name)}`, { method: "DELETE" }); show(errors, null); await refreshServers(); }
          catch (error) { show(errors, error); }
        } }))))));
  }

  async function refresh() {
    const { tenants } = await api("/admin/tenants");
    tenantsTable.replaceChildren(
      h("thead", {}, h("tr", {}, ...["Tenant", "Name", "Limits", "Budget", ""].map((text) => h("th", { text })))),
      h("tbody", {}, ...tenants.map((tenant) => h("tr", {}, h("td", { text: tenant.id }), h("td", { text: tenant.name }),
        h("td", { text: limitsText(tenant) }),
        h("td", { text: tenant.budget_usd === null ? "none" : `$${tenant.budget_usd} / ${tenant.budget_period}` }),
        h("td", {}, h("button", { type: "button", class: "quiet", text: "Manage", "aria-label": `Manage tenant ${tenant.id}`, onclick: () => showKeys(tenant).catch((error) => show(errors, error)) }))))));
  }
  draw("Admin", errors, h("h2", { text: "Tenants" }), tenantsTable, h("h2", { text: "New tenant" }), tenantForm(null), created, keysSection,
    h("h2", { text: "Shared tool servers (/mcp)" }), serversTable, serverForm);
  await Promise.all([refresh(), refreshServers()]);
}
