// The console: a workspace for every use case the tenant may use (what /me lists, each
// served by the page its kind names), its usage, and (admin keys) tenants and keys. It calls
// the platform's documented API only, with the session cookie.

import { api } from "./api.mjs";
import { h, latestNavigation, page } from "./dom.mjs";
import { adminPage } from "./pages/admin.mjs";
import { batchesPage } from "./pages/batches.mjs";
import { conversationPage } from "./pages/conversation.mjs";
import { documentPage } from "./pages/document.mjs";
import { formPage } from "./pages/form.mjs";
import { signInPage } from "./pages/signin.mjs";
import { usagePage } from "./pages/usage.mjs";
import { PAGES, navigation, resolve } from "./workspaces.mjs";

const DRAW = {
  [PAGES.conversation]: conversationPage,
  [PAGES.document]: documentPage,
  [PAGES.form]: formPage,
  [PAGES.usage]: usagePage,
  [PAGES.batches]: batchesPage,
  [PAGES.admin]: adminPage,
};

const navigations = latestNavigation();

async function route(me) {
  const draw = navigations.next();
  const link = resolve(window.location.hash, me);
  const nav = document.getElementById("nav");
  for (const a of nav.querySelectorAll("a")) a.setAttribute("aria-current", a.dataset.route === link?.route ? "page" : "false");
  try {
    if (link) await DRAW[link.page](draw, me, link.useCase);
    else draw("Not found", h("p", { text: `No page '${window.location.hash.replace(/^#\/?/, "")}'.` }));
  } catch (error) {
    draw("Error", h("p", { class: "error", role: "alert", text: error.message }));
  }
}

async function start() {
  let me;
  try {
    me = await api("/me");
  } catch {
    return signInPage(page);
  }
  const nav = document.getElementById("nav");
  nav.replaceChildren(...navigation(me).map(({ route: name, label }) => h("a", { href: `#/${name}`, "data-route": name, text: label })));
  nav.hidden = false;
  document.getElementById("who").textContent = `Tenant ${me.tenant.id}${me.key.admin ? " (admin)" : ""} · key ${me.key.name}`;
  const signout = document.getElementById("signout");
  signout.hidden = false;
  signout.addEventListener("click", async () => { await api("/signout", { method: "POST" }); window.location.assign("/"); });
  window.addEventListener("hashchange", () => route(me));
  await route(me);
}

start();
