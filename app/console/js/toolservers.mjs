// The admin page's shared tool servers: the body a filled form sends to
// POST /admin/tool-servers. Pure: the page draws the inputs.

// `headers` is one "Name: value" a line (its credentials); a line without a colon throws,
// naming it, before anything is sent. An empty timeout is left to the server's default.
export function toolServerBody({ name, url, headers, timeout }) {
  const body = { name: name.trim(), url: url.trim(), headers: {} };
  for (const line of headers.split("\n").map((one) => one.trim()).filter(Boolean)) {
    const colon = line.indexOf(":");
    if (colon < 1) throw new Error(`Headers: "${line}" is not "Name: value"`);
    body.headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  if (timeout.trim() !== "") body.timeout_seconds = Number(timeout);
  return body;
}
