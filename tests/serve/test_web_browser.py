"""The chat and glossary pages in headless Chromium (Playwright), against the real server and SmolLM2.

The server is the session's glossa app with API keys on (tests/serve/conftest.py: `server`, uvicorn on a
free loopback port in a thread); the pages get the key the way a user gives it. The chat page must stream: a
MutationObserver counts the reply's text updates, and the final text must equal the API's own greedy
completion of the same messages. The glossary page must find `top-p`, show where its code lives, draw the
next-token chart and redraw it with other bars when the temperature slider moves. Screenshots go to
runs/test-artifacts/ (git-ignored) for a person to look at.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "runs" / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MAX_TOKENS = 12


@pytest.fixture(scope="module")
def server_url(server) -> str:
    return server.url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, errors


def set_range(page, selector: str, value: float) -> None:
    page.eval_on_selector(
        selector, "(el, v) => { el.value = String(v); el.dispatchEvent(new Event('input')); }", value
    )


def test_without_a_key_the_pages_say_what_is_missing(server_url, page):
    page.goto(f"{server_url}/chat")
    page.wait_for_selector("body.ready")
    assert "API key" in page.inner_text("#stats")
    response = httpx.post(f"{server_url}/v1/next_token", json={"prompt": "Hi"})
    assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_api_key"


def test_chat_page_streams_the_greedy_reply(server_url, api_key, auth, page):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    question = "What is the capital of France?"
    page.goto(f"{server_url}/chat")
    page.wait_for_selector("body.ready")
    page.fill("#api-key", api_key)
    page.dispatch_event("#api-key", "change")
    page.wait_for_function("() => document.getElementById('model').options.length > 0")
    assert page.input_value("#model") == "smollm2"
    set_range(page, "#temperature", 0)
    page.fill("#max-tokens", str(MAX_TOKENS))
    page.evaluate(
        """() => {
        window.replyLengths = [];
        new MutationObserver(() => {
            const reply = document.querySelector('.msg.assistant');
            if (reply) window.replyLengths.push(reply.textContent.length);
        }).observe(document.getElementById('messages'),
                   {subtree: true, childList: true, characterData: true});
    }"""
    )
    page.fill("#prompt", question)
    page.click("#send")
    page.wait_for_selector(".msg.assistant[data-done='true']", timeout=120_000)
    reply = page.inner_text(".msg.assistant")
    lengths = page.evaluate("window.replyLengths")
    stats = page.inner_text("#stats")
    page.screenshot(path=str(ARTIFACTS / "chat.png"), full_page=True)

    expected = httpx.post(
        f"{server_url}/v1/chat/completions",
        json={
            "model": "smollm2",
            "messages": [{"role": "user", "content": question}],
            "temperature": 0,
            "max_tokens": MAX_TOKENS,
        },
        headers=auth,
        timeout=120,
    ).json()
    assert reply == expected["choices"][0]["message"]["content"]
    assert len({n for n in lengths if n > 0}) >= 3, lengths  # the text grew in several steps
    assert "TTFT" in stats and "tok/s" in stats
    assert f"{expected['usage']['completion_tokens']} tokens" in stats


def bar_probs(page) -> list[float]:
    return page.eval_on_selector_all("#nt-chart rect.bar", "bars => bars.map(b => Number(b.dataset.prob))")


def wait_for_redraw(page, version: int) -> int:
    page.wait_for_function(
        "v => Number(document.getElementById('nt-chart').dataset.version || 0) > v",
        arg=version,
        timeout=60_000,
    )
    return int(page.get_attribute("#nt-chart", "data-version"))


def test_glossary_page_finds_top_p_and_redraws_its_chart(server_url, api_key, auth, page):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.add_init_script(f"localStorage.setItem('glossa.apiKey', {api_key!r})")
    page.goto(f"{server_url}/glossary")
    page.wait_for_selector("body.ready")
    page.fill("#search", "top-p")
    page.click("#results a[data-slug='top-p']")
    page.wait_for_selector("#term:not([hidden])")
    assert "top" in page.inner_text("#term-name").lower()
    assert page.inner_text("#term-location").startswith("glossa/infer/logits.py:")
    assert page.get_attribute("#term-location", "href") == "/glossary/source/top-p"
    assert "featured" in page.get_attribute("#demo-next-token", "class")

    version = wait_for_redraw(page, 0)
    assert len(bar_probs(page)) == 12
    set_range(page, "#nt-temperature", 0.5)
    version = wait_for_redraw(page, version)
    cold = bar_probs(page)
    set_range(page, "#nt-temperature", 2.0)
    version = wait_for_redraw(page, version)
    warm = bar_probs(page)
    assert cold != warm and cold[0] > warm[0]
    set_range(page, "#nt-top-k", 2)
    wait_for_redraw(page, version)
    assert sum(p > 0 for p in bar_probs(page)) == 2

    page.wait_for_function("() => document.querySelectorAll('#tok-output .tok').length > 5", timeout=60_000)
    pieces = page.eval_on_selector_all("#tok-output .tok", "spans => spans.map(s => s.textContent)")
    ids = page.eval_on_selector_all("#tok-output .tok", "spans => spans.map(s => s.dataset.ids)")
    text = page.input_value("#tok-text")
    assert "".join(pieces) == text  # characters split across byte-level tokens are shown whole
    body = {"model": "smollm2", "prompt": text}
    tokenized = httpx.post(f"{server_url}/tokenize", json=body, headers=auth).json()
    assert [int(i) for group in ids for i in group.split(",")] == tokenized["tokens"]
    page.screenshot(path=str(ARTIFACTS / "glossary.png"), full_page=True)

    page.click("#term-location")
    page.wait_for_selector("table.lines")
    assert "def apply_top_k_top_p_min_p" in page.inner_text("table.lines")
