// What a use case's run reports as it goes: LangServe's stream_events for a typed input, or
// the named events of /<name>/file for an uploaded document, as one kind of step each.

// The step one event of /<name>/stream_events is, or null: a `progress` custom event, or an
// output chunk of the root run.
export function fromRunEvent(name, data) {
  if (name !== "data") return { name, data };
  if (data.event === "on_custom_event" && data.name === "progress") return { name: "progress", data: data.data };
  if (data.event === "on_chain_stream" && data.parent_ids.length === 0) return { name: "data", data: data.data.chunk };
  return null;
}

// What the status line says after a step (undefined: unchanged).
export function statusOf({ name, data }) {
  if (name === "document") return `Read ${data.filename}${data.pages ? `: ${data.pages} pages` : ""}, ${data.characters} characters.`;
  if (name === "progress") return `Part ${data.part} of ${data.of}${data.round > 1 ? ` (round ${data.round})` : ""}`;
  if (name === "end") return "Done.";
  return undefined;
}
