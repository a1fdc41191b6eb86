// What the guardrails did for a tenant, as the Usage page shows it: pure, from the
// `guardrails` totals of GET /usage (`direction.category.action` -> how many times).

// One row per direction, category and action, requests first, then by category.
export function guardrailRows(counts) {
  return Object.entries(counts || {})
    .map(([key, times]) => [...key.split("."), String(times)])
    .sort((a, b) => a[0].localeCompare(b[0]) || a[1].localeCompare(b[1]) || a[2].localeCompare(b[2]));
}
