// The result panel: poll one video until it is finished, show its queue position or stage and progress, then
// the video, its reference image and effective parameters; cancel, "same again" and "edit in form".
import { api, mediaUrl, sleep } from "./api.js";
import { markInHistory } from "./history.js";
import { updateLengthPlaceholder } from "./options.js";
import { createVideo, showFormError } from "./submit.js";
import { $, STAGE_NAMES, STATUS_NAMES, TERMINAL, setText, state, upLabel } from "./state.js";

const POLL_MS = 250;
const QUEUED_POLL_MS = 500;

/** Show a video and poll it until it is finished (a newer call stops an older loop). */
export async function watch(videoOrId) {
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
    const videos = ahead === 1 ? "video" : "videos";
    line = ahead ? `Waiting in the queue, ${ahead} ${videos} ahead.` : "Next in line.";
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
  setText($("stage-label"), label);
  setText($("status-line"), line);
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
  // The stages' own seconds (the timestamps are whole unix seconds, as the OpenAI SDK types them).
  const timings = Object.values(video.timings || {});
  if (!timings.length) return null;
  return timings.reduce((sum, seconds) => sum + seconds, 0);
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
  const peaks = Object.values(video.memory || {});
  if (peaks.length) rows.push(definition("Peak memory", `${Math.round(Math.max(...peaks) / 2 ** 20)} MiB`));
  if (video.priority && video.priority !== "normal") rows.push(definition("Priority", video.priority));
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
    const [videoSrc, referenceSrc] = await Promise.all([
      mediaUrl(video.links.content),
      mediaUrl(video.links.reference),
    ]);
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

export async function cancelCurrent() {
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
export async function sameAgain() {
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
export function editInForm() {
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
