// What the console shows, read from /me: a workspace per use case the tenant may use (its
// kind says which page serves it), the usage and batches pages, and the admin page for admin
// keys.

export const PAGES = Object.freeze({
  conversation: "conversation",
  document: "document",
  form: "form",
  usage: "usage",
  batches: "batches",
  admin: "admin",
});

export function title(name) {
  return name ? name[0].toUpperCase() + name.slice(1) : name;
}

// The navigation: [{ route, label, page, useCase }], in /me's order of use cases.
export function navigation(me) {
  const links = me.use_cases.map((useCase) => ({
    route: useCase.name, label: title(useCase.name), page: useCase.workspace, useCase,
  }));
  links.push({ route: "usage", label: "Usage", page: PAGES.usage, useCase: null });
  links.push({ route: "batches", label: "Batches", page: PAGES.batches, useCase: null });
  if (me.key.admin) links.push({ route: "admin", label: "Admin", page: PAGES.admin, useCase: null });
  return links;
}

// The link a location's hash names (`#/<route>`), the first one for none, or null if unknown.
export function resolve(hash, me) {
  const links = navigation(me);
  const route = hash.replace(/^#\/?/, "");
  if (!route) return links[0];
  return links.find((link) => link.route === route) || null;
}
