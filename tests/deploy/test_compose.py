"""deploy/compose.yaml and deploy/Dockerfile, checked by parsing (no Docker engine runs here)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def flag(command: list[str], name: str) -> str:
    assert name in command, f"{name} missing from {command}"
    return command[command.index(name) + 1]


def test_three_services_with_volumes(compose):
    assert set(compose["services"]) == {"vllm", "qdrant", "vidrag"}
    assert set(compose["volumes"]) >= {"hf-cache", "qdrant-data", "vidrag-data"}
    assert "hf-cache:/root/.cache/huggingface" in compose["services"]["vllm"]["volumes"]
    assert "qdrant-data:/qdrant/storage" in compose["services"]["qdrant"]["volumes"]
    assert "vidrag-data:/data" in compose["services"]["vidrag"]["volumes"]


def test_vllm_serves_minicpm_with_the_documented_flags(compose):
    vllm = compose["services"]["vllm"]
    version = re.search(r":v(\d+)\.(\d+)\.(\d+)$", vllm["image"]).groups()
    assert tuple(map(int, version)) >= (0, 10, 2)  # MiniCPMV4_5 is native from 0.10.2
    assert vllm["entrypoint"] == ["vllm", "serve"]
    command = vllm["command"]
    assert "openbmb/MiniCPM-V-4_5" in command[0]
    assert "--trust-remote-code" in command
    assert flag(command, "--dtype") == "bfloat16"
    assert int(flag(command, "--max-model-len")) >= 16384
    assert json.loads(flag(command, "--limit-mm-per-prompt")) == {"image": 4, "video": 1}
    assert flag(command, "--host") == "0.0.0.0" and flag(command, "--port") == "8000"


def test_vllm_reserves_a_gpu(compose):
    devices = compose["services"]["vllm"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]
    assert "deploy" not in compose["services"]["vidrag"]  # the API image is CPU-only


def test_every_service_has_a_health_check(compose):
    for name, port, path in (("vllm", 8000, "/health"), ("qdrant", 6333, "/readyz"), ("vidrag", 8080, "/health")):
        check = compose["services"][name]["healthcheck"]
        test = " ".join(check["test"])
        assert check["test"][0] == "CMD" and str(port) in test and path in test
        assert {"interval", "timeout", "retries", "start_period"} <= set(check)
    assert compose["services"]["vllm"]["healthcheck"]["start_period"] == "1800s"  # weights download


def test_vidrag_api_talks_to_vllm_and_qdrant(compose):
    api = compose["services"]["vidrag"]
    assert api["command"][:4] == ["vidrag", "serve", "--host", "0.0.0.0"]
    env = api["environment"]
    assert env["VIDRAG_QDRANT_URL"] == "http://qdrant:6333"
    assert env["VIDRAG_CAPTIONER"] == "openai"
    assert env["VIDRAG_CAPTIONER_URL"] == "http://vllm:8000/v1"
    assert "openbmb/MiniCPM-V-4_5" in env["VIDRAG_CAPTIONER_MODEL"]
    assert env["VIDRAG_API_KEY"].startswith("${VIDRAG_API_KEY:?")  # refuses to start without a key
    assert json.loads(env["VIDRAG_ALLOWED_ROOTS"]) == ["/videos"]
    assert api["depends_on"] == {"qdrant": {"condition": "service_healthy"}, "vllm": {"condition": "service_healthy"}}
    assert api["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
    assert "8080:8080" in api["ports"]


def test_dockerfile_installs_system_tools_and_the_package():
    text = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"apt-get install[^\n]*ffmpeg tesseract-ocr espeak-ng", text)
    assert 'pip install ".[mcp]"' in text  # the package, with the MCP server for /mcp
    assert re.search(r"download\.pytorch\.org/whl/cpu torch==\d", text)  # never the CUDA wheel
    assert 'CMD ["vidrag", "serve", "--host", "0.0.0.0"' in text and "HEALTHCHECK" in text
    root = DEPLOY.parent
    for line in re.findall(r"^COPY (\S+)", text, re.MULTILINE):
        assert (root / line).exists(), f"Dockerfile copies {line}, which is not in the repository"


@pytest.fixture(scope="module")
def cluster() -> dict:
    return yaml.safe_load((DEPLOY / "qdrant-cluster.yaml").read_text())


def test_qdrant_cluster_has_three_peers_that_find_the_first(cluster, compose):
    services = cluster["services"]
    assert set(services) == {"qdrant-1", "qdrant-2", "qdrant-3"}
    assert services["qdrant-1"]["command"] == ["./qdrant", "--uri", "http://qdrant-1:6335"]
    for name in ("qdrant-2", "qdrant-3"):
        command = services[name]["command"]
        assert (
            flag(command, "--bootstrap") == "http://qdrant-1:6335" and flag(command, "--uri") == f"http://{name}:6335"
        )
        assert services[name]["depends_on"] == {"qdrant-1": {"condition": "service_healthy"}}
    for name, service in services.items():
        assert service["image"] == compose["services"]["qdrant"]["image"]  # one Qdrant version everywhere
        env = service["environment"]
        assert env["QDRANT__CLUSTER__ENABLED"] == "true" and env["QDRANT__CLUSTER__P2P__PORT"] == "6335"
        assert env["QDRANT__SERVICE__API_KEY"].startswith("${QDRANT_API_KEY:?")
        assert service["volumes"] == [f"{name}-data:/qdrant/storage"] and f"{name}-data" in cluster["volumes"]
        assert not any("6335" in port for port in service.get("ports", []))  # peers' port stays internal
        assert "6333" in " ".join(service["healthcheck"]["test"]) and "/readyz" in " ".join(
            service["healthcheck"]["test"]
        )
    assert services["qdrant-1"]["ports"] == ["6333:6333"]


def test_cluster_file_names_the_settings_vidrag_reads():
    from vidrag.api.settings import Settings

    text = (DEPLOY / "qdrant-cluster.yaml").read_text()
    for name in ("qdrant_url", "qdrant_api_key", "qdrant_shards", "qdrant_replication", "qdrant_write_consistency"):
        assert f"VIDRAG_{name.upper()}=" in text and name in Settings.model_fields
