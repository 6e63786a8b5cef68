"""The model registry (SQLite): add/list/remove round trip, checksums, traversal refused, aliases; the CLI on
top of it; A/B routing by weight (within tolerance over many users, sticky per user) and the chosen version
in the `x-glossa-model-version` header and the metrics."""

import hashlib
from collections import Counter

import pytest
from fastapi.testclient import TestClient

from glossa.errors import GlossaError
from glossa.serve.models import ModelPool, ServedModel
from glossa.serve.registry import ModelRegistry, sha256_of
from glossa.serve.routing import choose


@pytest.fixture
def models_root(tmp_path):
    root = tmp_path / "models"
    (root / "enc").mkdir(parents=True)
    (root / "chat.gguf").write_bytes(b"GGUF weights v1")
    (root / "chat2.gguf").write_bytes(b"GGUF weights v2")
    (root / "enc" / "config.json").write_text("{}")
    (tmp_path / "secret.gguf").write_bytes(b"outside")
    return root


def test_add_list_remove_round_trip_with_checksums(tmp_path, models_root):
    registry = ModelRegistry(tmp_path / "reg.db", roots=[models_root])
    first = registry.add("chat", models_root / "chat.gguf")
    second = registry.add("chat", models_root / "chat2.gguf", aliases=["chat-latest"])
    folder = registry.add("enc", models_root / "enc", version="2024-01")
    assert (first.version, second.version, folder.version) == ("v1", "v2", "2024-01")
    assert first.sha256 == hashlib.sha256(b"GGUF weights v1").hexdigest()
    assert folder.sha256 == sha256_of(models_root / "enc") != sha256_of(models_root / "chat.gguf")
    reopened = ModelRegistry(tmp_path / "reg.db", roots=[models_root])  # persisted
    assert [m.key for m in reopened.models()] == ["chat@v1", "chat@v2", "enc@2024-01"]
    assert reopened.find("chat").key == "chat@v2"
    assert [t.key for t in reopened.aliases()["chat-latest"]] == ["chat@v2"]
    assert reopened.remove("chat", "v2") == 1
    assert "chat-latest" not in reopened.aliases()  # its target is gone
    assert reopened.remove("chat") == 1 and [m.key for m in reopened.models()] == ["enc@2024-01"]
    with pytest.raises(GlossaError, match="not in the registry"):
        reopened.remove("chat")


@pytest.mark.parametrize(
    "source", ["{root}/../secret.gguf", "{root}/enc/../../secret.gguf", "/etc/passwd", "{root}/missing.gguf"]
)
def test_paths_outside_the_roots_are_refused(tmp_path, models_root, source):
    registry = ModelRegistry(tmp_path / "reg.db", roots=[models_root])
    with pytest.raises(GlossaError):
        registry.add("chat", source.format(root=models_root))
    assert registry.models() == []


def test_symlink_out_of_the_root_is_refused(tmp_path, models_root):
    (models_root / "link.gguf").symlink_to(tmp_path / "secret.gguf")
    with pytest.raises(GlossaError, match="outside the model roots"):
        ModelRegistry(tmp_path / "reg.db", roots=[models_root]).add("chat", models_root / "link.gguf")


def test_bad_names_duplicates_and_changed_weights(tmp_path, models_root):
    registry = ModelRegistry(tmp_path / "reg.db", roots=[models_root])
    for name in ("../x", "", "smollm2", "a b"):
        with pytest.raises(GlossaError):
            registry.add(name, models_root / "chat.gguf")
    entry = registry.add("chat", models_root / "chat.gguf", version="v1")
    with pytest.raises(GlossaError, match="already registered"):
        registry.add("chat", models_root / "chat.gguf", version="v1")
    with pytest.raises(GlossaError, match="not registered"):
        registry.set_alias("ab", [("chat", "v1", 1), ("chat", "v9", 1)])
    (models_root / "chat.gguf").write_bytes(b"tampered")
    with pytest.raises(GlossaError, match="sha256 differs"):
        registry.verify(entry)


def test_cli_add_list_alias_remove(tmp_path, models_root, run_cli, one_line_error):
    db = str(tmp_path / "reg.db")
    added = run_cli(
        "registry",
        "add",
        "chat",
        str(models_root / "chat.gguf"),
        "--registry",
        db,
        "--root",
        str(models_root),
    )
    assert added.exit_code == 0 and "chat@v1" in added.stdout
    run_cli(
        "registry",
        "add",
        "chat",
        str(models_root / "chat2.gguf"),
        "--registry",
        db,
        "--root",
        str(models_root),
    )
    split = run_cli("registry", "alias", "chat-ab", "chat@v1=0.9", "chat@v2=0.1", "--registry", db)
    assert split.exit_code == 0, split.stderr
    listed = run_cli("registry", "list", "--registry", db)
    assert listed.exit_code == 0 and "chat-ab" in listed.stdout  # Rich may wrap the table's cells
    assert "(0.9)" in listed.stdout and "(0.1)" in listed.stdout
    assert hashlib.sha256(b"GGUF weights v1").hexdigest()[:12] in listed.stdout
    escaped = run_cli(
        "registry", "add", "x", str(tmp_path / "secret.gguf"), "--registry", db, "--root", str(models_root)
    )
    one_line_error(escaped)
    assert run_cli("registry", "remove", "chat", "--registry", db).exit_code == 0
    one_line_error(run_cli("registry", "remove", "chat", "--registry", db))


def test_ab_split_by_weight_and_sticky_per_user():
    targets = [("chat@v1", 0.8), ("chat@v2", 0.2)]
    users = [f"user-{i}" for i in range(5000)]
    first = {user: choose(targets, alias="chat", user=user) for user in users}
    share = Counter(first.values())["chat@v2"] / len(users)
    assert abs(share - 0.2) < 0.02  # ~5 standard errors
    assert all(choose(targets, alias="chat", user=user) == first[user] for user in users[:500])
    other_alias = [choose(targets, alias="other", user=user) for user in users]
    assert other_alias != list(first.values())  # the hash is per experiment, not one global bucket


def test_ab_alias_through_the_server(pool, make_app, auth):
    base = pool.get("smollm2")
    arms = [
        ServedModel(f"chat@{version}", version, base.model, base.tokenizer, base.engine, base.loop)
        for version in ("v1", "v2")
    ]
    ab_pool = ModelPool(arms, {"chat": [("chat@v1", 0.5), ("chat@v2", 0.5)]})
    from glossa.serve.app import create_app
    from glossa.serve.config import ServeConfig

    app = create_app(ServeConfig(api_keys=("test-key-alpha",), max_tokens=4), models=ab_pool)
    with TestClient(app) as client:
        seen = {}
        for user in ("ann", "bob", "cat", "dan", "eve", "fay", "gus", "hal"):
            body = {"model": "chat", "prompt": "Hi", "max_tokens": 1, "user": user}
            for _ in range(2):
                response = client.post("/v1/completions", json=body, headers=auth)
                assert response.status_code == 200
                seen.setdefault(user, set()).add(response.headers["x-glossa-model-version"])
        assert all(len(versions) == 1 for versions in seen.values())  # sticky
        assert set().union(*seen.values()) == {"chat@v1", "chat@v2"}
        metrics = client.get("/metrics").text
        assert 'model_name="chat",model_version="chat@v2"' in metrics
        assert "chat" in [m["id"] for m in client.get("/v1/models", headers=auth).json()["data"]]
