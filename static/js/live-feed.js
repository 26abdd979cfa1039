// The live feed page: one row per request from the organization's socket
// (/ws/orgs/<slug>/usage/). Values are written with textContent only.
"use strict";

(() => {
  const table = document.getElementById("live-feed");
  if (!table) return;
  const rows = document.getElementById("live-rows");
  const status = document.getElementById("live-status");
  const empty = document.getElementById("live-empty");
  const MAX_ROWS = 500;
  let delay = 1000;

  const setStatus = (state, text) => {
    status.dataset.state = state;
    status.textContent = text;
  };

  const dollars = (text) => {
    // Rounded to 6 decimals, at least cents; the exact figure goes in the title.
    const value = Number(text);
    if (!Number.isFinite(value)) return text;
    let shown = value.toFixed(6).replace(/0+$/, "");
    const [whole, frac = ""] = shown.split(".");
    shown = whole + "." + frac.padEnd(2, "0");
    return "$" + shown;
  };

  const cell = (row, text, opts = {}) => {
    const td = document.createElement("td");
    if (opts.num) td.className = "num";
    if (opts.title) td.title = opts.title;
    if (opts.badge) {
      const span = document.createElement("span");
      span.className = "status " + opts.badge;
      span.textContent = text;
      td.appendChild(span);
    } else {
      td.textContent = text;
    }
    row.appendChild(td);
  };

  const add = (r) => {
    const row = document.createElement("tr");
    row.className = "live-new";
    row.dataset.requestId = String(r.request_id);
    const at = new Date(r.created_at);
    const time = Number.isNaN(at.getTime()) ? String(r.created_at) : at.toISOString().slice(11, 19);
    cell(row, time, { title: String(r.created_at) });
    cell(row, r.key_prefix ? r.key_prefix + "…" : "—");
    cell(row, String(r.model));
    const ok = r.status === "ok";
    cell(row, r.status + " " + r.http_status, { badge: ok ? "live-status-ok" : "live-status-bad" });
    cell(row, String(r.input_tokens), { num: true });
    cell(row, String(r.output_tokens), { num: true });
    cell(row, dollars(r.cost_usd), { num: true, title: "$" + r.cost_usd });
    cell(row, Math.round(Number(r.latency_ms)) + " ms", { num: true });
    rows.insertBefore(row, rows.firstChild);
    while (rows.children.length > MAX_ROWS) rows.removeChild(rows.lastChild);
    if (empty) empty.hidden = true;
  };

  const connect = () => {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(scheme + location.host + table.dataset.wsPath);
    setStatus("connecting", "Connecting…");
    socket.addEventListener("open", () => {
      delay = 1000;
      setStatus("open", "Connected: waiting for requests.");
    });
    socket.addEventListener("message", (event) => {
      try {
        add(JSON.parse(event.data));
      } catch {
        // A message this page does not understand is skipped.
      }
    });
    socket.addEventListener("close", (event) => {
      if (event.code === 4403 || event.code === 4404) {
        setStatus("closed", "Not allowed to read this organization's feed. Sign in again.");
        return;
      }
      setStatus("closed", "Disconnected; reconnecting in " + Math.round(delay / 1000) + " s…");
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    });
  };

  connect();
})();
