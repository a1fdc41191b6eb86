// The admin page's tenant form: what it sends.
import assert from "node:assert/strict";
import { test } from "node:test";

import { keyBody, limitsText, policyText, tenantBody } from "../../../app/console/js/tenants.mjs";

test("limits and the budget are numbers, allow-lists are lists, empty fields are left out", () => {
  const body = tenantBody({
    id: "acme", name: "", rpm: "30", tpm: "", ipm: "", max_concurrent: "2", budget_usd: "12.5",
    budget_period: "day", allowed_routes: " chat, generate ,,", allowed_models: "",
  });
  assert.deepEqual(body, {
    id: "acme", rpm: 30, max_concurrent: 2, budget_usd: 12.5, budget_period: "day",
    allowed_routes: ["chat", "generate"],
  });
});

test("a tenant's limits in a few words", () => {
  assert.equal(limitsText({ rpm: 30, tpm: null, ipm: 0, max_concurrent: 2 }), "rpm 30, max_concurrent 2");
  assert.equal(limitsText({}), "none");
});

test("a guardrail policy is sent as JSON, null clears it, and text that is not JSON names the field", () => {
  assert.deepEqual(tenantBody({ guardrails: '{"request": {"email": "mask"}}' }), { guardrails: { request: { email: "mask" } } });
  assert.deepEqual(tenantBody({ guardrails: "null" }), { guardrails: null });
  assert.throws(() => tenantBody({ guardrails: "{request: mask" }), /Guardrail policy.*not JSON/);
  assert.equal(policyText(null), "");
  assert.equal(policyText({ request: { secret: "block" } }), '{\n  "request": {\n    "secret": "block"\n  }\n}');
});

test("a key's body has its own policy only when one is written", () => {
  assert.deepEqual(keyBody("ci", false, "  "), { name: "ci", admin: false });
  assert.deepEqual(keyBody("ci", true, '{"request": {"ip": "redact"}}'),
    { name: "ci", admin: true, guardrails: { request: { ip: "redact" } } });
  assert.throws(() => keyBody("ci", false, "{oops"), /not JSON/);
});
