// Server-Sent Events read from a POST's answer (EventSource can only GET).

import { ApiError, failureOf } from "./api.mjs";

// Splits a stream's text into events as it arrives: push() returns the events it completed.
// Lines may end in CRLF (sse-starlette's), CR or LF; a chunk may end between a CR and its LF,
// so a last CR waits for the next chunk before it is read as a line's end.
export class EventParser {
  #buffer = "";

  push(text) {
    const pending = this.#buffer + text;
    const held = pending.endsWith("\r") ? "\r" : "";
    this.#buffer = pending.slice(0, pending.length - held.length).replace(/\r\n?/g, "\n");
    const events = [];
    let end;
    while ((end = this.#buffer.indexOf("\n\n")) >= 0) {
      const block = this.#buffer.slice(0, end);
      this.#buffer = this.#buffer.slice(end + 2);
      const event = parseBlock(block);
      if (event) events.push(event);
    }
    this.#buffer += held;
    return events;
  }
}

// One event's lines: its name ("message" unless named) and its data, parsed as JSON.
function parseBlock(block) {
  let name = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (line.startsWith("event:")) name = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
  }
  if (!data.length && name === "message") return null; // a comment or a keep-alive
  return { name, data: data.length ? JSON.parse(data.join("\n")) : null };
}

// POSTs and calls onEvent(name, data) for each event; rejects on an `error` event.
export async function streamEvents(path, init, onEvent, signal) {
  const response = await fetch(path, { credentials: "same-origin", method: "POST", signal, ...init });
  if (!response.ok) throw await failureOf(response);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  const parser = new EventParser();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    for (const { name, data } of parser.push(value)) {
      if (name === "error") throw new ApiError(data?.message || "The stream failed.");
      onEvent(name, data);
    }
  }
}
