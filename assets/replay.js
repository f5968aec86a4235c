/* The replay of the drive, played in the browser (loaded by Dash from assets/).
 *
 * Play (or Step) takes the sol range the page shows (#sol-min, #sol-max). When no frames
 * are held for it, it asks the server once: it writes the range into the replay-request
 * store, the server answers with dashboard.page.replay.page_replay (the worker's replay
 * figure and frame states, each frame's sol, date, odometry and elevation) and the
 * clientside callback dash_clientside.ptReplay.take hands it here. The map's still parts
 * are drawn once (#replay-still); every frame is then drawn with Plotly.react into a
 * transparent layer above them (#replay-moving), without a server round trip: the first
 * points of the growing traces (views into the typed arrays already held), the rover's
 * marker and the stamp; the readout above the plot follows.
 *
 * Playing keeps a steady pace in sols a second (the speed radio items): each animation
 * frame shows the frame of the sol the clock has reached, skipping frames when drawing
 * is slower than the pace. Pausing (or the end) moves the range's end slider to the sol
 * shown (the page's range callback then updates the URL and the charts); pressing Play
 * on that range goes on from there, or from the start once the end was reached.
 *
 * prefers-reduced-motion: reduce: nothing moves by itself. Play becomes "Step": each press
 * (of it or of Step) shows the frame one second of the chosen speed later (e.g. 30 sols),
 * drawn at once with no frames in between, and leaves the range's end at the sol shown. */
(function () {
  "use strict";
  var ID = {
    play: "replay-play",
    step: "replay-step",
    speed: "replay-speed",
    readout: "replay-readout",
    plot: "replay-plot",
    still: "replay-still",
    settled: "replay-settled",
    moving: "replay-moving",
    status: "replay-status",
    request: "replay-request",
    min: "sol-min",
    max: "sol-max",
    range: "sol-range",
  };
  var TYPES = {
    f4: Float32Array,
    f8: Float64Array,
    i1: Int8Array,
    u1: Uint8Array,
    i2: Int16Array,
    u2: Uint16Array,
    i4: Int32Array,
    u4: Uint32Array,
  };
  var CONFIG = { displaylogo: false, displayModeBar: false, responsive: true, scrollZoom: false };
  var STATIC = { staticPlot: true, displayModeBar: false };
  var SETTLE_EVERY = 8; // frames drawn between two redraws of the settled layer
  var replay = null; // {spec, data, layout, growing, gd, sd, od, overlay, k, settled, since}
  var playing = false;
  var drawing = false;
  var anchor = null; // {t, sol}: when the pace was last set, and the sol shown then
  var pending = null; // "play" or "step": what to do once the asked-for frames arrive
  var asked = 0;
  var stats = { drawn: 0, ms: 0 }; // frames drawn while playing, and the time they took

  function el(id) {
    return document.getElementById(id);
  }

  function reduced() {
    return !!(window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches);
  }

  function setProps(id, props) {
    window.dash_clientside.set_props(id, props);
  }

  // --- the frames --------------------------------------------------------------------------

  function typed(spec) {
    if (!spec || typeof spec.bdata !== "string" || !TYPES[spec.dtype]) return spec;
    var raw = atob(spec.bdata);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return new TYPES[spec.dtype](bytes.buffer);
  }

  function part(values, from, to) {
    if (values && typeof values.subarray === "function") return values.subarray(from, to);
    return Array.isArray(values) ? values.slice(from, to) : values;
  }

  // Points from..to-1 of a trace (from: 0 unless given); one with none keeps one undrawn
  // point (plotly drops a trace with no point at all from the legend)
  function points(trace, to, from) {
    from = from || 0;
    var some = to > from;
    var out = Object.assign({}, trace, {
      x: some ? part(trace.x, from, to) : [NaN],
      y: some ? part(trace.y, from, to) : [NaN],
    });
    if (trace.marker && trace.marker.color && typeof trace.marker.color === "object") {
      out.marker = Object.assign({}, trace.marker, { color: part(trace.marker.color, from, some ? to : from + 1) });
    }
    return out;
  }

  function rover(k) {
    var at = replay.spec.frames[k].rover;
    var trace = replay.data[replay.spec.rover];
    return Object.assign({}, trace, { x: at ? [at[0]] : [NaN], y: at ? [at[1]] : [NaN] });
  }

  // Three layers of the same size, margins and ranges (as the worker's video draws them,
  // dashboard/exports/video.py): the still parts drawn once (axes, relief, legend, colour
  // bar, the whole path ahead, the scale bar; the growing traces with no point, so the
  // legend keeps them); above them, transparent, the path and points "settled" up to a
  // frame, redrawn every SETTLE_EVERY frames drawn; on top, what came since (the newest
  // stretch of path and points, the rover, the stamp), redrawn every frame. A frame then
  // redraws a few points instead of the whole map.
  function layered(trace) {
    var out = Object.assign({}, trace, { showlegend: false });
    if (out.marker) out.marker = Object.assign({}, out.marker, { showscale: false });
    return out;
  }

  function settledData(k) {
    var cuts = replay.spec.frames[k].cuts;
    return replay.growing.map(function (i) {
      return layered(points(replay.data[i], cuts[i]));
    });
  }

  function newestData(k) {
    var cuts = replay.spec.frames[k].cuts;
    var settled = replay.spec.frames[replay.settled].cuts;
    var out = replay.growing.map(function (i) {
      // a line goes on from the last vertex the settled layer drew
      var trace = replay.data[i];
      var lines = String(trace.mode || "").indexOf("lines") >= 0;
      return layered(points(trace, cuts[i], Math.max(settled[i] - (lines ? 1 : 0), 0)));
    });
    out.push(layered(rover(k)));
    return out;
  }

  function stillFigure() {
    var spec = replay.spec;
    var moving = replay.growing.concat([spec.rover]);
    var data = replay.data.map(function (trace, i) {
      return moving.indexOf(i) >= 0 ? points(trace, 0) : trace;
    });
    var annotations = replay.layout.annotations.filter(function (_, i) {
      return i !== spec.stamp;
    });
    return { data: data, layout: Object.assign({}, replay.layout, { annotations: annotations }) };
  }

  // the moving layer's layout: where plotly put the still layer's plot area, and its ranges
  // (the map keeps its aspect ratio: plotly widens one range to the plot area's shape)
  function overlayLayout() {
    var full = replay.gd._fullLayout;
    var size = full._size;
    var axis = function (range) {
      return { range: range.slice(), autorange: false, visible: false, fixedrange: true };
    };
    return {
      width: full.width,
      height: full.height,
      autosize: false,
      showlegend: false,
      font: replay.layout.font,
      template: replay.layout.template,
      hovermode: false,
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      margin: { l: size.l, r: size.r, t: size.t, b: size.b, pad: size.p || 0, autoexpand: false },
      xaxis: axis(full.xaxis.range),
      yaxis: axis(full.yaxis.range),
      annotations: [replay.layout.annotations[replay.spec.stamp]],
    };
  }

  function frameLayout(k) {
    var stamp = Object.assign({}, replay.overlay.annotations[0], { text: replay.spec.frames[k].stamp });
    return Object.assign({}, replay.overlay, { annotations: [stamp] });
  }

  function frameAtSol(sol) {
    // the last frame whose sol is at most ``sol`` (the first frame when none is)
    var sols = replay.spec.sols;
    var lo = 0;
    var hi = sols.length - 1;
    while (lo < hi) {
      var mid = (lo + hi + 1) >> 1;
      if (sols[mid] <= sol) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  function lastFrame() {
    return replay.spec.sols.length - 1;
  }

  function number(value, digits, unit) {
    return value === null || value === undefined ? "unknown" : value.toFixed(digits) + " " + unit;
  }

  function readout(k) {
    var spec = replay.spec;
    var out = el(ID.readout);
    if (!out) return;
    out.textContent =
      "Sol " + spec.sols[k] + " · " + spec.dates[k] + " (UTC) · odometry " +
      number(spec.odometry_km[k], 2, "km") + " · elevation " + number(spec.elevation_m[k], 1, "m");
    out.setAttribute("data-sol", String(spec.sols[k]));
    out.setAttribute("data-frame", String(k));
  }

  function draw(k) {
    drawing = true;
    replay.k = k;
    readout(k);
    var t0 = performance.now();
    var settle = Promise.resolve();
    if (k < replay.settled || replay.since >= SETTLE_EVERY) {
      replay.settled = k;
      replay.since = 0;
      settle = Plotly.react(replay.sd, settledData(k), Object.assign({}, replay.overlay, { annotations: [] }), STATIC);
    }
    replay.since += 1;
    return settle
      .then(function () {
        return Plotly.react(replay.od, newestData(k), frameLayout(k), STATIC);
      })
      .then(
      function () {
        drawing = false;
        if (playing) {
          stats.drawn += 1;
          stats.ms += performance.now() - t0;
        }
      },
      function () {
        drawing = false;
      },
    );
  }

  // --- playing -------------------------------------------------------------------------------

  function speed() {
    var checked = document.querySelector("#" + ID.speed + " input:checked");
    var value = checked ? parseFloat(checked.value) : NaN;
    return value > 0 ? value : 30;
  }

  function label() {
    var button = el(ID.play);
    if (!button) return;
    if (reduced()) {
      button.textContent = "Step";
      button.setAttribute("aria-label", "Step the replay forward (reduced motion: no animation)");
      button.removeAttribute("aria-pressed");
    } else {
      button.textContent = playing ? "Pause" : "Play";
      button.setAttribute("aria-label", playing ? "Pause the replay" : "Play the replay");
      button.setAttribute("aria-pressed", playing ? "true" : "false");
    }
  }

  function say(text) {
    var status = el(ID.status);
    if (status) status.textContent = text;
  }

  function leaveRangeAt(k, words) {
    var spec = replay.spec;
    if (shownRover() !== null && spec.rover_name !== shownRover()) return; // another rover's frames: its range is not this one's
    setProps(ID.range, { value: [spec.range[0], spec.sols[k]] });
    say(words + " sol " + spec.sols[k] + " (" + spec.dates[k] + ").");
  }

  function stop(words) {
    playing = false;
    anchor = null;
    label();
    if (replay) leaveRangeAt(replay.k, words);
  }

  function tick(now) {
    if (!playing) return;
    if (!drawing) {
      if (anchor === null) anchor = { t: now, sol: replay.spec.sols[replay.k] };
      var k = frameAtSol(Math.floor(anchor.sol + ((now - anchor.t) / 1000) * speed()));
      if (replay.k === lastFrame()) {
        stop("The replay ended at");
        return;
      }
      if (k !== replay.k) draw(k);
    }
    window.requestAnimationFrame(tick);
  }

  function play() {
    playing = true;
    anchor = null;
    label();
    say("Playing from sol " + replay.spec.sols[replay.k] + ".");
    window.requestAnimationFrame(tick);
  }

  function step(fresh) {
    var k = fresh ? replay.k : frameAtSol(replay.spec.sols[replay.k] + speed());
    draw(k).then(function () {
      leaveRangeAt(k, k === lastFrame() ? "The replay ended at" : "Stepped to");
    });
  }

  // --- the frames for the range shown ------------------------------------------------------------

  function shownRange() {
    var a = parseInt((el(ID.min) || {}).value, 10);
    var b = parseInt((el(ID.max) || {}).value, 10);
    return isNaN(a) || isNaN(b) ? null : [Math.min(a, b), Math.max(a, b)];
  }

  // Where ``range`` goes on in the frames held: from the frame shown (its end is the sol
  // shown, as a pause leaves it), from the start (the replay's own range), or nowhere (-1)
  // The rover the page shows (its switch); frames of another rover are never resumed
  function shownRover() {
    var checked = document.querySelector("#rover-switch input:checked");
    return checked ? checked.value : null;
  }

  function resumeAt(range) {
    if (!replay || replay.spec.range[0] !== range[0]) return -1;
    if (shownRover() !== null && replay.spec.rover_name !== shownRover()) return -1;
    if (replay.spec.sols[replay.k] === range[1]) return replay.k === lastFrame() ? 0 : replay.k;
    return replay.spec.range[1] === range[1] ? 0 : -1;
  }

  function begin(mode) {
    var range = shownRange();
    if (range === null) return;
    var k = resumeAt(range);
    if (k < 0) {
      asked += 1;
      pending = mode;
      say("Loading the replay of sols " + range[0] + " to " + range[1] + "…");
      setProps(ID.request, { data: { sol_min: range[0], sol_max: range[1], n: asked } });
      return;
    }
    var fresh = k !== replay.k;
    if (mode === "step") {
      if (fresh) replay.k = k;
      step(fresh);
    } else if (fresh) {
      draw(k).then(play);
    } else {
      play();
    }
  }

  function layersIn(container) {
    return [ID.still, ID.settled, ID.moving].map(function (id) {
      var div = el(id);
      if (!div) {
        div = document.createElement("div");
        div.id = id;
        div.className = "replay-layer " + id;
        container.appendChild(div);
      }
      return div;
    });
  }

  function take(spec) {
    var noUpdate = window.dash_clientside.no_update;
    if (spec && spec.asked === asked && spec.error) {
      pending = null; // nothing will come for this request: say why, in the server's words
      say(spec.error);
      return noUpdate;
    }
    if (!spec || spec.asked !== asked || !spec.frames || !spec.frames.length) return noUpdate;
    var gd = el(ID.plot);
    if (!gd || !window.Plotly) {
      say("The replay could not be drawn: the chart library is not loaded yet; press Play again.");
      return noUpdate;
    }
    var data = spec.figure.data.map(function (trace) {
      var out = Object.assign({}, trace, { x: typed(trace.x), y: typed(trace.y) });
      if (trace.marker) out.marker = Object.assign({}, trace.marker, { color: typed(trace.marker.color) });
      return out;
    });
    var layout = Object.assign({}, spec.figure.layout, { autosize: true, height: gd.clientHeight || undefined });
    delete layout.width;
    layout.xaxis = Object.assign({}, layout.xaxis, { fixedrange: true });
    layout.yaxis = Object.assign({}, layout.yaxis, { fixedrange: true });
    var growing = data
      .map(function (_, i) {
        return i;
      })
      .filter(function (i) {
        var cut = spec.frames[0].cuts[i];
        return i !== spec.rover && cut !== null && cut !== undefined;
      });
    var layers = layersIn(gd);
    layers.forEach(function (div) {
      Plotly.purge(div);
    });
    replay = {
      spec: spec,
      data: data,
      layout: layout,
      growing: growing,
      gd: layers[0],
      sd: layers[1],
      od: layers[2],
      overlay: null,
      k: 0,
      settled: 0,
      since: SETTLE_EVERY,
    };
    var mode = pending;
    pending = null;
    var still = stillFigure();
    var mine = replay;
    Plotly.newPlot(replay.gd, still.data, still.layout, CONFIG)
      .then(function () {
        if (replay !== mine) return null;
        replay.overlay = overlayLayout();
        // the still layer follows the window's width: the moving one follows it
        replay.gd.on("plotly_afterplot", function () {
          if (replay !== mine || !replay.overlay) return;
          replay.overlay = overlayLayout();
          replay.since = SETTLE_EVERY; // every layer again, at the new size
          if (!drawing) draw(replay.k);
        });
        return draw(0);
      })
      .then(function () {
        if (replay !== mine) return;
        if (mode === "step") step(true);
        else if (mode === "play") play();
      });
    return { range: spec.range, frames: spec.frames.length };
  }

  // --- the controls --------------------------------------------------------------------------

  document.addEventListener("click", function (event) {
    var target = event.target && event.target.closest ? event.target.closest("#" + ID.play + ", #" + ID.step) : null;
    if (!target || (replay && !replay.overlay)) return; // (the frames are still being laid out)
    if (target.id === ID.step || reduced()) {
      if (playing) stop("Paused at");
      else begin("step");
    } else if (playing) {
      stop("Paused at");
    } else {
      begin("play");
    }
  });

  document.addEventListener("change", function (event) {
    // a new speed while playing: the new pace counts from the frame shown
    if (event.target && event.target.closest && event.target.closest("#" + ID.speed)) anchor = null;
    // another rover: the replay of this one stops, and its frames are let go
    if (event.target && event.target.closest && event.target.closest("#rover-switch") && (replay || pending)) {
      playing = false;
      anchor = null;
      pending = null;
      asked += 1; // frames still on their way are the other rover's: not taken
      label();
      say("The replay stopped: another rover is shown. Press Play to replay its drive.");
    }
  });

  if (window.matchMedia) {
    var query = window.matchMedia("(prefers-reduced-motion: reduce)");
    var changed = function () {
      if (reduced() && playing) stop("Paused at");
      label();
    };
    if (query.addEventListener) query.addEventListener("change", changed);
  }

  // Dash renders the layout after this script runs: label Play once it is there
  function look() {
    if (!el(ID.play)) return false;
    label();
    return true;
  }
  if (!look()) {
    var observer = new MutationObserver(function () {
      if (look()) observer.disconnect();
    });
    observer.observe(document.documentElement, { subtree: true, childList: true });
  }

  window.dash_clientside = window.dash_clientside || {};
  window.dash_clientside.ptReplay = {
    take: take,
    stats: function () {
      return { drawn: stats.drawn, ms: stats.ms };
    },
  };
})();
