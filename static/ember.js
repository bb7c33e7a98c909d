// Keyboard control for the rater screens: a key clicks the visible control with data-key.
document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target;
  if (target instanceof HTMLElement && target.closest("input, textarea, select, [contenteditable]")) return;
  const key = event.key === "Enter" ? "n" : event.key.toLowerCase();
  const control = document.querySelector(`#item-panel [data-key="${CSS.escape(key)}"]:not([disabled])`);
  if (control) {
    event.preventDefault();
    control.click();
  }
});
