/* The open page follows new data (loaded by Dash from assets/).
 *
 * Polls the version route every data-poll-seconds (the hidden #live-config element's
 * data-* attributes, written by dashboard/page/layout.py; 0 turns polling off) with
 * If-None-Match, so an unchanged answer is a bodiless 304. When the dataset version or
 * the load record's state (failing since, error) changed, it counts the change into the
 * Dash store named by data-store: the page's callbacks then take the new version (range,
 * charts once, notice) or redraw the now card. No Dash callback runs for a 304.
 *
 * A hidden tab does not poll; it polls once when it becomes visible again, then on the
 * usual schedule. The first poll comes after the page's own first callbacks (within
 * FIRST_POLL_SECONDS, not to compete with them for the server): it fetches the ETag, and
 * notices a version loaded since the page was built (data-version: the page's).
 *
 * The route is the shown rover's (data-url's {rover}): the one the address names
 * (rover=curiosity), else data-default-rover. After a switch of rover the next poll starts
 * afresh (no ETag, nothing seen) and its answer is counted: the page's callback compares
 * it with the version it shows. */
(function () {
  "use strict";
  var CONFIG_ID = "live-config";
  var FIRST_POLL_SECONDS = 3;
  var config = null;
  var etag = null;
  var seen = null; // the version and load state the page shows, as one key
  var changes = 0;
  var timer = null;
  var inFlight = false;
  var rover = null; // the rover the ETag and "seen" are for

  function shownRover() {
    var named = new URLSearchParams(window.location.search).get("rover");
    return named && config.rovers.indexOf(named) >= 0 ? named : config.defaultRover;
  }

  function keyOf(answer) {
    return [answer.version || "", answer.failing_since || "", answer.error || ""].join("\n");
  }

  function take(answer) {
    var key = keyOf(answer);
    var first = seen === null;
    if (!first && key === seen) return;
    seen = key;
    if (first && (answer.version || "") === config.version) return;
    changes += 1;
    var props = {};
    props.data = changes;
    window.dash_clientside.set_props(config.store, props);
  }

  function poll() {
    if (inFlight || document.visibilityState === "hidden") return;
    var now = shownRover();
    if (now !== rover) {
      if (rover !== null) {
        // another rover: start afresh. Its first answer always counts as a change: the
        // page's callback then compares it with the version the page shows (a version
        // loaded since the switch is taken; the same one costs one cheap round trip)
        etag = null;
        seen = null;
        config.version = null;
      }
      rover = now;
    }
    inFlight = true;
    var headers = etag ? { "If-None-Match": etag } : {};
    // no-store: the browser adds no validators of its own, so a 304 reaches this code
    fetch(config.url.replace("{rover}", encodeURIComponent(rover)), { headers: headers, cache: "no-store", credentials: "same-origin" })
      .then(function (resp) {
        if (resp.status !== 200) return null; // 304: nothing new; an error: the next poll tries again
        etag = resp.headers.get("ETag");
        return resp.json();
      })
      .then(function (answer) {
        if (answer) take(answer);
      })
      .catch(function () {
        /* offline or the server restarting: the next poll tries again */
      })
      .then(function () {
        inFlight = false;
      });
  }

  function stop() {
    if (timer !== null) clearTimeout(timer); // the first poll's timeout or the interval: one pool
    timer = null;
  }

  function schedule() {
    stop();
    if (document.visibilityState !== "hidden") timer = setInterval(poll, config.seconds * 1000);
  }

  function onVisibility() {
    if (document.visibilityState === "hidden") {
      stop();
    } else {
      poll();
      schedule();
    }
  }

  function start(element) {
    var seconds = parseFloat(element.getAttribute("data-poll-seconds"));
    if (!(seconds > 0) || !window.dash_clientside || !window.dash_clientside.set_props) return;
    config = {
      seconds: seconds,
      url: element.getAttribute("data-url"),
      version: element.getAttribute("data-version") || "",
      store: element.getAttribute("data-store"),
      rovers: (element.getAttribute("data-rovers") || "").split(","),
      defaultRover: element.getAttribute("data-default-rover"),
    };
    document.addEventListener("visibilitychange", onVisibility);
    timer = setTimeout(function () {
      timer = null;
      poll();
      schedule();
    }, Math.min(seconds, FIRST_POLL_SECONDS) * 1000);
  }

  // Dash renders the layout after this script runs: wait for the config element
  function look() {
    var element = document.getElementById(CONFIG_ID);
    if (!element) return false;
    start(element);
    return true;
  }
  if (!look()) {
    var observer = new MutationObserver(function () {
      if (look()) observer.disconnect();
    });
    observer.observe(document.documentElement, { subtree: true, childList: true });
  }
})();
