// The Playground: streams a chat completion from this gateway's /v1 with a pasted key.
// The key lives in sessionStorage only; every text the page shows is set as textContent.
(function () {
  "use strict";
  var form = document.getElementById("playground");
  if (!form) return;
  var KEY_STORE = "jinf.playground.key";
  var $ = function (id) { return document.getElementById(id); };
  var turns = $("pg-turns"), template = $("pg-turn");
  var keyInput = $("pg-key"), answer = $("pg-answer"), errorBox = $("pg-error");
  var sendButton = $("pg-send"), stopButton = $("pg-stop"), keepButton = $("pg-keep");
  var controller = null;

  function addTurn(role, content) {
    var node = template.content.firstElementChild.cloneNode(true);
    node.querySelector("[data-role]").value = role;
    node.querySelector("[data-content]").value = content || "";
    node.querySelector("[data-remove]").addEventListener("click", function () {
      node.remove();
    });
    turns.appendChild(node);
    return node;
  }

  function messages() {
    var out = [];
    turns.querySelectorAll(".turn").forEach(function (turn) {
      var content = turn.querySelector("[data-content]").value;
      if (content.trim()) out.push({ role: turn.querySelector("[data-role]").value, content: content });
    });
    return out;
  }

  function showError(text) {
    errorBox.textContent = text;
    errorBox.hidden = false;
  }

  function ms(value) { return Math.round(value) + " ms"; }

  function usd(value) {
    if (typeof value !== "number") return "—";
    var text = value.toFixed(value >= 0.01 ? 4 : 8).replace(/0+$/, "").replace(/\.$/, ".00");
    if (/\.\d$/.test(text)) text += "0";
    return "$" + text;
  }

  function showStats(usage, ttfb, total) {
    $("pg-input-tokens").textContent = usage ? String(usage.prompt_tokens) : "—";
    $("pg-output-tokens").textContent = usage ? String(usage.completion_tokens) : "—";
    $("pg-cost").textContent = usage ? usd(usage.cost) : "—";
    $("pg-cost").title = usage && typeof usage.cost === "number" ? "USD " + usage.cost : "";
    $("pg-ttfb").textContent = ttfb === null ? "—" : ms(ttfb);
    $("pg-latency").textContent = ms(total);
    $("pg-stats").hidden = false;
  }

  function errorMessage(body, status) {
    try {
      var parsed = JSON.parse(body);
      if (parsed && parsed.error && parsed.error.message) return parsed.error.message;
    } catch (e) { /* not JSON */ }
    return "The gateway answered " + status + ".";
  }

  async function send(event) {
    event.preventDefault();
    var key = keyInput.value.trim();
    errorBox.hidden = true;
    keepButton.hidden = true;
    $("pg-stats").hidden = true;
    answer.textContent = "";
    if (!key) { showError("Paste an API key first."); keyInput.focus(); return; }
    var body = {
      model: $("pg-model").value,
      messages: messages(),
      stream: true,
      stream_options: { include_usage: true },
    };
    if (!body.messages.length) { showError("Write a message first."); return; }
    controller = new AbortController();
    sendButton.disabled = true;
    stopButton.disabled = false;
    var started = performance.now(), ttfb = null, usage = null, failed = false;
    try {
      var response = await fetch("/v1/chat/completions", {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: "Bearer " + key },
        body: JSON.stringify(body),
        signal: controller.signal,
        credentials: "omit",
      });
      if (!response.ok || !response.body) {
        showError(errorMessage(await response.text(), response.status));
        return;
      }
      var reader = response.body.getReader(), decoder = new TextDecoder(), buffer = "";
      var done = false;
      while (!done) {
        var chunk = await reader.read();
        if (chunk.done) break;
        buffer += decoder.decode(chunk.value, { stream: true });
        var lines = buffer.split("\n");
        buffer = lines.pop();
        for (var i = 0; i < lines.length; i++) {
          var line = lines[i].replace(/\r$/, "");
          if (line.indexOf("data:") !== 0) continue;
          var data = line.slice(5).trim();
          if (data === "[DONE]") { done = true; break; }
          var event_;
          try { event_ = JSON.parse(data); } catch (e) { continue; }
          if (event_.error) { failed = true; showError(event_.error.message || "The stream failed."); continue; }
          var choice = event_.choices && event_.choices[0];
          var text = choice && choice.delta && choice.delta.content;
          if (text) {
            if (ttfb === null) ttfb = performance.now() - started;
            answer.textContent += text;
          }
          if (event_.usage) usage = event_.usage;
        }
      }
      if (!failed && answer.textContent) keepButton.hidden = false;
    } catch (err) {
      if (err.name === "AbortError") showError("Stopped.");
      else showError("The call failed: " + err.message);
    } finally {
      showStats(usage, ttfb, performance.now() - started);
      controller = null;
      sendButton.disabled = false;
      stopButton.disabled = true;
    }
  }

  try { keyInput.value = sessionStorage.getItem(KEY_STORE) || ""; } catch (e) { /* storage off */ }
  keyInput.addEventListener("input", function () {
    try { sessionStorage.setItem(KEY_STORE, keyInput.value.trim()); } catch (e) { /* storage off */ }
  });
  $("pg-add").addEventListener("click", function () {
    addTurn("user", "").querySelector("textarea").focus();
  });
  stopButton.addEventListener("click", function () { if (controller) controller.abort(); });
  keepButton.addEventListener("click", function () {
    addTurn("assistant", answer.textContent);
    addTurn("user", "").querySelector("textarea").focus();
    keepButton.hidden = true;
  });
  form.addEventListener("submit", send);
  addTurn("system", "You are a helpful assistant.");
  addTurn("user", "");
})();
