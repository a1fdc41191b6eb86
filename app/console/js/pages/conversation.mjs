// A conversation: the use case's kept sessions (new, rename, delete) and streamed replies
// with a stop button; the session's history comes from /<name>/sessions and /<name>/history.

import { api, jsonPost } from "../api.mjs";
import { errorBox, field, h, modelPickers, renderMarkdown, show } from "../dom.mjs";
import { title } from "../workspaces.mjs";
import { streamEvents } from "../sse.mjs";

export function newSessionId(now = new Date()) {
  return `chat-${now.toISOString().replace(/[^0-9]/g, "").slice(0, 14)}`;
}

export async function conversationPage(draw, me, useCase) {
  const base = `/${useCase.name}`;
  const list = h("ul");
  const messages = h("div", { class: "messages", role: "log", "aria-live": "polite", "aria-label": "Conversation" });
  const input = h("textarea", { name: "message", rows: "3" });
  const send = h("button", { type: "submit", text: "Send" });
  const stop = h("button", { type: "button", class: "danger", text: "Stop", disabled: true });
  const errors = errorBox();
  const pickers = modelPickers(me);
  let current = null;
  let controller = null;

  function bubble(kind, text) {
    const body = h("div", { class: "body" });
    const node = h("div", { class: `message ${kind}` },
      h("div", { class: "who-said", text: kind === "human" ? "You" : "Assistant" }), body);
    renderMarkdown(body, text);
    messages.append(node);
    messages.scrollTop = messages.scrollHeight;
    return body;
  }

  async function refreshSessions() {
    const { sessions } = await api(`${base}/sessions`);
    list.replaceChildren(...sessions.map((id) => h("li", {},
      h("button", { type: "button", class: "quiet", "aria-current": id === current ? "true" : "false",
        text: id, onclick: () => open(id) }))));
  }

  async function open(id) {
    current = id;
    messages.replaceChildren();
    show(errors, null);
    if (id) {
      try {
        const history = await api(`${base}/history?session_id=${encodeURIComponent(id)}`);
        for (const message of history.messages) bubble(message.type === "human" ? "human" : "ai", message.data.content);
      } catch (error) { show(errors, error); }
    }
    await refreshSessions();
  }

  const form = h("form", { "aria-label": "Send a message" }, field("Message", input),
    h("div", { class: "row" }, send, stop), pickers.node);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    current ||= newSessionId();
    input.value = "";
    bubble("human", text);
    const reply = bubble("ai", "");
    let answer = "";
    controller = new AbortController();
    send.disabled = true; stop.disabled = false; show(errors, null);
    const body = { input: { messages: [{ type: "human", content: text }] },
      config: { configurable: { session_id: current, ...pickers.configurable() } } };
    try {
      await streamEvents(`${base}/stream`, jsonPost(body), (name, data) => {
        if (name === "data") { answer += data; renderMarkdown(reply, answer); messages.scrollTop = messages.scrollHeight; }
      }, controller.signal);
    } catch (error) {
      if (error.name === "AbortError") reply.append(h("p", { class: "note", text: "(stopped)" }));
      else show(errors, error);
    } finally {
      send.disabled = false; stop.disabled = true; controller = null;
      await refreshSessions();
    }
  });
  stop.addEventListener("click", () => controller?.abort());
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); form.requestSubmit(); }
  });

  const newChat = h("button", { type: "button", text: "New chat", onclick: () => open(null) });
  const rename = h("button", { type: "button", class: "quiet", text: "Rename", onclick: async () => {
    if (!current) return;
    const to = window.prompt("New name for this chat", current);
    if (!to || to === current) return;
    try { await api(`${base}/sessions/${encodeURIComponent(current)}/rename`, { method: "POST", json: { to } }); await open(to); }
    catch (error) { show(errors, error); }
  } });
  const remove = h("button", { type: "button", class: "danger", text: "Delete", onclick: async () => {
    if (!current || !window.confirm(`Delete the chat '${current}' and its history?`)) return;
    try { await api(`${base}/history?session_id=${encodeURIComponent(current)}`, { method: "DELETE" }); await open(null); }
    catch (error) { show(errors, error); }
  } });
  draw(title(useCase.name), h("div", { class: "conversation" },
    h("section", { class: "sessions", "aria-label": "Chats" }, h("div", { class: "row" }, newChat, rename, remove), list),
    h("section", { "aria-label": "Conversation" }, messages, form, errors)));
  const first = (await api(`${base}/sessions`)).sessions[0] || null;
  await open(first);
}
