/* The browser's own String.prototype.trim back, for speed (loaded by Dash from assets/,
 * after Dash's polyfills).
 *
 * Dash 4.4 loads @babel/polyfill 7.12 (core-js 2) on every page. core-js 2 still counts
 * U+180E (Mongolian vowel separator) as white space, which Unicode 6.3 stopped doing and
 * browsers followed; seeing the browser's trim keep it, core-js replaces trim with two
 * regular-expression replaces. plotly.js trims strings for every point it draws (each
 * colour it parses, each marker's transform), so the replacement took 13-19% of the CPU
 * time Chromium spent drawing this page's charts (bench/time_to_charts.py). The trim of a
 * fresh realm (an empty iframe, removed at once) is put back: it differs from core-js's
 * only on U+180E, which no text of this page holds. */
(function () {
  "use strict";
  if ("\u180E".trim() === "") {  // core-js's trim is in place
    var frame = document.createElement("iframe");
    frame.style.display = "none";
    document.documentElement.appendChild(frame);
    var trim = frame.contentWindow && frame.contentWindow.String.prototype.trim;
    frame.remove();
    if (trim && trim.call(" \t a \n") === "a") {
      String.prototype.trim = trim;
    }
  }
})();
