// A use case's form, made from its input schema, and the input it sends.
import assert from "node:assert/strict";
import { test } from "node:test";

import { fieldsOf, inputOf, shownOutput, withChunk } from "../../../app/console/js/forms.mjs";

// The shapes pydantic gives LangServe's input schemas: plain, optional (anyOf null), enums.
const schema = {
  properties: {
    text: { title: "Text", type: "string" },
    style: { title: "Style", enum: ["paragraph", "bullets"], default: "paragraph" },
    max_words: { title: "Max Words", anyOf: [{ type: "integer" }, { type: "null" }], default: null },
    ratio: { title: "Ratio", type: "number" },
    tone: { anyOf: [{ enum: ["formal", "plain"], type: "string" }, { type: "null" }] },
  },
  required: ["text"],
};

test("each property is a field of its kind, labelled by its title, optional ones said so", () => {
  const fields = fieldsOf(schema).map(({ key, label, kind, choices, initial }) => [key, label, kind, choices, initial]);
  assert.deepEqual(fields, [
    ["text", "Text", "text", null, ""],
    ["style", "Style (optional)", "choice", ["paragraph", "bullets"], "paragraph"],
    ["max_words", "Max Words (optional)", "number", null, ""],
    ["ratio", "Ratio (optional)", "number", null, ""],
    ["tone", "tone (optional)", "choice", ["formal", "plain"], "formal"],
  ]);
});

test("the input leaves empty fields out and sends numbers as numbers", () => {
  const fields = fieldsOf(schema);
  const input = inputOf(fields, { text: "Hi", style: "bullets", max_words: "40", ratio: "", tone: "" });
  assert.deepEqual(input, { text: "Hi", style: "bullets", max_words: 40 });
});

test("a schema without properties is a form without fields", () => {
  assert.deepEqual(fieldsOf({}), []);
});

test("text chunks add up; object chunks add up key by key, their text values growing", () => {
  assert.equal(withChunk(withChunk("", "Hel"), "lo"), "Hello");
  // /code's stream: its code in pieces, then the parser's verdict beside it (it was replaced).
  let output = "";
  for (const chunk of [{ code: "def f():" }, { code: "\n    return 1" }, { language: "python", valid: true, attempts: 1 }]) {
    output = withChunk(output, chunk);
  }
  assert.deepEqual(output, { code: "def f():\n    return 1", language: "python", valid: true, attempts: 1 });
  assert.deepEqual(withChunk({ valid: false, diagnostics: ["x"] }, { valid: true, diagnostics: [] }), { valid: true, diagnostics: [] });
  assert.deepEqual(withChunk("text", [1, 2]), [1, 2]);
  assert.equal(shownOutput("Hello"), "Hello");
  assert.equal(shownOutput({ answer: 42 }), '{\n  "answer": 42\n}');
});
