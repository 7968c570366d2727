// What every part of the page shares: the page state, element lookup and the names it shows.

export const $ = (id) => document.getElementById(id);

export const state = {
  options: null, // the answer of GET /options
  watchToken: 0, // bumped to stop the running poll loop when another video is shown
  current: null, // the video object in the result panel
  mediaFor: null, // id of the video whose media is loaded
  uploads: new Map(), // video id -> the File this page uploaded as its reference (for "same again")
  blobUrls: new Map(), // content path -> object URL (auth on: media is fetched with the key)
  historyCursor: null,
  waitTimer: null,
  busy: false,
};

export const TERMINAL = new Set(["completed", "failed", "cancelled"]);
export const STAGE_NAMES = {
  reference: "Reference",
  base: "Base",
  super_resolution: "Super resolution",
  temporal_upsampling: "Temporal upsampling",
  decode: "Decode",
  encode: "Encode",
  upload: "Upload",
};
export const STATUS_NAMES = {
  queued: "Queued",
  in_progress: "Running",
  completed: "Completed",
  failed: "Failed",
  cancelled: "Cancelled",
};

/** A temporal upsampling setting as shown: 0 -> "Off", n -> "2^n× frames". */
export function upLabel(n) {
  return n === 0 ? "Off" : `${2 ** n}× frames`;
}

/** Change a live region's text only when it differs, so screen readers do not repeat it every poll. */
export function setText(element, text) {
  if (element.textContent !== text) element.textContent = text;
}
