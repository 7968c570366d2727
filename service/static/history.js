// The strip of recent videos (GET /videos, newest first) with their thumbnails; a click shows one.
import { api, mediaUrl } from "./api.js";
import { watch } from "./result.js";
import { $, STATUS_NAMES, state } from "./state.js";

const HISTORY_PAGE = 12;

export async function loadHistory(more = false) {
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
    mediaUrl(video.links.thumbnail).then(
      (src) => {
        img.src = src;
      },
      () => {
        frame.dataset.broken = "true";
      },
    );
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
export function markInHistory(video) {
  const old = document.querySelector(`#history button[data-id="${CSS.escape(video.id)}"]`);
  if (!old) {
    loadHistory();
    return;
  }
  const fresh = historyItem(video);
  old.parentElement.replaceWith(fresh);
}
