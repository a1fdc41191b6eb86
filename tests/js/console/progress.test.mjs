// What a document use case's run shows as it goes, from either of its two streams.
import assert from "node:assert/strict";
import { test } from "node:test";

import { fromRunEvent, statusOf } from "../../../app/console/js/progress.mjs";
import { uploadForm } from "../../../app/console/js/pages/document.mjs";

test("stream_events: progress custom events and the root run's chunks are steps", () => {
  const progress = { event: "on_custom_event", name: "progress", data: { part: 1, of: 3, round: 1 } };
  assert.deepEqual(fromRunEvent("data", progress), { name: "progress", data: { part: 1, of: 3, round: 1 } });
  const chunk = { event: "on_chain_stream", parent_ids: [], data: { chunk: "Sum" } };
  assert.deepEqual(fromRunEvent("data", chunk), { name: "data", data: "Sum" });
  const inner = { event: "on_chain_stream", parent_ids: ["r1"], data: { chunk: "part" } };
  assert.equal(fromRunEvent("data", inner), null, "an inner run's output is not the answer");
  assert.equal(fromRunEvent("data", { event: "on_llm_start", parent_ids: [] }), null);
  assert.deepEqual(fromRunEvent("end", null), { name: "end", data: null });
});

test("the status line says what was read, which part runs, and when it is done", () => {
  assert.equal(statusOf({ name: "document", data: { filename: "a.pdf", pages: 6, characters: 900 } }),
    "Read a.pdf: 6 pages, 900 characters.");
  assert.equal(statusOf({ name: "document", data: { filename: "a.txt", pages: null, characters: 5 } }),
    "Read a.txt, 5 characters.");
  assert.equal(statusOf({ name: "progress", data: { part: 2, of: 3, round: 1 } }), "Part 2 of 3");
  assert.equal(statusOf({ name: "progress", data: { part: 1, of: 2, round: 2 } }), "Part 1 of 2 (round 2)");
  assert.equal(statusOf({ name: "end", data: null }), "Done.");
  assert.equal(statusOf({ name: "data", data: "x" }), undefined);
});

test("an upload sends the file, the other fields and the model settings as form fields", () => {
  const file = new Blob(["minutes"], { type: "text/plain" });
  const { body } = uploadForm({ style: "bullets" }, { model: "local", temperature: 0 }, file);
  assert.deepEqual([...body.keys()], ["file", "style", "model", "temperature"]);
  assert.equal(body.get("temperature"), "0");
  assert.equal(body.get("file").size, 7);
});
