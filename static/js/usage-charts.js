/* Draws the usage charts with uPlot from the page's json_script data:
 * {id, metric: "spend"|"tokens"|"requests", x: ["YYYY-MM-DD", ...],
 *  series: [{label, values: [...]}]}. Without scripts the page's tables carry the same figures. */
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

  function draw(dataId) {
    var node = document.getElementById(dataId);
    if (!node || typeof uPlot === "undefined") return;
    var data = JSON.parse(node.textContent);
    var box = document.getElementById(data.id);
    if (!box) return;
    var xs = data.x.map(function (day) { return Date.parse(day + "T00:00:00Z") / 1000; });
    var stacked = data.series.length > 1;
    var columns = [xs];
    var series = [{}];
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
        {},
        { size: 70, values: function (u, ticks) { return ticks.map(function (v) { return format(data.metric, v); }); } },
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
