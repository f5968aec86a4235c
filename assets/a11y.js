/* Accessibility fix for Dash 4.4's RadioItems / Checklist (loaded by Dash from assets/).
 *
 * Dash renders each option as <label role="option" aria-selected=...> around a native
 * <input type="radio">: an interactive role wrapping an interactive control (axe-core:
 * "nested-interactive", serious), and an "option" outside any listbox. A native radio in
 * a plain <label> is already fully accessible (name, state, arrow keys), so the role is
 * dropped whenever Dash (re)renders one, and the "listbox" around them becomes what it
 * is: a radiogroup (radios) or a group (checkboxes). Dash's real listbox (dcc.Dropdown)
 * is untouched: only labels that wrap an <input> are changed. */
(function () {
  "use strict";
  // (React sets aria-selected again on a label whose option got chosen or unchosen, after
  // its role was dropped: a label with either is fixed)
  var SELECTOR = 'label.dash-options-list-option[role="option"], label.dash-options-list-option[aria-selected]';
  function fix() {
    var labels = document.querySelectorAll(SELECTOR);
    for (var i = 0; i < labels.length; i++) {
      var input = labels[i].querySelector("input");
      if (!input) continue;
      var list = labels[i].closest('[role="listbox"]');
      labels[i].removeAttribute("role");
      labels[i].removeAttribute("aria-selected");
      if (list) list.setAttribute("role", input.type === "radio" ? "radiogroup" : "group");
    }
  }
  new MutationObserver(fix).observe(document.documentElement, {
    subtree: true, childList: true, attributes: true, attributeFilter: ["role", "aria-selected"]
  });
  fix();
})();
