// Submitting the form (multipart, so a reference image can ride along) and showing what the API refused: a
// 4xx next to the field it names, 429/503 as a banner counting down the server's Retry-After.
import { api } from "./api.js";
import { loadHistory } from "./history.js";
import { watch } from "./result.js";
import { $, state } from "./state.js";

// Request fields an error message may name, and the form control each belongs to.
const FIELD_CONTROLS = {
  prompt: "prompt",
  negative_prompt: "negative_prompt",
  num_frames: "length",
  seconds: "length",
  fps: "fps",
  size: "size",
  seed: "seed",
  num_inference_steps: "num_inference_steps",
  guidance_scale: "guidance_scale",
  temporal_upsampling: "temporal_upsampling",
  reference_image: "reference_image",
};
const FIELD_BY_CODE = { invalid_reference: "reference_image" };

function formRequest() {
  const data = new FormData();
  const put = (name, value) => {
    if (value !== "" && value !== null && value !== undefined) data.append(name, value);
  };
  put("prompt", $("prompt").value);
  put("negative_prompt", $("negative_prompt").value.trim());
  put($("length-unit").value === "seconds" ? "seconds" : "num_frames", $("length").value.trim());
  put("fps", $("fps").value.trim());
  put("size", $("size").value);
  put("seed", $("seed").value.trim());
  put("num_inference_steps", $("num_inference_steps").value.trim());
  put("guidance_scale", $("guidance_scale").value.trim());
  put("temporal_upsampling", $("temporal_upsampling").value);
  const file = $("reference_image").files[0] || null;
  if (file) data.append("reference_image", file, file.name);
  return { data, file };
}

export async function onSubmit(event) {
  event.preventDefault();
  const { data, file } = formRequest();
  await createVideo(data, file);
}

export async function createVideo(data, file) {
  if (state.busy || state.waitTimer) return;
  clearErrors();
  state.busy = true;
  $("submit").disabled = true;
  let video;
  try {
    video = await api("/videos", { method: "POST", body: data });
  } catch (err) {
    showSubmitError(err);
    return;
  } finally {
    state.busy = false;
    if (!state.waitTimer) $("submit").disabled = false;
  }
  if (file) state.uploads.set(video.id, file);
  $("banner").hidden = true;
  watch(video);
  loadHistory();
}

function showSubmitError(err) {
  if (err.status === 429 || err.status === 503) {
    waitBeforeRetry(err);
    return;
  }
  if (err.status === 401) {
    showFormError("This server needs an API key: enter it and submit again.");
    return;
  }
  const field = fieldOf(err);
  if (field) {
    showFieldError(field, err.message);
  } else {
    showFormError(`${err.code}: ${err.message}`);
  }
}

/** The request field an error is about: by its code, else the first field name its message mentions. */
function fieldOf(err) {
  if (FIELD_BY_CODE[err.code]) return FIELD_BY_CODE[err.code];
  if (![400, 413, 422].includes(err.status)) return null;
  let best = null;
  let bestAt = Infinity;
  for (const name of Object.keys(FIELD_CONTROLS)) {
    const match = new RegExp(`(^|[^A-Za-z0-9_])${name}([^A-Za-z0-9_]|$)`).exec(err.message);
    if (match && match.index < bestAt) {
      best = name;
      bestAt = match.index;
    }
  }
  return best;
}

function showFieldError(field, message) {
  const control = $(FIELD_CONTROLS[field]);
  const box = $(`err-${control.id}`);
  box.textContent = message;
  box.hidden = false;
  control.setAttribute("aria-invalid", "true");
  control.focus();
}

export function showFormError(message) {
  const box = $("form-error");
  box.textContent = message;
  box.hidden = false;
}

function clearErrors() {
  for (const box of document.querySelectorAll("#generate-form .field-error")) {
    box.hidden = true;
    box.textContent = "";
  }
  for (const control of document.querySelectorAll("#generate-form [aria-invalid]")) {
    control.removeAttribute("aria-invalid");
  }
  $("form-error").hidden = true;
}

/** 429/503: say why and count down the wait the server asked for (Retry-After); Generate waits as well. */
function waitBeforeRetry(err) {
  const banner = $("banner");
  const submit = $("submit");
  const until = Date.now() + Math.max(err.retryAfter, 1) * 1000;
  const reason = err.status === 429 ? "Too many requests." : "The server is busy.";
  const headline = document.createElement("strong");
  headline.textContent = reason;
  const countdown = document.createElement("span");
  const detail = document.createElement("span");
  detail.className = "banner-detail";
  detail.textContent = `${err.code}: ${err.message}`;
  banner.replaceChildren(headline, " ", countdown, " ", detail);
  clearInterval(state.waitTimer);
  const tick = () => {
    const left = Math.ceil((until - Date.now()) / 1000);
    if (left <= 0) {
      clearInterval(state.waitTimer);
      state.waitTimer = null;
      countdown.textContent = "You can submit again now.";
      submit.disabled = false;
      submit.textContent = "Generate";
      return;
    }
    countdown.textContent = `You can submit again in ${left} s.`;
    submit.textContent = `Wait ${left} s`;
  };
  banner.hidden = false;
  submit.disabled = true;
  state.waitTimer = setInterval(tick, 250);
  tick();
}

export function onReferenceChosen() {
  const file = $("reference_image").files[0];
  const preview = $("reference-preview");
  if (preview.src) URL.revokeObjectURL(preview.src);
  if (file) {
    preview.src = URL.createObjectURL(file);
    preview.alt = `Chosen reference: ${file.name}`;
  } else {
    preview.removeAttribute("src");
  }
  preview.hidden = !file;
  $("reference-clear").hidden = !file;
}

export function clearReference() {
  $("reference_image").value = "";
  onReferenceChosen();
  $("reference_image").focus();
}
