// Sign in: a key checked against /me, then posted to /signin for the session cookie.

import { failureOf } from "../api.mjs";
import { errorBox, field, h, show } from "../dom.mjs";

export function signInPage(draw) {
  const key = h("input", { type: "password", name: "key", autocomplete: "off", required: true });
  const form = h("form", { "aria-label": "Sign in" },
    h("p", {}, "Sign in with an API key. The local admin key of ", h("code", { text: "make run" }),
      " is in its data folder, ", h("code", { text: "admin-key" }), " (", h("code", { text: "var/admin-key" }),
      " unless GENAI_DATA_DIR says otherwise)."),
    field("API key", key), h("p", {}, h("button", { type: "submit", text: "Sign in" })));
  const errors = errorBox();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = key.value.trim();
    // Checked first, so a wrong key is an error here rather than a page of JSON.
    const check = await fetch("/me", { headers: { Authorization: `Bearer ${value}` } });
    if (!check.ok) return show(errors, await failureOf(check));
    const signedIn = await fetch("/signin", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ key: value }),
    });
    if (!signedIn.ok) return show(errors, await failureOf(signedIn));
    window.location.assign("/");
  });
  draw("Sign in", form, errors);
  key.focus();
}
