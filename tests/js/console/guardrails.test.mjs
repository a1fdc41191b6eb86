// What the Usage page shows of the guardrails: a row per direction, category and action.
import assert from "node:assert/strict";
import { test } from "node:test";

import { guardrailRows } from "../../../app/console/js/guardrails.mjs";

test("each direction, category and action is a row, requests first", () => {
  const rows = guardrailRows({ "response.secret.redact": 2, "request.email.mask": 3, "request.card.block": 1 });
  assert.deepEqual(rows, [["request", "card", "block", "1"], ["request", "email", "mask", "3"], ["response", "secret", "redact", "2"]]);
});

test("no counts, no rows", () => {
  assert.deepEqual(guardrailRows({}), []);
  assert.deepEqual(guardrailRows(undefined), []);
});
