// Shared by the chat and glossary pages: the API key, JSON calls, the model list and an SSE reader.
// Plain browser JavaScript, no build step and no libraries: fetch + ReadableStream + TextDecoder.
"use strict";

const glossaApi = (() => {
  const KEY_STORAGE = "glossa.apiKey";

  function apiKey() {
    return localStorage.getItem(KEY_STORAGE) || "";
  }

  function setApiKey(key) {
    if (key) localStorage.setItem(KEY_STORAGE, key);
    else localStorage.removeItem(KEY_STORAGE);
  }

  function headers() {
    const result = { "Content-Type": "application/json" };
    const key = apiKey();
    if (key) result.Authorization = `Bearer ${key}`;
    return result;
  }

  // An OpenAI-shaped error body becomes an Error with its message.
  async function errorFrom(response) {
    let message = `${response.status} ${response.statusText}`;
    try {
      const body = await response.json();
      if (body && body.error && body.error.message) message = body.error.message;
    } catch (_) {
      // not JSON: keep the status line
    }
    return new Error(message);
  }

  async function postJson(path, body, signal) {
    const response = await fetch(path, { method: "POST", headers: headers(), body: JSON.stringify(body), signal });
    if (!response.ok) throw await errorFrom(response);
    return response.json();
  }

  async function models() {
    const response = await fetch("/v1/models", { headers: headers() });
    if (!response.ok) throw await errorFrom(response);
    const body = await response.json();
    return body.data.map((model) => model.id);
  }

  async function fillModelPicker(select) {
    const previous = select.value;
    const names = await models();
    select.replaceChildren(...names.map((name) => new Option(name, name)));
    if (names.includes(previous)) select.value = previous;
    return names;
  }

  // Read a Server-Sent Events body: call onData(text) for each `data:` payload until `[DONE]` or the end.
  async function readEvents(response, onData) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, "");
        const data = event
          .split(/\r?\n/)
          .filter((line) => line.startsWith("data:"))
          .map((line) => line.slice(5).replace(/^ /, ""))
          .join("\n");
        if (!data) continue;
        if (data === "[DONE]") return;
        onData(data);
      }
    }
  }

  return { apiKey, setApiKey, headers, errorFrom, postJson, models, fillModelPicker, readEvents };
})();
