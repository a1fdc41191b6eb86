// Small DOM helpers every page uses. marked and DOMPurify are the vendored browser globals.

export function h(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

export function field(label, control) {
  const id = control.id || `f-${Math.random().toString(36).slice(2)}`;
  control.id = id;
  return h("div", {}, h("label", { for: id, text: label }), control);
}

export function errorBox() {
  return h("p", { class: "error", role: "alert", "aria-live": "assertive" });
}

export function show(box, error) {
  box.textContent = error ? error.message || String(error) : "";
}

export function renderMarkdown(target, text) {
  target.innerHTML = DOMPurify.sanitize(marked.parse(text));
  for (const block of target.querySelectorAll("pre")) {
    const copy = h("button", { type: "button", class: "copy quiet", text: "Copy" });
    copy.addEventListener("click", async () => {
      await navigator.clipboard.writeText(block.querySelector("code")?.textContent || block.textContent);
      copy.textContent = "Copied";
    });
    block.append(copy);
  }
}

// The page's content under its title, replacing the page before it.
// The draws of the latest navigation only: `next()` starts one and gives its draw, and a draw
// of a navigation the user has since left does nothing (a page that loads before it draws must
// not replace the one opened meanwhile).
export function latestNavigation(draw = page) {
  let latest = 0;
  return {
    next() {
      const mine = ++latest;
      return (...args) => { if (mine === latest) draw(...args); };
    },
  };
}

export function page(title, ...children) {
  const main = document.getElementById("main");
  main.replaceChildren(h("h1", { text: title }), ...children);
  document.title = `${title} · genai-platform`;
  main.focus();
}

// The model and temperature a use case runs with, from the aliases the tenant may chat with.
export function modelPickers(me) {
  const model = h("select", { name: "model" },
    ...me.chat_models.map((alias) => h("option", { value: alias, selected: alias === me.default_model, text: alias })));
  const temperature = h("input", { type: "number", name: "temperature", min: "0", max: "2", step: "0.1", value: "0.7" });
  const node = h("div", { class: "row" }, field("Model", model), field("Temperature", temperature));
  return { node, configurable: () => ({ model: model.value, temperature: Number(temperature.value) }) };
}
