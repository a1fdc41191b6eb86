// The router's draws: only the latest navigation's page is drawn.
import assert from "node:assert/strict";
import { test } from "node:test";

import { latestNavigation } from "../../../app/console/js/dom.mjs";

test("a page that draws after the user moved on draws nothing; the latest one draws", () => {
  const drawn = [];
  const navigations = latestNavigation((title) => drawn.push(title));
  const generate = navigations.next(); // still loading its schema
  const chat = navigations.next(); // the user clicked Chat meanwhile
  chat("Chat");
  generate("Generate");
  assert.deepEqual(drawn, ["Chat"]);
});

test("the latest navigation may draw again (an error page after its first draw)", () => {
  const drawn = [];
  const draw = latestNavigation((title) => drawn.push(title)).next();
  draw("Usage");
  draw("Error");
  assert.deepEqual(drawn, ["Usage", "Error"]);
});
