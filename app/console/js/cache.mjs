// What the answer cache did for a tenant, as the Usage page shows it: pure, from the totals
// and the per-alias groups of GET /usage?group_by=cache.

// The figures of one `cache` total: requests it answered, its hit ratio, the money it saved.
export function cacheFigures(cache) {
  const answered = cache.hits + cache.coalesced;
  const ratio = cache.hit_ratio === null ? "none cacheable" : `${(cache.hit_ratio * 100).toFixed(1)}%`;
  return [["Answered by the cache", String(answered)], ["Hit ratio", ratio],
    ["Saved (USD)", cache.saved_usd.toFixed(6)]];
}

// One table row per model alias: its name, then the figures above.
export function cacheRows(groups) {
  return groups.map((group) => [group.model ?? "", ...cacheFigures(group.cache).map(([, value]) => value)]);
}
