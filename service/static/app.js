// The videogen playground: a client of the public API (the endpoints /docs lists), plain ES modules with no
// build step and no dependencies. Reads /options for the form, POSTs /videos, polls GET /videos/{id}, plays
// the MP4 inline and lists GET /videos as a history strip. With auth on, the API key lives in localStorage.
import { askForKey, forgetKey, onKeySaved } from "./auth.js";
import { loadHistory } from "./history.js";
import { loadOptions, updateLengthPlaceholder } from "./options.js";
import { cancelCurrent, editInForm, sameAgain, watch } from "./result.js";
import { $ } from "./state.js";
import { clearReference, onReferenceChosen, onSubmit } from "./submit.js";

function init() {
  const form = $("generate-form");
  form.addEventListener("submit", onSubmit);
  $("prompt").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  // An edited field drops its error.
  form.addEventListener("input", (event) => {
    const control = event.target.closest("input, select, textarea");
    if (!control || !control.hasAttribute("aria-invalid")) return;
    control.removeAttribute("aria-invalid");
    const box = $(`err-${control.id}`);
    if (box) box.hidden = true;
  });
  $("dice").addEventListener("click", () => {
    $("seed").value = String(crypto.getRandomValues(new Uint32Array(1))[0]);
  });
  $("size").addEventListener("change", () => {
    $("size").dataset.touched = "true";
  });
  $("length-unit").addEventListener("change", updateLengthPlaceholder);
  $("fps").addEventListener("input", updateLengthPlaceholder);
  $("reference_image").addEventListener("change", onReferenceChosen);
  $("reference-clear").addEventListener("click", clearReference);
  $("cancel").addEventListener("click", cancelCurrent);
  $("again").addEventListener("click", sameAgain);
  $("edit").addEventListener("click", editInForm);
  $("history-refresh").addEventListener("click", () => loadHistory());
  $("history-more").addEventListener("click", () => loadHistory(true));
  $("api-key-button").addEventListener("click", () => askForKey(""));
  $("key-form").addEventListener("submit", onKeySaved);
  $("key-forget").addEventListener("click", forgetKey);

  loadOptions().then(() => {
    loadHistory();
    const id = decodeURIComponent(window.location.hash.slice(1));
    if (/^vid_[0-9a-f]+$/.test(id)) watch(id); // a shared or reloaded link to a video
  });
}

init(); // module scripts run once the document is parsed
