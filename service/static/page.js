// What the page's modules share: the page's state (the service's configuration, the chosen image, video or frames,
// the last plan), element lookup by id, and the status line.

export const state = { config: null, blob: null, bitmap: null, name: null, plan: null, files: null, video: null };

export const $ = (id) => document.getElementById(id);

export function setStatus(text, isError = false) {
  const status = $("status");
  status.textContent = text;
  status.classList.toggle("error", isError);
}

// The API key header, when the service asks for one.
export function authHeaders() {
  const config = state.config;
  if (!config || !config.api_key_required) return {};
  return { [config.api_key_header || "X-API-Key"]: $("api_key").value };
}
