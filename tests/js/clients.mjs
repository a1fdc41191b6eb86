// One scenario of a JavaScript client against a running platform, its outcome printed as JSON.
// Usage: node clients.mjs <scenario>, with GENAI_URL and GENAI_KEY in the environment.
import { RemoteRunnable } from "@langchain/core/runnables/remote";
import OpenAI from "openai";

const url = process.env.GENAI_URL;
const key = process.env.GENAI_KEY;
const fast = { configurable: { temperature: 0, max_tokens: 24 } };
const remote = (route) =>
  new RemoteRunnable({
    url: `${url}/${route}`,
    options: { timeout: 120000, headers: { Authorization: `Bearer ${key}` } },
  });
const sdk = () => new OpenAI({ baseURL: `${url}/v1`, apiKey: key });

const scenarios = {
  async "openai-stream"() {
    const stream = await sdk().chat.completions.create({
      model: "local",
      messages: [{ role: "user", content: "Say hello." }],
      max_tokens: 16,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let usage = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? "";
      usage = chunk.usage ?? usage;
    }
    return { text, usage };
  },
  async "openai-embed"() {
    const answer = await sdk().embeddings.create({ model: "local-embed", input: ["a", "b"] });
    return { count: answer.data.length, dimensions: answer.data[0].embedding.length };
  },
  async "openai-error"() {
    try {
      await sdk().chat.completions.create({ model: "no-such-model", messages: [{ role: "user", content: "Hi" }] });
      return { error: null };
    } catch (error) {
      return { status: error.status, param: error.param ?? error.error?.param ?? null };
    }
  },
  async "remote-stream"() {
    const chunks = [];
    for await (const chunk of await remote("complete").stream({ text: "Once upon a time" }, fast)) {
      chunks.push(chunk);
    }
    return { chunks };
  },
  async "remote-progress"() {
    const part = "The council met and planted trees. ".repeat(30);
    const text = [0, 1, 2, 3].map((n) => `Part ${n}. ${part}`).join("\n\n");
    const progress = [];
    let summary = "";
    const events = remote("summarize").streamEvents({ text }, { ...fast, version: "v2" });
    for await (const event of events) {
      if (event.event === "on_custom_event" && event.name === "progress") {
        progress.push(event.data);
      }
      if (event.event === "on_chain_end" && typeof event.data?.output === "string") {
        summary = event.data.output;
      }
    }
    return { progress, summary };
  },
  async "remote-error"() {
    try {
      await remote("generate").invoke({ prompt: "" });
      return { error: null };
    } catch (error) {
      return { error: String(error.message ?? error) };
    }
  },
};

const outcome = await scenarios[process.argv[2]]();
process.stdout.write(JSON.stringify(outcome));
