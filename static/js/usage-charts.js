/* Draws the usage charts with uPlot from the page's json_script data:
 * {id, metric: "spend"|"tokens"|"requests", bucket: "day"|"hour" (day when absent),
 *  x: ["YYYY-MM-DD", ...] or ["YYYY-MM-DDTHH:00:00Z", ...] (UTC), series: [{label, values: [...]}]}.
 * Without scripts the page's tables carry the same figures. Times are shown in UTC, as the
 * rollups are cut. */
(function () {
  "use strict";
  var COLORS = ["#2e6ae6", "#e8590c", "#2f9e44", "#ae3ec9", "#f08c00", "#0c8599", "#c2255c", "#5f3dc4", "#868e96"];

  function format(metric, v) {
    if (v == null) return "";
    if (metric === "spend") {
      return "$" + (v >= 0.01 || v === 0 ? v.toFixed(2) : v.toPrecision(3));
    }
    return Math.round(v).toLocaleString("en-US");
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  // "2026-12-02" for a day, "2026-12-02 05:00 UTC" for an hour: the legend's x value.
  function when(hourly, ts) {
    if (ts == null) return "";
    var d = new Date(ts * 1000);
    var day = d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate());
    return hourly ? day + " " + pad(d.getUTCHours()) + ":00 UTC" : day;
  }

  // Hour ticks read "05:00"; a tick at midnight, or the first, also names its day; ticks
  // a day or more apart name only the day.
  function hourTicks(u, ticks) {
    var daily = ticks.length > 1 && ticks[1] - ticks[0] >= 86400;
    return ticks.map(function (ts, n) {
      var d = new Date(ts * 1000);
      var time = pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes());
      var day = pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate());
      if (daily) return day;
      return n > 0 && d.getUTCHours() !== 0 ? time : time + "\n" + day;
    });
  }

  function draw(dataId) {
    var node = document.getElementById(dataId);
    if (!node || typeof uPlot === "undefined") return;
    var data = JSON.parse(node.textContent);
    var box = document.getElementById(data.id);
    if (!box) return;
    var hourly = data.bucket === "hour";
    // Unix seconds, as uPlot takes them: a day is its UTC midnight, an hour is ISO already.
    var xs = data.x.map(function (x) {
      return Date.parse(x.length === 10 ? x + "T00:00:00Z" : x) / 1000;
    });
    var stacked = data.series.length > 1;
    var columns = [xs];
    var series = [{ value: function (u, ts) { return when(hourly, ts); } }];
    data.series.forEach(function (s, n) {
      var color = COLORS[n % COLORS.length];
      columns.push(s.values);
      series.push({
        label: s.label,
        stroke: color,
        fill: stacked ? null : color + "33",
        width: 2,
        points: { show: xs.length <= 45 },
        value: function (u, v) { return format(data.metric, v); },
      });
    });
    var plot = null;
    function size() {
      return { width: Math.max(box.clientWidth - 24, 200), height: window.innerWidth < 600 ? 220 : 300 };
    }
    var opts = Object.assign(size(), {
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); },
      scales: { x: { time: true }, y: { range: function (u, min, max) { return [0, max > 0 ? max * 1.1 : 1]; } } },
      axes: [
        hourly ? { values: hourTicks, size: 50 } : {},
        Object.assign(
          { size: 70, values: function (u, ticks) { return ticks.map(function (v) { return format(data.metric, v); }); } },
          // Requests and tokens are whole: ticks of 1, 2, 5 × 10^k, never halves shown rounded.
          data.metric === "spend" ? {} : { incrs: WHOLE_STEPS }
        ),
      ],
      legend: { live: true },
      series: series,
    });
    box.textContent = "";
    plot = new uPlot(opts, columns, box);
    box.dataset.rendered = "true";
    var pending = null;
    window.addEventListener("resize", function () {
      clearTimeout(pending);
      pending = setTimeout(function () { plot.setSize(size()); }, 100);
    });
  }

  var WHOLE_STEPS = [];
  for (var p = 1; p <= 1e15; p *= 10) { WHOLE_STEPS.push(p, 2 * p, 5 * p); }

  function start() {
    draw("home-spend-data");
    draw("usage-chart-data");
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
