// The console's pages come from /me: no use case is known to it by name.
import assert from "node:assert/strict";
import { test } from "node:test";

import { navigation, resolve } from "../../../app/console/js/workspaces.mjs";

const useCases = [
  { name: "chat", workspace: "conversation", document_field: null },
  { name: "minutes", workspace: "document", document_field: "transcript" },
  { name: "translate", workspace: "form", document_field: null },
];
const me = (admin, cases = useCases) => ({ key: { admin }, use_cases: cases });

test("every use case /me lists gets a link to the page its kind names, then usage and batches", () => {
  const links = navigation(me(false)).map(({ route, label, page }) => [route, label, page]);
  assert.deepEqual(links, [
    ["chat", "Chat", "conversation"],
    ["minutes", "Minutes", "document"],
    ["translate", "Translate", "form"],
    ["usage", "Usage", "usage"],
    ["batches", "Batches", "batches"],
  ]);
});

test("only an admin key gets the admin page", () => {
  assert.equal(navigation(me(true)).at(-1).route, "admin");
  assert.equal(resolve("#/admin", me(false)), null);
  assert.equal(resolve("#/admin", me(true)).page, "admin");
});

test("a hash names its page; none names the first; an unknown one names nothing", () => {
  assert.equal(resolve("#/minutes", me(false)).useCase.document_field, "transcript");
  assert.equal(resolve("", me(false)).route, "chat");
  assert.equal(resolve("#/", me(false)).route, "chat");
  assert.equal(resolve("#/summarize", me(false)), null);
  assert.equal(resolve("", me(false, [])).route, "usage", "a tenant with no use case sees its usage");
});
