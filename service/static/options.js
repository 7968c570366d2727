// The form from GET /options: allowed sizes, limits, the live model's defaults (as placeholders) and whether
// an API key is needed. Re-read every few seconds until a worker has published its model.
import { api, apiKey } from "./api.js";
import { askForKey } from "./auth.js";
import { $, state, upLabel } from "./state.js";

export async function loadOptions() {
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
  const chosen = size.dataset.touched ? size.value : ""; // keep the user's pick across a refresh of /options
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
  const defaultLabel = defaultUp === undefined ? "Model default" : `Model default (${upLabel(defaultUp)})`;
  const upOptions = [new Option(defaultLabel, "")];
  for (let n = 0; n <= maxUp; n += 1) upOptions.push(new Option(upLabel(n), String(n)));
  upsampling.replaceChildren(...upOptions);
  upsampling.value = chosenUp;

  const limits = options.limits;
  $("num_inference_steps").max = limits.max_inference_steps;
  $("guidance_scale").max = limits.max_guidance_scale;
  $("fps").max = limits.max_fps;
  $("fps").placeholder = `${options.default_fps}`;
  $("num_inference_steps").placeholder = String(defaults.num_inference_steps ?? "auto");
  $("guidance_scale").placeholder = String(defaults.guidance_scale ?? "auto");
  $("prompt").maxLength = limits.max_prompt_chars;
  updateLengthPlaceholder();

  $("api-key-button").hidden = !options.auth_required;
  if (options.auth_required && !apiKey()) askForKey("");
}

export function updateLengthPlaceholder() {
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
