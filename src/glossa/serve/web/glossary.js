// The glossary page: search /glossary/terms.json, show a term (summary, file:line linking to its source),
// and two live demos on the API: the next-token distribution as an SVG bar chart (POST /v1/next_token,
// redrawn as the sampling sliders move) and text coloured by token (POST /tokenize, then /detokenize).
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const SVG = "http://www.w3.org/2000/svg";
  let terms = [];
  let sections = {};

  // -- search and term view ---------------------------------------------------------------------------

  function rank(term, query) {
    if (!query) return 3;
    const names = [term.slug, term.name.toLowerCase(), ...term.aliases.map((a) => a.toLowerCase())];
    const folded = query.toLowerCase().replace(/[\s_]+/g, "-");
    if (names.some((n) => n === query || n === folded)) return 0;
    if (names.some((n) => n.startsWith(query) || n.startsWith(folded))) return 1;
    if (names.some((n) => n.includes(query) || n.includes(folded))) return 2;
    return term.summary.toLowerCase().includes(query) ? 3 : -1;
  }

  function search() {
    const query = $("search").value.trim().toLowerCase();
    const found = terms
      .map((term) => [rank(term, query), term])
      .filter(([score]) => score >= 0)
      .sort((a, b) => a[0] - b[0]);
    $("count").textContent = `${found.length} of ${terms.length} terms`;
    $("results").replaceChildren(
      ...found.slice(0, 200).map(([, term]) => {
        const item = document.createElement("li");
        const link = document.createElement("a");
        link.href = `#${term.slug}`;
        link.dataset.slug = term.slug;
        link.textContent = term.name;
        if (term.location) link.classList.add("has-code");
        item.append(link);
        return item;
      }),
    );
  }

  function show(slug) {
    const term = terms.find((t) => t.slug === slug);
    if (!term) return;
    $("term").hidden = false;
    $("term").dataset.slug = slug;
    $("term-name").textContent = term.name;
    $("term-sections").textContent = term.sections.map((n) => `§${n} ${sections[n] || ""}`).join(" · ") +
      ` · level ${term.level}`;
    $("term-summary").textContent = term.summary;
    const location = $("term-location");
    location.textContent = term.location || "no code yet";
    location.href = term.location ? `/glossary/source/${term.slug}` : "#";
    $("term-code").textContent = term.code;
    $("term-tests").replaceChildren(...term.tests.map((t) => {
      const li = document.createElement("li");
      li.textContent = t;
      return li;
    }));
    $("term-demo").textContent = term.demo || "—";
    $("term-related").replaceChildren(...term.related.map((r) => {
      const a = document.createElement("a");
      a.href = `#${r}`;
      a.textContent = r;
      return a;
    }));
    const demo = term.live_demo === "next-token" ? "demo-next-token" : term.live_demo === "tokens" ? "demo-tokens" : null;
    for (const id of ["demo-next-token", "demo-tokens"]) $(id).classList.toggle("featured", id === demo);
  }

  // -- next-token chart ---------------------------------------------------------------------------------

  let chartRequest = 0;
  let chartTimer = null;

  function sliderValues() {
    return {
      temperature: Number($("nt-temperature").value),
      top_k: Number($("nt-top-k").value),
      top_p: Number($("nt-top-p").value),
      min_p: Number($("nt-min-p").value),
    };
  }

  function visible(text) {
    return JSON.stringify(text).slice(1, -1).replace(/ /g, "␣");
  }

  function drawChart(result) {
    const svg = $("nt-chart");
    const rowHeight = 22;
    const labelWidth = 150;
    const barWidth = 380;
    svg.setAttribute("height", String(result.tokens.length * rowHeight + 8));
    const shapes = [];
    result.tokens.forEach((token, row) => {
      const y = 4 + row * rowHeight;
      const label = document.createElementNS(SVG, "text");
      label.setAttribute("x", String(labelWidth - 6));
      label.setAttribute("y", String(y + 15));
      label.setAttribute("text-anchor", "end");
      label.textContent = visible(token.text);
      const raw = document.createElementNS(SVG, "rect");
      raw.setAttribute("class", "raw");
      raw.setAttribute("x", String(labelWidth));
      raw.setAttribute("y", String(y));
      raw.setAttribute("height", String(rowHeight - 4));
      raw.setAttribute("width", String(Math.max(token.raw_prob * barWidth, 0.5)));
      raw.dataset.prob = String(token.raw_prob);
      const bar = document.createElementNS(SVG, "rect");
      bar.setAttribute("class", "bar");
      bar.setAttribute("x", String(labelWidth));
      bar.setAttribute("y", String(y + 4));
      bar.setAttribute("height", String(rowHeight - 12));
      bar.setAttribute("width", String(token.prob * barWidth));
      bar.dataset.prob = String(token.prob);
      bar.dataset.token = token.text;
      const value = document.createElementNS(SVG, "text");
      value.setAttribute("x", String(labelWidth + barWidth + 8));
      value.setAttribute("y", String(y + 15));
      value.textContent = `${(token.prob * 100).toFixed(1)}%  (raw ${(token.raw_prob * 100).toFixed(1)}%)`;
      shapes.push(label, raw, bar, value);
    });
    svg.replaceChildren(...shapes);
    svg.dataset.version = String(Number(svg.dataset.version || 0) + 1);
    $("nt-info").textContent = `${result.prompt_tokens} prompt tokens · ${result.kept} tokens can be sampled · ` +
      `entropy ${result.entropy_bits.toFixed(2)} bits`;
  }

  async function updateChart() {
    const id = ++chartRequest;
    const body = { prompt: $("nt-prompt").value, top_n: 12, ...sliderValues() };
    if ($("nt-model").value) body.model = $("nt-model").value;
    try {
      const result = await glossaApi.postJson("/v1/next_token", body);
      if (id === chartRequest) drawChart(result);
    } catch (error) {
      if (id === chartRequest) $("nt-info").textContent = `error: ${error.message}`;
    }
  }

  function scheduleChart() {
    for (const name of ["temperature", "top-k", "top-p", "min-p"]) {
      $(`nt-${name}-value`).textContent = $(`nt-${name}`).value;
    }
    clearTimeout(chartTimer);
    chartTimer = setTimeout(updateChart, 120);
  }

  // -- text coloured by token ---------------------------------------------------------------------------

  let tokensRequest = 0;
  let tokensTimer = null;

  // Each token's text via /detokenize. A byte-level token can hold part of a character (東 is 3 bytes): its
  // text alone has U+FFFD, so runs of such tokens are decoded together and shown as one span.
  async function pieces(model, ids) {
    const detokenize = async (group) => (await glossaApi.postJson("/detokenize", { model, tokens: group })).prompt;
    const single = await Promise.all(ids.map((id) => detokenize([id])));
    const groups = [];
    for (let i = 0; i < ids.length; i += 1) {
      const partial = single[i].includes("\ufffd");
      const last = groups[groups.length - 1];
      if (partial && last && last.partial) last.ids.push(ids[i]);
      else groups.push({ ids: [ids[i]], text: single[i], partial });
    }
    await Promise.all(groups.filter((g) => g.partial).map(async (g) => (g.text = await detokenize(g.ids))));
    return groups;
  }

  async function updateTokens() {
    const id = ++tokensRequest;
    const model = $("nt-model").value;
    const text = $("tok-text").value;
    try {
      const tokenized = await glossaApi.postJson("/tokenize", { model, prompt: text });
      const ids = tokenized.tokens;
      const groups = await pieces(model, ids.slice(0, 512));
      if (id !== tokensRequest) return;
      $("tok-output").replaceChildren(...groups.map((group, i) => {
        const span = document.createElement("span");
        span.className = `tok c${i % 6}`;
        span.title = `id ${group.ids.join(", ")}`;
        span.dataset.ids = group.ids.join(",");
        span.textContent = group.text;
        return span;
      }));
      $("tok-info").textContent = `${ids.length} tokens · ${text.length} characters · ` +
        `${new TextEncoder().encode(text).length} bytes`;
    } catch (error) {
      if (id === tokensRequest) $("tok-info").textContent = `error: ${error.message}`;
    }
  }

  function scheduleTokens() {
    clearTimeout(tokensTimer);
    tokensTimer = setTimeout(updateTokens, 200);
  }

  // -- wiring -------------------------------------------------------------------------------------------

  async function start() {
    $("api-key").value = glossaApi.apiKey();
    $("api-key").addEventListener("change", () => {
      glossaApi.setApiKey($("api-key").value.trim());
      loadModels();
    });
    $("search").addEventListener("input", search);
    window.addEventListener("hashchange", () => show(decodeURIComponent(location.hash.slice(1))));
    for (const name of ["temperature", "top-k", "top-p", "min-p"]) {
      $(`nt-${name}`).addEventListener("input", scheduleChart);
    }
    $("nt-prompt").addEventListener("input", scheduleChart);
    $("nt-model").addEventListener("change", () => {
      scheduleChart();
      scheduleTokens();
    });
    $("tok-text").addEventListener("input", scheduleTokens);

    const data = await (await fetch("/glossary/terms.json")).json();
    terms = data.terms;
    sections = Object.fromEntries(data.sections.map((s) => [s.number, s.title]));
    search();
    if (location.hash) show(decodeURIComponent(location.hash.slice(1)));
    document.body.classList.add("ready");
    await loadModels();
  }

  async function loadModels() {
    try {
      await glossaApi.fillModelPicker($("nt-model"));
      scheduleChart();
      scheduleTokens();
    } catch (error) {
      $("nt-info").textContent = `cannot list models: ${error.message}`;
    }
  }

  start();
})();
