// The API key dialog: asked for when /options says auth is on and no key is stored, and again on a 401.
import { KEY_STORAGE, apiKey } from "./api.js";
import { loadHistory } from "./history.js";
import { watch } from "./result.js";
import { $, state } from "./state.js";

export function askForKey(message) {
  const dialog = $("key-dialog");
  const error = $("key-error");
  error.hidden = !message;
  error.textContent = message ? `The server said: ${message}` : "";
  $("api-key").value = apiKey();
  if (!dialog.open) dialog.showModal();
}

export function onKeySaved(event) {
  const value = $("api-key").value.trim();
  if (event.submitter && event.submitter.id === "key-save" && value) {
    localStorage.setItem(KEY_STORAGE, value);
    clearBlobs();
    loadHistory();
    if (state.current) watch(state.current.id);
  }
}

export function forgetKey() {
  localStorage.removeItem(KEY_STORAGE);
  clearBlobs();
  $("api-key").value = "";
  $("key-dialog").close();
}

function clearBlobs() {
  for (const url of state.blobUrls.values()) URL.revokeObjectURL(url);
  state.blobUrls.clear();
  state.mediaFor = null;
}
