// The admin page's tool server form: what it sends.
import assert from "node:assert/strict";
import { test } from "node:test";

import { toolServerBody } from "../../../app/console/js/toolservers.mjs";
import { tenantBody } from "../../../app/console/js/tenants.mjs";

test("headers are one 'Name: value' a line, values keep their colons, blank lines are skipped", () => {
  const body = toolServerBody({
    name: " crm ", url: "https://crm.internal/mcp ",
    headers: "Authorization: Bearer a:b\n\n  X-Team: sales  \n", timeout: "5",
  });
  assert.deepEqual(body, {
    name: "crm", url: "https://crm.internal/mcp", timeout_seconds: 5,
    headers: { Authorization: "Bearer a:b", "X-Team": "sales" },
  });
});

test("no timeout leaves the server's default; a line without a name throws, naming it", () => {
  assert.deepEqual(toolServerBody({ name: "hr", url: "http://hr/mcp", headers: "", timeout: "" }),
    { name: "hr", url: "http://hr/mcp", headers: {} });
  assert.throws(() => toolServerBody({ name: "hr", url: "u", headers: "just a token", timeout: "" }),
    /Headers: "just a token" is not "Name: value"/);
  assert.throws(() => toolServerBody({ name: "hr", url: "u", headers: ": x", timeout: "" }), /not "Name: value"/);
});

test("a tenant's shared tools are a list and its tool_rpm a number", () => {
  assert.deepEqual(tenantBody({ allowed_tools: "crm.*, hr.lookup", tool_rpm: "12" }),
    { allowed_tools: ["crm.*", "hr.lookup"], tool_rpm: 12 });
});
