"use strict";
(function () {
  var root = document.documentElement;
  function recordError(message) {
    var previous = root.getAttribute("data-errors");
    root.setAttribute("data-errors", (previous ? previous + " | " : "") + message);
    var box = document.getElementById("report-errors");
    if (box) { box.textContent = "The report's charts failed: " + root.getAttribute("data-errors"); }
  }
  window.onerror = function (message, source, line) { recordError(message + " (line " + line + ")"); };

  var SVG = "http://www.w3.org/2000/svg";
  var COLORS = { queue_ms: "--queue", dns_ms: "--dns", connect_ms: "--connect", tls_ms: "--tls",
    ttfb_ms: "--ttfb", download_ms: "--download", other: "--other", total_ms: "--total" };
  function el(name, attrs, parent) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (parent) { parent.appendChild(node); }
    return node;
  }
  function color(key) { return "var(" + COLORS[key] + ")"; }
  function fmt(ms) {
    if (ms >= 1000) { return (ms / 1000).toFixed(ms >= 10000 ? 0 : 1) + " s"; }
    if (ms >= 10) { return ms.toFixed(0) + " ms"; }
    if (ms >= 1) { return ms.toFixed(1) + " ms"; }
    return ms.toPrecision(1) + " ms";
  }
  function edge(ms) {
    if (ms >= 1000) { return (ms / 1000) + "s"; }
    return String(ms);
  }

  function histogram(figure, phase, figures) {
    var bins = figures.histogram, width = 340, height = 150, pad = 22, top = 12;
    var svg = el("svg", { viewBox: "0 0 " + width + " " + height, width: "100%", role: "img",
      "aria-label": phase + " latency distribution", "class": "histogram" }, figure);
    var most = Math.max.apply(null, bins.map(function (b) { return b.count; })) || 1;
    var step = (width - 2 * pad) / bins.length;
    var labelEvery = Math.max(1, Math.ceil(30 / step));  // edge labels ~30 px apart at least
    bins.forEach(function (bin, i) {
      var h = (height - pad - top) * bin.count / most;
      var bar = el("rect", { x: pad + i * step + 1, y: height - pad - h, width: Math.max(step - 2, 1),
        height: h, fill: color(phase), rx: 2, "class": "bin" }, svg);
      el("title", {}, bar).textContent = edge(bin.lo) + "–" + edge(bin.hi) + " ms: " + bin.count;
      if (i % labelEvery === 0) {
        el("text", { x: pad + i * step, y: height - 8 }, svg).textContent = edge(bin.lo);
      }
    });
    el("line", { x1: pad, x2: width - pad, y1: height - pad, y2: height - pad, stroke: "#d0d5dd" }, svg);
    el("text", { x: 2, y: top }, svg).textContent = String(most);
    [["p50", "--ink", 8], ["p99", "--bad", 18]].forEach(function (mark) {
      var value = figures[mark[0]], index = bins.findIndex(function (b) { return value < b.hi; });
      if (index < 0) { index = bins.length - 1; }
      var bin = bins[index], inside = bin.hi > bin.lo ? (value - bin.lo) / (bin.hi - bin.lo) : 0;
      var x = pad + (index + Math.min(Math.max(inside, 0), 1)) * step;
      el("line", { x1: x, x2: x, y1: top, y2: height - pad, stroke: "var(" + mark[1] + ")",
        "stroke-dasharray": "3 2" }, svg);
      el("text", { x: x + 2, y: top + mark[2] }, svg).textContent = mark[0];
    });
    return 1;
  }

  function stacked(row, entry, longest) {
    var width = 600, height = 18;
    var svg = el("svg", { viewBox: "0 0 " + width + " " + height, width: "100%", height: height,
      preserveAspectRatio: "none", "class": "phases" }, row);
    var known = 0, x = 0, scale = width / longest;
    var parts = ["queue_ms", "dns_ms", "connect_ms", "tls_ms", "ttfb_ms", "download_ms"].map(function (key) {
      var value = entry[key] || 0; known += value; return [key, value];
    });
    parts.push(["other", Math.max(entry.total_ms - known, 0)]);
    parts.forEach(function (part) {
      if (!part[1]) { return; }
      var w = part[1] * scale;
      var rect = el("rect", { x: x, y: 0, width: Math.max(w, 0.5), height: height, fill: color(part[0]),
        "class": "segment", "data-phase": part[0] }, svg);
      el("title", {}, rect).textContent = part[0].replace("_ms", "") + ": " + fmt(part[1]);
      x += w;
    });
    return 1;
  }

  var drawn = 0;
  try {
    var data = JSON.parse(document.getElementById("report-data").textContent);
    document.querySelectorAll("figure[data-phase]").forEach(function (figure) {
      var phase = figure.getAttribute("data-phase");
      drawn += histogram(figure, phase, data.phases[phase]);
    });
    var longest = Math.max.apply(null, data.slowest.map(function (s) { return s.total_ms; })) || 1;
    document.querySelectorAll(".slow-row[data-index]").forEach(function (row) {
      var entry = data.slowest[Number(row.getAttribute("data-index"))];
      drawn += stacked(row.querySelector(".bar"), entry, longest);
    });
  } catch (error) {
    recordError(String(error && error.stack || error));
  }
  root.setAttribute("data-charts", String(drawn));
  root.setAttribute("data-rendered", root.hasAttribute("data-errors") ? "failed" : "ok");
})();
