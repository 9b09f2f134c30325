// Keyboard shortcuts for the frequent actions (the help overlay, opened with ?, lists them).
// A key does nothing while the person types in a field, or with Ctrl, Alt or Meta held (those
// belong to the browser).

const TYPING = new Set(["INPUT", "TEXTAREA", "SELECT"]);

export function typing(target) {
  return !!target && (TYPING.has(target.tagName) || target.isContentEditable);
}

// actions: { next, previous, open, acknowledge, approve, confirm, reject, escape, language,
// mute, help } — each a function; the key is consumed when it names one.
export function bindKeys(actions, target = document) {
  const map = {
    j: actions.next,
    ArrowDown: actions.next,
    k: actions.previous,
    ArrowUp: actions.previous,
    Enter: actions.open,
    a: actions.acknowledge,
    y: actions.approve,
    c: actions.confirm,
    r: actions.reject,
    Escape: actions.escape,
    l: actions.language,
    m: actions.mute,
    "?": actions.help,
  };
  const onKey = (ev) => {
    if (ev.ctrlKey || ev.altKey || ev.metaKey || ev.isComposing) return;
    if (typing(ev.target)) return;
    // Enter on a focused button presses the button, not the shortcut.
    if (ev.key === "Enter" && ev.target?.tagName === "BUTTON") return;
    const fn = map[ev.key];
    if (!fn) return;
    ev.preventDefault();
    // A held key repeats only the moving keys: a command is one press, one command.
    if (ev.repeat && fn !== actions.next && fn !== actions.previous) return;
    fn();
  };
  target.addEventListener("keydown", onKey);
  return () => target.removeEventListener("keydown", onKey);
}
