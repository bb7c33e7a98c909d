// Keyboard control for the rater screens. A key clicks the visible control with that data-key;
// "n" shows the preloaded next item at once; "g" opens the guidelines; Ctrl+Enter submits text.
function visible(element) {
  return element && !element.closest("[hidden]");
}

function control(key) {
  const candidates = document.querySelectorAll(`#item-panel [data-key="${CSS.escape(key)}"]:not([disabled])`);
  return Array.from(candidates).find(visible);
}

function showPreloadedNext() {
  const preloaded = document.getElementById("preloaded-next");
  const fresh = preloaded && preloaded.querySelector("section#item-panel");
  const panel = document.getElementById("item-panel");
  if (!fresh || !panel) return false;
  panel.replaceWith(fresh);
  window.htmx.process(fresh);
  return true;
}

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
