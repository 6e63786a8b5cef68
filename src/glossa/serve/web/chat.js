// The chat page: keep the conversation, stream each reply from /v1/chat/completions (SSE), and measure it.
// TTFT is the time from sending to the first content chunk; tokens/s is the decode rate after it,
// (completion tokens - 1) / (end - first token), with the token count taken from the final usage chunk.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const history = [];
  let running = null;

  function addMessage(role, text) {
    const div = document.createElement("div");
    div.className = `msg ${role}`;
    div.dataset.role = role;
    div.textContent = text;
    $("messages").append(div);
    div.scrollIntoView({ block: "end" });
    return div;
  }

  function settings() {
    const body = {
      model: $("model").value,
      temperature: Number($("temperature").value),
      top_p: Number($("top-p").value),
      max_tokens: Number($("max-tokens").value),
      stream: true,
      stream_options: { include_usage: true },
    };
    const topK = Number($("top-k").value);
    if (topK > 0) body.top_k = topK;
    return body;
  }

  function requestMessages() {
    const system = $("system").value.trim();
    return system ? [{ role: "system", content: system }, ...history] : [...history];
  }

  function showStats(start, first, end, tokens) {
    const parts = [];
    if (first !== null) parts.push(`TTFT ${Math.round(first - start)} ms`);
    if (first !== null && tokens > 1 && end > first) {
      parts.push(`${((tokens - 1) / ((end - first) / 1000)).toFixed(1)} tok/s`);
    }
    if (tokens) parts.push(`${tokens} tokens`);
    parts.push(`${Math.round(end - start)} ms total`);
    $("stats").textContent = parts.join(" · ");
  }

  async function send(text) {
    history.push({ role: "user", content: text });
    addMessage("user", text);
    const reply = addMessage("assistant", "");
    reply.classList.add("streaming");
    const controller = new AbortController();
    running = controller;
    $("send").disabled = true;
    $("stop").disabled = false;
    const start = performance.now();
    let first = null;
    let tokens = 0;
    let chunks = 0;
    let content = "";
    try {
      const response = await fetch("/v1/chat/completions", {
        method: "POST",
        headers: glossaApi.headers(),
        body: JSON.stringify({ ...settings(), messages: requestMessages() }),
        signal: controller.signal,
      });
      if (!response.ok) throw await glossaApi.errorFrom(response);
      await glossaApi.readEvents(response, (data) => {
        const chunk = JSON.parse(data);
        if (chunk.error) throw new Error(chunk.error.message);
        if (chunk.usage) tokens = chunk.usage.completion_tokens;
        const delta = chunk.choices && chunk.choices[0] && chunk.choices[0].delta;
        if (delta && delta.content) {
          if (first === null) first = performance.now();
          chunks += 1;
          content += delta.content;
          reply.textContent = content;
          showStats(start, first, performance.now(), tokens || chunks);
        }
      });
      history.push({ role: "assistant", content });
    } catch (error) {
      if (error.name !== "AbortError") {
        reply.classList.add("error");
        reply.textContent = content + (content ? "\n" : "") + `error: ${error.message}`;
      }
      history.pop();
    } finally {
      showStats(start, first, performance.now(), tokens || chunks);
      reply.classList.remove("streaming");
      reply.dataset.done = "true";
      running = null;
      $("send").disabled = false;
      $("stop").disabled = true;
    }
  }

  function bindSlider(id) {
    const update = () => ($(`${id}-value`).textContent = $(id).value);
    $(id).addEventListener("input", update);
    update();
  }

  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("prompt").value.trim();
    if (!text || running) return;
    $("prompt").value = "";
    send(text);
  });
  $("prompt").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      $("composer").requestSubmit();
    }
  });
  $("stop").addEventListener("click", () => running && running.abort());
  $("clear").addEventListener("click", () => {
    history.length = 0;
    $("messages").replaceChildren();
    $("stats").textContent = "";
  });
  $("api-key").value = glossaApi.apiKey();
  $("api-key").addEventListener("change", () => {
    glossaApi.setApiKey($("api-key").value.trim());
    loadModels();
  });
  bindSlider("temperature");
  bindSlider("top-p");

  async function loadModels() {
    try {
      await glossaApi.fillModelPicker($("model"));
      $("stats").textContent = "";
    } catch (error) {
      $("stats").textContent = `cannot list models: ${error.message}`;
    }
  }
  loadModels().then(() => document.body.classList.add("ready"));
})();
