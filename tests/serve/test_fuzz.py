"""schemathesis against the server's own OpenAPI schema: valid and invalid requests generated for every
operation of the API (bounded: a few dozen per operation, generation capped at 2 tokens by the server's
config). No response is a 5xx, and every 4xx is in OpenAI's error shape. The number of cases is printed."""

import hypothesis
import pytest
from hypothesis import HealthCheck, settings

schemathesis = pytest.importorskip("schemathesis")

OURS = {
    "/v1/models",
    "/v1/models/{name}",
    "/v1/completions",
    "/v1/chat/completions",
    "/v1/embeddings",
    "/tokenize",
    "/detokenize",
    "/health",
    "/metrics",
}
EXAMPLES = 15


def with_a_served_model(case):
    """Valid requests name a model the server has, so that they get past the lookup into the engine."""
    if isinstance(case.body, dict) and "model" in case.body:
        case.body["model"] = "minilm" if case.path == "/v1/embeddings" else "smollm2"
    return case


def test_no_5xx_and_openai_errors_under_fuzzing(make_app, auth, engine_idle):
    app = make_app(max_tokens=2, max_n=2, max_body_bytes=256 * 1024)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    operations = [op for op in operations if op.path in OURS]
    assert {op.path for op in operations} == OURS
    cases, statuses = 0, {}
    for operation in operations:
        modes = [schemathesis.GenerationMode.POSITIVE]
        if len(operation.body) or list(operation.iter_parameters()):  # something to get wrong
            modes.append(schemathesis.GenerationMode.NEGATIVE)
        for mode in modes:
            strategy = operation.as_strategy(generation_mode=mode)
            if mode == schemathesis.GenerationMode.POSITIVE:
                strategy = strategy.map(with_a_served_model)

            @hypothesis.given(case=strategy)
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            def run(case):
                nonlocal cases
                cases += 1
                response = case.call(headers=auth)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                assert response.status_code < 500, (case.path, case.body, response.text)
                if response.status_code >= 400:
                    error = response.json()["error"]
                    assert set(error) == {"message", "type", "param", "code"}, response.text

            run()
    counts = dict(sorted(statuses.items()))
    print(f"schemathesis: {cases} cases over {len(operations)} operations, statuses {counts}")
    assert cases >= len(operations) * 10
    assert engine_idle()
