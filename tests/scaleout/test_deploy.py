"""The deployment files under deploy/, checked offline: the Kubernetes manifests against the Kubernetes JSON schemas
that kubernetes-validate ships (strict: unknown fields fail), the parts the deployment relies on (GPU resource,
probes on /healthz and /readyz, preStop drain, PodDisruptionBudget), the Dockerfile's required parts, and the
HAProxy config through `haproxy -c`. Nothing here builds a container or talks to a cluster."""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S_VERSION = "1.37.0"


def _documents() -> list[dict[str, Any]]:
    docs = []
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        docs.extend(d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d)
    return docs


def _by_kind(kind: str) -> dict[str, Any]:
    found = [d for d in _documents() if d["kind"] == kind]
    assert len(found) == 1, f"{len(found)} {kind} in deploy/kubernetes"
    return found[0]


def test_manifests_pass_the_kubernetes_schemas_strictly() -> None:
    docs = _documents()
    assert {d["kind"] for d in docs} >= {"Deployment", "Service", "PodDisruptionBudget"}
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_the_validator_refuses_a_wrong_manifest() -> None:
    """The check can fail: a misspelt probe and a port of the wrong type are refused."""
    deployment = _by_kind("Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    for change in ({"readinesProbe": container["readinessProbe"]}, {"ports": [{"containerPort": "5555"}]}):
        broken = copy.deepcopy(deployment)
        broken["spec"]["template"]["spec"]["containers"][0].update(change)
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_deployment_gpu_probes_and_drain() -> None:
    pod = _by_kind("Deployment")["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    args = container["args"]
    grace = float(args[args.index("--drain-grace") + 1])
    assert pod["terminationGracePeriodSeconds"] > grace  # the drain finishes before the kill
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[:2] == ["sdbridge", "drain"] and "--wait" in pre_stop
    assert pre_stop[pre_stop.index("--metrics-port") + 1] == args[args.index("--metrics-port") + 1]
    assert grace < float(pre_stop[pre_stop.index("--timeout") + 1]) < pod["terminationGracePeriodSeconds"]
    assert args[args.index("--device") + 1] == "cuda:0"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert _by_kind("PodDisruptionBudget")["spec"]["maxUnavailable"] == 1
    assert {p["port"] for p in _by_kind("Service")["spec"]["ports"]} == {5555, 9464}


def test_dockerfile_parts() -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    lines = [line.strip() for line in text.splitlines()]
    assert any(line.startswith("FROM nvidia/cuda:") for line in lines)
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert 'VOLUME ["/models"]' in lines
    assert any(line.startswith("HEALTHCHECK") and 'CMD ["sdbridge", "check"]' in line for line in lines)


@pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy not installed (scripts/install_tools.sh scaleout)")
def test_haproxy_config_is_valid_tcp_leastconn_with_readyz_checks() -> None:
    config = DEPLOY / "haproxy" / "haproxy.cfg"
    subprocess.run([str(shutil.which("haproxy")), "-c", "-q", "-f", str(config)], check=True, timeout=30)
    words = [line.split() for line in config.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert ["mode", "tcp"] in words and ["balance", "leastconn"] in words and ["option", "httpchk"] in words
    assert ["http-check", "send", "meth", "GET", "uri", "/readyz"] in words
    servers = [w for w in words if w[0] == "server"]
    assert len(servers) == 3 and all(w[3:5] == ["check", "port"] for w in servers)
