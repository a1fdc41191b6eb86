// Reading Server-Sent Events from a POST: events split anywhere, keep-alives, errors.
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";

import { ApiError } from "../../../app/console/js/api.mjs";
import { EventParser, streamEvents } from "../../../app/console/js/sse.mjs";

const realFetch = globalThis.fetch;
afterEach(() => { globalThis.fetch = realFetch; });

function streaming(...chunks) {
  const encoder = new TextEncoder();
  const body = new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      controller.close();
    },
  });
  globalThis.fetch = async () => new Response(body, { headers: { "Content-Type": "text/event-stream" } });
}

test("an event split across chunks arrives once, whole", () => {
  const parser = new EventParser();
  assert.deepEqual(parser.push('event: data\ndata: "Hel'), []);
  assert.deepEqual(parser.push('lo"\n\nevent: end\n\n'), [{ name: "data", data: "Hello" }, { name: "end", data: null }]);
});

test("CRLF line ends, multi-line data and keep-alive comments", () => {
  const parser = new EventParser();
  const events = parser.push(': ping\r\n\r\nevent: metadata\r\ndata: {"run_id":\r\ndata: "r1"}\r\n\r\n');
  assert.deepEqual(events, [{ name: "metadata", data: { run_id: "r1" } }]);
});

test("a CRLF split between two chunks ends one line, not the event", () => {
  const parser = new EventParser();
  assert.deepEqual(parser.push("event: data\r\ndata: [1,\r"), []);
  assert.deepEqual(parser.push("\ndata: 2]\r"), []);
  assert.deepEqual(parser.push("\n\r"), []);
  assert.deepEqual(parser.push("\n"), [{ name: "data", data: [1, 2] }]);
});

test("streamEvents hands over each event in order", async () => {
  streaming('event: data\ndata: "a"\n\nevent: da', 'ta\ndata: "b"\n\n', "event: end\n\n");
  const seen = [];
  await streamEvents("/chat/stream", {}, (name, data) => seen.push([name, data]));
  assert.deepEqual(seen, [["data", "a"], ["data", "b"], ["end", null]]);
});

test("an error event rejects with its message, after the events before it", async () => {
  streaming('event: data\ndata: "a"\n\nevent: error\ndata: {"message": "The model is unavailable."}\n\n');
  const seen = [];
  await assert.rejects(streamEvents("/chat/stream", {}, (name) => seen.push(name)),
    (error) => error instanceof ApiError && error.message === "The model is unavailable.");
  assert.deepEqual(seen, ["data"]);
});

test("a refused stream rejects with the platform's message", async () => {
  globalThis.fetch = async () => Response.json({ error: { message: "Rate limit reached." } }, { status: 429 });
  await assert.rejects(streamEvents("/chat/stream", {}, () => {}), { message: "Rate limit reached." });
});
