// The videogen playground: a client of the public API (the same endpoints /docs lists), no build step and no
// dependencies. Reads /options for the form, POSTs /videos, polls GET /videos/{id}, plays the MP4 inline and
// lists GET /videos as a history strip. With auth on, the API key lives in this browser's localStorage.
"use strict";

const KEY_STORAGE = "videogen.apiKey";
const POLL_MS = 400;
const QUEUED_POLL_MS = 800;
const HISTORY_PAGE = 12;
const TERMINAL = new Set(["completed", "failed", "cancelled"]);
const STAGE_NAMES = {
  reference: "Reference",
  base: "Base",
  super_resolution: "Super resolution",
  temporal_upsampling: "Temporal upsampling",
  decode: "Decode",
  encode: "Encode",
  upload: "Upload",
};
const STATUS_NAMES = {
  queued: "Queued",
  in_progress: "Running",
  completed: "Completed",
  failed: "Failed",
  cancelled: "Cancelled",
};
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

const $ = (id) => document.getElementById(id);

const state = {
  options: null,
  watchToken: 0, // bumped to stop the running poll loop when another video is shown
  current: null, // the video object in the result panel
  mediaFor: null, // id of the video whose media is loaded
  uploads: new Map(), // video id -> the File this page uploaded as its reference (for "same again")
  blobUrls: new Map(), // content path -> object URL (auth on: media is fetched with the key)
  historyCursor: null,
  waitTimer: null,
  busy: false,
};

class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

// ---------------------------------------------------------------------------------------------------- API --

function apiKey() {
  return localStorage.getItem(KEY_STORAGE) || "";
}

function retryAfterSeconds(header) {
  if (!header) return 0;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds));
  const when = Date.parse(header);
  return Number.isNaN(when) ? 0 : Math.max(0, Math.ceil((when - Date.now()) / 1000));
}

async function api(path, { method = "GET", body = null, raw = false } = {}) {
  const headers = { Accept: raw ? "*/*" : "application/json" };
  const key = apiKey();
  if (key) headers.Authorization = `Bearer ${key}`;
  let response;
  try {
    response = await fetch(path, { method, body, headers });
  } catch (err) {
    throw new ApiError(0, "network_error", `the server did not answer (${err.message})`, 3);
  }
  if (!response.ok) {
    let code = `http_${response.status}`;
    let message = response.statusText || "request failed";
    try {
      const data = await response.json();
      if (data && data.error) ({ code, message } = data.error);
    } catch {
      // not our JSON error body (a proxy's page): keep the status line
    }
    const error = new ApiError(response.status, code, message, retryAfterSeconds(response.headers.get("Retry-After")));
    if (response.status === 401) askForKey(key ? message : "");
    throw error;
  }
  return raw ? response : response.json();
}

/** A URL the browser can load for a content path: the path itself, or (auth on) a blob fetched with the key. */
async function mediaUrl(path) {
  if (!state.options || !state.options.auth_required) return path;
  if (!state.blobUrls.has(path)) {
    const response = await api(path, { raw: true });
    state.blobUrls.set(path, URL.createObjectURL(await response.blob()));
  }
  return state.blobUrls.get(path);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ------------------------------------------------------------------------------------------------ options --

async function loadOptions() {
  try {
    state.options = await api("/options");
  } catch (err) {
    setServerStatus(`Server unreachable (${err.message}); retrying…`, "down");
    setTimeout(loadOptions, Math.max(err.retryAfter, 3) * 1000);
    return;
  }
  applyOptions(state.options);
  if (!state.options.model) setTimeout(loadOptions, 5000); // a worker may still be loading its model
}

function applyOptions(options) {
  const model = options.model;
  const defaults = (model && model.defaults) || {};
  if (model) setServerStatus(`${model.name} on ${model.device}`, "up");
  else setServerStatus("Waiting for a worker to load its model…", "waiting");

  const size = $("size");
  const chosen = size.value;
  const preferred = defaults.width ? `${defaults.width}x${defaults.height}` : options.allowed_sizes[0];
  size.replaceChildren(
    ...options.allowed_sizes.map((value) => {
      const [w, h] = value.split("x");
      const option = new Option(`${w} × ${h}`, value);
      option.selected = value === (chosen || preferred);
      return option;
    }),
  );

  const upsampling = $("temporal_upsampling");
  const chosenUp = upsampling.value;
  const maxUp = model ? model.max_temporal_upsampling : 3;
  const defaultUp = defaults.temporal_upsampling;
  const upOptions = [new Option(defaultUp === undefined ? "Model default" : `Model default (${upLabel(defaultUp)})`, "")];
  for (let n = 0; n <= maxUp; n += 1) upOptions.push(new Option(upLabel(n), String(n)));
  upsampling.replaceChildren(...upOptions);
  upsampling.value = chosenUp;

  const limits = options.limits;
  $("num_inference_steps").max = limits.max_inference_steps;
  $("guidance_scale").max = limits.max_guidance_scale;
  $("fps").max = limits.max_fps;
  $("fps").placeholder = `${options.default_fps}`;
  $("num_inference_steps").placeholder = defaults.num_inference_steps ? `${defaults.num_inference_steps}` : "auto";
  $("guidance_scale").placeholder = defaults.guidance_scale !== undefined ? `${defaults.guidance_scale}` : "auto";
  $("prompt").maxLength = limits.max_prompt_chars;
  updateLengthPlaceholder();

  $("api-key-button").hidden = !options.auth_required;
  if (options.auth_required && !apiKey()) askForKey("");
}

function upLabel(n) {
  return n === 0 ? "Off" : `${2 ** n}× frames`;
}

function updateLengthPlaceholder() {
  const options = state.options;
  const frames = options && options.model ? options.model.defaults.num_frames : undefined;
  const input = $("length");
  if (frames === undefined) {
    input.placeholder = "auto";
  } else if ($("length-unit").value === "seconds") {
    const fps = Number($("fps").value) || options.default_fps;
    input.placeholder = `${+(frames / fps).toFixed(2)}`;
  } else {
    input.placeholder = `${frames}`;
  }
  input.step = $("length-unit").value === "seconds" ? "any" : "1";
}

function setServerStatus(text, kind) {
  const status = $("server-status");
  status.textContent = text;
  status.dataset.state = kind;
}

// ------------------------------------------------------------------------------------------------- submit --

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

async function onSubmit(event) {
  event.preventDefault();
  const { data, file } = formRequest();
  await createVideo(data, file);
}

async function createVideo(data, file) {
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

function showFormError(message) {
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

/** 429/503: say why and count down the wait the server asked for (Retry-After); the Generate button waits too. */
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

// -------------------------------------------------------------------------------------------------- watch --

/** Show a video and poll it until it is finished (a newer call stops an older loop). */
async function watch(videoOrId) {
  const token = ++state.watchToken;
  const id = typeof videoOrId === "string" ? videoOrId : videoOrId.id;
  if (typeof videoOrId !== "string") render(videoOrId);
  window.history.replaceState(null, "", `#${id}`);
  let delay = 0;
  for (;;) {
    await sleep(delay);
    if (token !== state.watchToken) return;
    let video;
    try {
      video = await api(`/videos/${encodeURIComponent(id)}`);
    } catch (err) {
      if (token !== state.watchToken) return;
      if (err.status === 0 || err.status === 429 || err.status === 503) {
        const wait = Math.max(err.retryAfter, 1);
        $("status-line").textContent = `${err.message}; checking again in ${wait} s.`;
        delay = wait * 1000;
        continue;
      }
      showLookupError(id, err);
      return;
    }
    if (token !== state.watchToken) return;
    render(video);
    if (TERMINAL.has(video.status)) {
      markInHistory(video);
      return;
    }
    delay = video.status === "queued" ? QUEUED_POLL_MS : POLL_MS;
  }
}

function showLookupError(id, err) {
  state.current = null;
  $("empty-state").hidden = false;
  $("empty-state").textContent = `Video ${id}: ${err.code}: ${err.message}`;
  $("job").hidden = true;
  $("status-badge").hidden = true;
}

function render(video) {
  state.current = video;
  const result = $("result");
  result.dataset.status = video.status;
  result.dataset.videoId = video.id;
  $("empty-state").hidden = true;
  $("job").hidden = false;

  const badge = $("status-badge");
  badge.hidden = false;
  badge.textContent = STATUS_NAMES[video.status] || video.status;
  badge.dataset.status = video.status;

  const stage = video.stage ? STAGE_NAMES[video.stage] || video.stage : null;
  let label;
  let line;
  if (video.status === "queued") {
    const ahead = video.queue_position;
    label = ahead === null || ahead === undefined ? "Queued" : `Queued: position ${ahead + 1}`;
    line = ahead ? `Waiting in the queue, ${ahead} ${ahead === 1 ? "video" : "videos"} ahead.` : "Next in line.";
  } else if (video.status === "in_progress") {
    label = stage || "Starting";
    line = `Generating: ${label}.`;
  } else if (video.status === "completed") {
    label = "Complete";
    const seconds = elapsedSeconds(video);
    line = seconds === null ? "Done." : `Done in ${seconds.toFixed(1)} s.`;
  } else if (video.status === "cancelled") {
    label = "Cancelled";
    line = "Cancelled.";
  } else {
    label = `Failed${stage ? ` during ${stage}` : ""}`;
    line = "The job failed.";
  }
  $("stage-label").textContent = label;
  $("status-line").textContent = line;
  const percent = video.status === "completed" ? 100 : video.progress;
  $("progress-fill").style.width = `${percent}%`;
  $("progress").setAttribute("aria-valuenow", String(percent));
  $("progress").setAttribute("aria-valuetext", `${percent}%, ${label}`);
  $("progress-percent").textContent = `${percent}%`;
  renderStages(video);

  const error = $("job-error");
  error.hidden = !video.error;
  error.textContent = video.error ? `${video.error.code}: ${video.error.message}` : "";

  const running = !TERMINAL.has(video.status);
  $("running-actions").hidden = !running;
  $("cancel").disabled = false;
  $("done-actions").hidden = video.status !== "completed";
  renderParams(video);
  if (video.status === "completed") showMedia(video);
  else hideMedia();
  for (const item of document.querySelectorAll("#history button[data-id]")) {
    item.toggleAttribute("aria-current", item.dataset.id === video.id);
  }
}

function elapsedSeconds(video) {
  if (!video.started_at || !video.completed_at) return null;
  return (Date.parse(video.completed_at) - Date.parse(video.started_at)) / 1000;
}

function renderStages(video) {
  const stages = (state.options && state.options.stages) || Object.keys(STAGE_NAMES);
  const at = video.stage ? stages.indexOf(video.stage) : -1;
  const items = stages.map((name, index) => {
    const li = document.createElement("li");
    li.textContent = STAGE_NAMES[name] || name;
    let mark = "todo";
    if (video.status === "completed") mark = name in (video.timings || {}) ? "done" : "skipped";
    else if (index < at) mark = "done";
    else if (index === at) mark = video.status === "in_progress" ? "current" : video.status;
    li.dataset.mark = mark;
    if (mark === "current") li.setAttribute("aria-current", "step");
    return li;
  });
  $("stages").replaceChildren(...items);
}

const PARAM_ROWS = [
  ["Seed", (p) => p.seed],
  ["Size", (p) => p.size && p.size.replace("x", " × ")],
  ["Frames", (p) => p.num_frames],
  ["Frames per second", (p) => p.fps],
  ["Duration", (p) => (p.num_frames && p.fps ? `${+(p.num_frames / p.fps).toFixed(2)} s` : null)],
  ["Steps", (p) => p.num_inference_steps],
  ["Guidance", (p) => p.guidance_scale],
  ["Temporal upsampling", (p) => (p.temporal_upsampling === null ? null : upLabel(p.temporal_upsampling))],
  ["Reference image", (p) => (p.has_reference_image ? "uploaded" : "made from the prompt")],
  ["Negative prompt", (p) => p.negative_prompt],
  ["Prompt", (p) => p.prompt],
];

function renderParams(video) {
  const rows = [];
  for (const [name, value] of PARAM_ROWS) {
    const shown = value(video.params);
    if (shown === null || shown === undefined || shown === "") continue;
    rows.push(definition(name, String(shown)));
  }
  rows.push(definition("Video id", video.id));
  const backends = [...new Set(Object.values(video.backends || {}))];
  if (backends.length) rows.push(definition("Backend", backends.join(", ")));
  $("params").replaceChildren(...rows.flat());
}

function definition(term, value) {
  const dt = document.createElement("dt");
  dt.textContent = term;
  const dd = document.createElement("dd");
  dd.textContent = value;
  return [dt, dd];
}

async function showMedia(video) {
  if (state.mediaFor === video.id) return;
  state.mediaFor = video.id;
  const media = $("media");
  const player = $("video");
  const reference = $("reference");
  try {
    const [videoSrc, referenceSrc] = await Promise.all([mediaUrl(video.links.content), mediaUrl(video.links.reference)]);
    if (state.mediaFor !== video.id) return;
    player.src = videoSrc;
    reference.src = referenceSrc;
    const download = $("download");
    download.href = videoSrc;
    download.download = `${video.id}.mp4`;
    media.hidden = false;
  } catch (err) {
    state.mediaFor = null;
    $("job-error").hidden = false;
    $("job-error").textContent = `The video cannot be loaded: ${err.code}: ${err.message}`;
    $("done-actions").hidden = true;
  }
}

function hideMedia() {
  if (state.mediaFor === null) return;
  state.mediaFor = null;
  $("media").hidden = true;
  $("video").removeAttribute("src");
  $("video").load();
  $("reference").removeAttribute("src");
}

// ----------------------------------------------------------------------------------------- result actions --

async function cancelCurrent() {
  const video = state.current;
  if (!video) return;
  $("cancel").disabled = true;
  try {
    render(await api(`/videos/${encodeURIComponent(video.id)}/cancel`, { method: "POST" }));
    markInHistory(state.current);
  } catch (err) {
    $("cancel").disabled = false;
    $("job-error").hidden = false;
    $("job-error").textContent = `Cannot cancel: ${err.code}: ${err.message}`;
  }
}

/** Submit the shown video's effective parameters again: same seed, same everything, so the same video. */
async function sameAgain() {
  const video = state.current;
  if (!video) return;
  const p = video.params;
  const data = new FormData();
  for (const name of ["prompt", "negative_prompt", "num_frames", "fps", "size", "seed", "num_inference_steps",
    "guidance_scale", "temporal_upsampling"]) {
    if (p[name] !== null && p[name] !== undefined) data.append(name, String(p[name]));
  }
  let file = null;
  if (p.has_reference_image) {
    file = state.uploads.get(video.id) || null;
    if (!file) {
      // Uploaded in another session: the stored reference frame is the closest thing we still have.
      try {
        const response = await api(video.links.reference, { raw: true });
        file = new File([await response.blob()], "reference.png", { type: "image/png" });
      } catch (err) {
        showFormError(`The reference image of ${video.id} is gone: ${err.message}`);
        return;
      }
    }
    data.append("reference_image", file, file.name);
  }
  await createVideo(data, file);
}

/** Put the shown video's parameters into the form, to change one and try again. */
function editInForm() {
  const video = state.current;
  if (!video) return;
  const p = video.params;
  $("prompt").value = p.prompt;
  $("negative_prompt").value = p.negative_prompt || "";
  $("length-unit").value = "frames";
  $("length").value = p.num_frames ?? "";
  $("fps").value = p.fps ?? "";
  if (p.size && [...$("size").options].some((o) => o.value === p.size)) $("size").value = p.size;
  $("seed").value = p.seed ?? "";
  $("num_inference_steps").value = p.num_inference_steps ?? "";
  $("guidance_scale").value = p.guidance_scale ?? "";
  $("temporal_upsampling").value = p.temporal_upsampling === null ? "" : String(p.temporal_upsampling);
  updateLengthPlaceholder();
  $("prompt").focus();
  $("generate-form").scrollIntoView({ block: "start", behavior: "smooth" });
}

// ------------------------------------------------------------------------------------------------ history --

async function loadHistory(more = false) {
  const query = new URLSearchParams({ limit: String(HISTORY_PAGE) });
  if (more && state.historyCursor) query.set("after", state.historyCursor);
  let page;
  try {
    page = await api(`/videos?${query}`);
  } catch (err) {
    if (err.status !== 401) $("history-empty").textContent = `Cannot list videos: ${err.message}`;
    $("history-empty").hidden = false;
    return;
  }
  const list = $("history");
  if (!more) list.replaceChildren();
  for (const video of page.data) list.append(historyItem(video));
  state.historyCursor = page.next_cursor;
  $("history-more").hidden = !page.has_more;
  $("history-empty").textContent = "No videos yet.";
  $("history-empty").hidden = list.children.length > 0;
}

function historyItem(video) {
  const li = document.createElement("li");
  const button = document.createElement("button");
  button.type = "button";
  button.className = "thumb";
  button.dataset.id = video.id;
  button.dataset.status = video.status;
  button.setAttribute("aria-label", `${video.params.prompt} (${STATUS_NAMES[video.status] || video.status})`);
  button.title = video.params.prompt;
  if (state.current && state.current.id === video.id) button.setAttribute("aria-current", "true");
  const frame = document.createElement("span");
  frame.className = "thumb-frame";
  if (video.status === "completed") {
    const img = document.createElement("img");
    img.alt = "";
    mediaUrl(video.links.thumbnail).then((src) => { img.src = src; }, () => { frame.dataset.broken = "true"; });
    frame.append(img);
  } else {
    frame.textContent = STATUS_NAMES[video.status] || video.status;
  }
  const caption = document.createElement("span");
  caption.className = "thumb-caption";
  caption.textContent = video.params.prompt;
  const meta = document.createElement("span");
  meta.className = "thumb-meta";
  meta.textContent = `${video.params.size || ""} · seed ${video.params.seed}`;
  button.append(frame, caption, meta);
  button.addEventListener("click", () => watch(video.id));
  li.append(button);
  return li;
}

/** A finished video: refresh its history entry (it may have gained a thumbnail). */
function markInHistory(video) {
  const old = document.querySelector(`#history button[data-id="${CSS.escape(video.id)}"]`);
  if (!old) {
    loadHistory();
    return;
  }
  const fresh = historyItem(video);
  old.parentElement.replaceWith(fresh);
}

// -------------------------------------------------------------------------------------------------- auth --

function askForKey(message) {
  const dialog = $("key-dialog");
  const error = $("key-error");
  error.hidden = !message;
  error.textContent = message ? `The server said: ${message}` : "";
  $("api-key").value = apiKey();
  if (!dialog.open) dialog.showModal();
}

function onKeySaved(event) {
  const value = $("api-key").value.trim();
  if (event.submitter && event.submitter.id === "key-save" && value) {
    localStorage.setItem(KEY_STORAGE, value);
    clearBlobs();
    loadHistory();
    if (state.current) watch(state.current.id);
  }
}

function forgetKey() {
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

// ------------------------------------------------------------------------------------------------- wiring --

function onReferenceChosen() {
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

function clearReference() {
  $("reference_image").value = "";
  onReferenceChosen();
  $("reference_image").focus();
}

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

document.addEventListener("DOMContentLoaded", init);
