// The console's API calls: what they send, and how a failure reads.
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";

import { ApiError, api, jsonPost } from "../../../app/console/js/api.mjs";

const realFetch = globalThis.fetch;
afterEach(() => { globalThis.fetch = realFetch; });

function answering(response) {
  const calls = [];
  globalThis.fetch = async (path, init) => { calls.push({ path, init }); return response(); };
  return calls;
}

test("a JSON body is sent as JSON with the session cookie, and the answer parsed", async () => {
  const calls = answering(() => Response.json({ id: "acme" }, { status: 201 }));
  assert.deepEqual(await api("/admin/tenants", { method: "POST", json: { id: "acme" } }), { id: "acme" });
  assert.equal(calls.length, 1);
  const { path, init } = calls[0];
  assert.equal(path, "/admin/tenants");
  assert.equal(init.method, "POST");
  assert.equal(init.credentials, "same-origin");
  assert.equal(init.headers["Content-Type"], "application/json");
  assert.equal(init.body, '{"id":"acme"}');
  assert.equal("json" in init, false, "the option is not passed on to fetch");
});

test("a 204 answers null", async () => {
  answering(() => new Response(null, { status: 204 }));
  assert.equal(await api("/signout", { method: "POST" }), null);
});

test("a failure rejects with the platform's own message", async () => {
  answering(() => Response.json({ error: { message: "Tenant 'local' exists already." } }, { status: 409 }));
  await assert.rejects(api("/admin/tenants"), (error) =>
    error instanceof ApiError && error.message === "Tenant 'local' exists already.");
});

test("a failure without a JSON body rejects with its status", async () => {
  answering(() => new Response("<html>bad gateway</html>", { status: 502, statusText: "Bad Gateway" }));
  await assert.rejects(api("/me"), { name: "Error", message: "502 Bad Gateway" });
});

test("jsonPost is a JSON body with its content type", () => {
  assert.deepEqual(jsonPost({ a: 1 }), { headers: { "Content-Type": "application/json" }, body: '{"a":1}' });
});
