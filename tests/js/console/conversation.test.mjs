// A new conversation's session id.
import assert from "node:assert/strict";
import { test } from "node:test";

import { newSessionId } from "../../../app/console/js/pages/conversation.mjs";

test("a new session is named by the minute and second it began", () => {
  assert.equal(newSessionId(new Date("2026-12-02T20:31:07.250Z")), "chat-20261202203107");
});
