// The admin page's tenant form: its fields, and the body a filled form sends to
// POST /admin/tenants or PATCH /admin/tenants/<id>. Pure: the page draws the inputs.

export const LIMITS = Object.freeze(["rpm", "tpm", "ipm", "max_concurrent"]);

export const LABELS = Object.freeze({
  id: "Tenant id", name: "Name", rpm: "Requests per minute", tpm: "Tokens per minute",
  ipm: "Images per minute", max_concurrent: "Concurrent requests", budget_usd: "Budget (USD)",
  budget_period: "Budget period", allowed_routes: "Allowed routes (comma-separated)",
  allowed_models: "Allowed models (comma-separated)", cache: "Answer cache",
  guardrails: "Guardrail policy (JSON; null: none)",
  allowed_tools: "Shared tools (server.tool or server.*, comma-separated)",
  tool_rpm: "Shared tool calls per minute",
});

// The answer cache modes a tenant may set ("": as its aliases say, or left as it is).
export const CACHE_MODES = Object.freeze(["", "exact", "semantic", "off"]);

// `values` maps each field to its input's text; an empty field is left out (unchanged). A
// policy that is not JSON throws, naming the field, before anything is sent.
export function tenantBody(values) {
  const body = {};
  for (const [key, value] of Object.entries(values)) {
    if (value === "") continue;
    if (LIMITS.includes(key) || key === "budget_usd" || key === "tool_rpm") body[key] = Number(value);
    else if (key.startsWith("allowed_")) body[key] = value.split(",").map((part) => part.trim()).filter(Boolean);
    else if (key === "guardrails") body[key] = policyOf(value);
    else body[key] = value;
  }
  return body;
}

function policyOf(text) {
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${LABELS.guardrails}: not JSON; write it as {"request": {"email": "mask"}}`);
  }
}

// The body of POST /admin/tenants/<id>/keys: a name, whether it is an admin key, and its own
// guardrail policy if one is written (JSON; over its tenant's, category by category).
export function keyBody(name, admin, policy) {
  const body = { name, admin };
  if (policy.trim() !== "") body.guardrails = policyOf(policy);
  return body;
}

// A policy as its field shows it: indented JSON, or empty when the tenant has none.
export function policyText(policy) {
  return policy ? JSON.stringify(policy, null, 2) : "";
}

// A tenant's limits in a few words, for the tenants' table.
export function limitsText(tenant) {
  return LIMITS.filter((key) => tenant[key]).map((key) => `${key} ${tenant[key]}`).join(", ") || "none";
}
