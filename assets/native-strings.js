/* The browser's own trim, parseFloat and parseInt back, for speed (loaded by Dash from
 * assets/, after Dash's polyfills).
 *
 * Dash 4.4 loads @babel/polyfill 7.12 (core-js 2) on every page. core-js 2 still counts
 * U+180E (Mongolian vowel separator) as white space, which Unicode 6.3 stopped doing and
 * browsers followed; seeing the browser's functions keep it, core-js replaces
 * String.prototype.trim (and trimLeft/trimRight, trimStart/trimEnd) with regular-expression
 * replaces, and parseFloat and parseInt (global and on Number) with wrappers that trim
 * first. plotly.js calls them for every point it draws (each colour it parses, each
 * marker's transform, each measured text), so the replacements took 13-19% of the CPU
 * time Chromium spent drawing this page's charts (bench/time_to_charts.py). The
 * functions of a fresh realm (an empty iframe, removed at once) are put back: they differ
 * from core-js's only on U+180E, which no text of this page holds. */
(function () {
  "use strict";
  var frame = document.createElement("iframe");
  frame.style.display = "none";
  document.documentElement.appendChild(frame);
  var realm = frame.contentWindow;
  frame.remove();
  if (!realm) return;
  function restore(target, name, source, works) {
    var own = source[name];
    if (typeof own === "function" && target[name] !== own && works(own)) target[name] = own;
  }
  var proto = String.prototype, native = realm.String.prototype;
  restore(proto, "trim", native, function (f) { return f.call(" \t a \n") === "a"; });
  ["trimStart", "trimEnd", "trimLeft", "trimRight"].forEach(function (name) {
    restore(proto, name, native, function (f) { return f.call(" a ").length === 2; });
  });
  [[window, realm], [Number, realm.Number]].forEach(function (pair) {
    restore(pair[0], "parseFloat", pair[1], function (f) { return f(" 1.5e3 ") === 1500; });
    restore(pair[0], "parseInt", pair[1], function (f) { return f(" 0x1f ") === 31 && f("12", 8) === 10; });
  });
})();
