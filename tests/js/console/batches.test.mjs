// What the Batches page shows of a batch: its progress, what may be done with it, its files.
import assert from "node:assert/strict";
import { test } from "node:test";

import { canCancel, countsText, errorsText, isLive, progressOf, resultFiles } from "../../../app/console/js/batches.mjs";

const batch = (status, counts, extra = {}) => ({
  id: "batch_1", status, request_counts: { total: 10, completed: 0, failed: 0, ...counts }, ...extra,
});

test("progress counts the lines settled, answered or failed, of all", () => {
  assert.deepEqual(progressOf(batch("in_progress", { completed: 3, failed: 1 })), { settled: 4, total: 10, percent: 40 });
  assert.deepEqual(progressOf(batch("failed", { total: 0 })), { settled: 0, total: 0, percent: 100 },
    "a batch that failed validation has no lines: nothing is left to do");
  assert.equal(countsText(batch("in_progress", { completed: 3 })), "3 of 10 done");
  assert.equal(countsText(batch("completed", { completed: 9, failed: 1 })), "9 of 10 done, 1 failed");
});

test("only a batch in progress can be cancelled; one still moving is refreshed", () => {
  assert.ok(canCancel(batch("in_progress")));
  for (const status of ["cancelling", "cancelled", "completed", "failed", "expired", "finalizing"]) {
    assert.ok(!canCancel(batch(status)), status);
  }
  assert.ok(isLive(batch("cancelling")) && isLive(batch("finalizing")));
  assert.ok(!isLive(batch("completed")) && !isLive(batch("expired")));
});

test("a batch's result files and the lines its errors name are shown", () => {
  assert.deepEqual(resultFiles(batch("completed", {}, { output_file_id: "file-o", error_file_id: null })),
    [["Output", "file-o", "batch_1_output.jsonl"]]);
  assert.equal(resultFiles(batch("in_progress")).length, 0);
  const failed = batch("failed", {}, { errors: { data: [{ line: 2, message: "Line 2 is not JSON." }, { line: null, message: "Empty." }] } });
  assert.equal(errorsText(failed), "line 2: Line 2 is not JSON.; Empty.");
});
