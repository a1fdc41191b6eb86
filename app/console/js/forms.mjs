// A use case's input form, made from its input schema (GET /<name>/input_schema), and the
// input a filled form sends. Pure: the pages draw the controls these describe.

// [{ key, label, required, kind: "choice" | "number" | "text", choices, initial }]
export function fieldsOf(schema) {
  const required = new Set(schema.required || []);
  return Object.entries(schema.properties || {}).map(([key, spec]) => {
    const choices = spec.enum || spec.anyOf?.find((one) => one.enum)?.enum || null;
    const numeric = [spec.type, ...(spec.anyOf || []).map((one) => one.type)]
      .some((type) => type === "integer" || type === "number");
    return {
      key,
      label: `${spec.title || key}${required.has(key) ? "" : " (optional)"}`,
      required: required.has(key),
      kind: choices ? "choice" : numeric ? "number" : "text",
      choices,
      initial: spec.default ?? (choices ? choices[0] : ""),
    };
  });
}

// The input of a filled form: `values` maps each field's key to its control's text; an
// empty optional field is left out, a number field sent as a number.
export function inputOf(fields, values) {
  const input = {};
  for (const { key, kind } of fields) {
    const value = values[key] ?? "";
    if (value === "") continue;
    input[key] = kind === "number" ? Number(value) : value;
  }
  return input;
}

// The output so far after one `data` event of a stream. Text chunks add up. Object chunks add
// up key by key, as LangChain adds a streamed dict's chunks: a text value grows, any other
// value is replaced (/code streams {"code": ...} pieces, then {"language", "valid", ...}).
// Anything else (a list, a number) replaces what came before.
export function withChunk(output, chunk) {
  if (typeof chunk === "string") return (typeof output === "string" ? output : "") + chunk;
  if (chunk === null || typeof chunk !== "object" || Array.isArray(chunk)) return chunk;
  const merged = typeof output === "object" && output !== null && !Array.isArray(output) ? { ...output } : {};
  for (const [key, value] of Object.entries(chunk)) {
    merged[key] = typeof value === "string" && typeof merged[key] === "string" ? merged[key] + value : value;
  }
  return merged;
}

// An output as the page shows it: text as it is, anything else as indented JSON.
export function shownOutput(output) {
  return typeof output === "string" ? output : JSON.stringify(output, null, 2);
}
