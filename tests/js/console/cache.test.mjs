// What the Usage page shows of the answer cache: its hits, hit ratio and savings, per alias.
import assert from "node:assert/strict";
import { test } from "node:test";

import { cacheFigures, cacheRows } from "../../../app/console/js/cache.mjs";

const cache = (fields) => ({ cacheable: 4, hits: 2, coalesced: 1, misses: 1, hit_ratio: 0.75, saved_usd: 0.0125, ...fields });

test("the cache's figures count coalesced requests as answered, and show the ratio in percent", () => {
  assert.deepEqual(cacheFigures(cache({})), [["Answered by the cache", "3"], ["Hit ratio", "75.0%"], ["Saved (USD)", "0.012500"]]);
});

test("a tenant with nothing cacheable has no ratio rather than 0%", () => {
  assert.deepEqual(cacheFigures(cache({ cacheable: 0, hits: 0, coalesced: 0, hit_ratio: null, saved_usd: 0 }))[1],
    ["Hit ratio", "none cacheable"]);
});

test("each alias is a row of its own", () => {
  const rows = cacheRows([{ tenant_id: "acme", model: "gpt", cache: cache({}) }, { tenant_id: "acme", model: "local", cache: cache({ hits: 0, coalesced: 0, hit_ratio: 0 }) }]);
  assert.deepEqual(rows, [["gpt", "3", "75.0%", "0.012500"], ["local", "0", "0.0%", "0.012500"]]);
});
