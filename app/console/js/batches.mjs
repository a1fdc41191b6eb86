// What the Batches page shows of a batch (/v1/batches' objects): how far it is, and what a
// user may do with it.

export const ENDPOINTS = Object.freeze(["/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/responses"]);

const LIVE = new Set(["validating", "in_progress", "finalizing", "cancelling"]);

// The lines settled (answered or failed) of all, and the share of them in whole percent.
export function progressOf(batch) {
  const { total, completed, failed } = batch.request_counts;
  const settled = completed + failed;
  return { settled, total, percent: total ? Math.floor((100 * settled) / total) : 100 };
}

export function isLive(batch) {
  return LIVE.has(batch.status);
}

export function canCancel(batch) {
  return batch.status === "in_progress";
}

// The counts as a sentence: "3 of 10 done, 1 failed".
export function countsText(batch) {
  const { total, completed, failed } = batch.request_counts;
  return `${completed} of ${total} done${failed ? `, ${failed} failed` : ""}`;
}

// The result files a batch has, as [label, file id, download name].
export function resultFiles(batch) {
  const files = [];
  if (batch.output_file_id) files.push(["Output", batch.output_file_id, `${batch.id}_output.jsonl`]);
  if (batch.error_file_id) files.push(["Errors", batch.error_file_id, `${batch.id}_errors.jsonl`]);
  return files;
}

// Why a batch failed, from its `errors` (the first few lines named).
export function errorsText(batch) {
  const data = batch.errors?.data || [];
  return data.slice(0, 3).map((error) => (error.line ? `line ${error.line}: ${error.message}` : error.message)).join("; ");
}
