// Keyboard control for the rater screens. A key clicks the visible control with that data-key;
// "n" shows the preloaded next item at once; "g" opens the guidelines; Ctrl+Enter submits text.
function visible(element) {
  return element && !element.closest("[hidden], [inert]");
}

function control(key) {
  const candidates = document.querySelectorAll(`#item-panel [data-key="${CSS.escape(key)}"]:not([disabled])`);
  return Array.from(candidates).find(visible);
}

function showPreloadedNext() {
  const preloaded = document.getElementById("preloaded-next");
  if (preloaded && preloaded.classList.contains("htmx-request")) {
    // Still on its way: show it when it comes (or fetch the next item if it failed), rather
    // than ask the server for the next item a second time while the first ask holds it.
    preloaded.addEventListener("htmx:afterRequest", () => {
      if (!showPreloadedNext()) control("n")?.click();
    }, { once: true });
    return true;
  }
  const fresh = preloaded && preloaded.querySelector("section#item-panel");
  const panel = document.getElementById("item-panel");
  if (!fresh || !panel) return false;
  panel.replaceWith(fresh);
  window.htmx.process(fresh);
  markShown(fresh);
  return true;
}

// How long the item on screen has been visible, sent with its label as "seconds_visible" (the
// server clamps it to its own claim-to-submit time): from the panel's first showing (page load,
// an htmx swap, or "n" above), less the time the browser tab was hidden.
let hiddenMs = 0;
let hiddenSince = document.hidden ? performance.now() : null;
document.addEventListener("visibilitychange", () => {
  if (document.hidden) hiddenSince = performance.now();
  else if (hiddenSince !== null) { hiddenMs += performance.now() - hiddenSince; hiddenSince = null; }
});
function hiddenSoFar() {
  return hiddenMs + (hiddenSince === null ? 0 : performance.now() - hiddenSince);
}
function markShown(panel) {
  if (!panel || panel.dataset.shownAt || !visible(panel)) return;
  panel.dataset.shownAt = String(performance.now());
  panel.dataset.hiddenAt = String(hiddenSoFar());
}
document.addEventListener("DOMContentLoaded", () => markShown(document.getElementById("item-panel")));
document.addEventListener("htmx:load", () => markShown(document.getElementById("item-panel")));
document.addEventListener("htmx:configRequest", (event) => {
  const form = event.detail.elt;
  if (!(form instanceof HTMLFormElement) || !form.classList.contains("verdict-form")) return;
  const panel = form.closest("#item-panel");
  if (!panel || !panel.dataset.shownAt) return;
  const hidden = hiddenSoFar() - Number(panel.dataset.hiddenAt);
  const seconds = (performance.now() - Number(panel.dataset.shownAt) - hidden) / 1000;
  event.detail.parameters["seconds_visible"] = Math.max(0, seconds).toFixed(3);
});

document.addEventListener("keydown", (event) => {
  const target = event.target;
  const typing = target instanceof HTMLElement && target.closest("input, textarea, select, [contenteditable]");
  if (typing) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      const form = target.closest("form");
      if (form) { event.preventDefault(); form.requestSubmit(); }
    }
    return;
  }
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const key = event.key === "Enter" ? "n" : event.key.toLowerCase();
  if (key === "g") {
    const guidelines = document.querySelector("#item-panel [data-guidelines]");
    if (guidelines) { event.preventDefault(); guidelines.open = !guidelines.open; }
    return;
  }
  if (key === "n" && control("n") && showPreloadedNext()) { event.preventDefault(); return; }
  const found = control(key);
  if (found) { event.preventDefault(); found.click(); }
});

// Model text is shown as rendered Markdown; the "Raw text" button (key "r") switches every
// model text on the page to the text as written, and the choice holds for the next items.
const RAW_TEXT = "ember.rawText";
function applyRawText() {
  let raw = false;
  try { raw = localStorage.getItem(RAW_TEXT) === "1"; } catch (error) { raw = document.documentElement.classList.contains("show-raw"); }
  document.documentElement.classList.toggle("show-raw", raw);
  document.querySelectorAll("[data-raw-toggle]").forEach((button) => button.setAttribute("aria-pressed", String(raw)));
}
document.addEventListener("click", (event) => {
  const button = event.target instanceof Element && event.target.closest("[data-raw-toggle]");
  if (!button) return;
  const raw = !document.documentElement.classList.contains("show-raw");
  try { localStorage.setItem(RAW_TEXT, raw ? "1" : "0"); } catch (error) { /* private mode: this page only */ }
  document.documentElement.classList.toggle("show-raw", raw);
  applyRawText();
});
document.addEventListener("DOMContentLoaded", applyRawText);
document.addEventListener("htmx:load", applyRawText);
