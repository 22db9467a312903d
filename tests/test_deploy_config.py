"""Deployment files of every answer set: the Helm values, the graph's volume claim, compose and
the image agree on names and paths (rendered only; the generated project's
tests/test_environments.py checks the same files in depth)."""

from pathlib import Path, PurePosixPath

import pytest
import yaml
from conftest import ANSWER_SETS, render


@pytest.fixture(scope="module", params=sorted(ANSWER_SETS))
def rendered(request: pytest.FixtureRequest, tmp_path_factory) -> tuple[Path, dict]:
    destination = tmp_path_factory.mktemp(request.param) / "project"
    answers = render(destination, ANSWER_SETS[request.param], skip_tasks=True)
    return destination, answers


def load(project: Path, relative: str) -> dict:
    return yaml.safe_load((project / relative).read_text())


def test_helm_run_pods_mount_the_claim_of_the_graph_volume(rendered) -> None:
    project, answers = rendered
    slug = answers["project_slug"]
    values = load(project, "deploy/helm/values.yaml")
    claim = load(project, "deploy/helm/graph-volume.yaml")
    assert claim["kind"] == "PersistentVolumeClaim"
    assert claim["metadata"]["name"] == f"{slug}-graph"

    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    (volume,) = launcher["volumes"]
    assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    (mount,) = launcher["volumeMounts"]
    assert mount["name"] == volume["name"]
    env = dict(variable.split("=", 1) for variable in launcher["envVars"])
    assert str(PurePosixPath(env["GRAPH_DB_PATH"]).parent) == mount["mountPath"]

    resources = launcher["runK8sConfig"]["containerConfig"]["resources"]
    assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}


def test_helm_names_one_secret_and_the_package_module(rendered) -> None:
    project, answers = rendered
    values = load(project, "deploy/helm/values.yaml")
    secret = [{"name": f"{answers['project_slug']}-env"}]
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    assert deployment["envSecrets"] == secret
    assert values["runLauncher"]["config"]["k8sRunLauncher"]["envSecrets"] == secret
    assert values["dagsterWebserver"]["envSecrets"] == secret
    assert values["dagsterDaemon"]["envSecrets"] == secret
    assert f"{answers['package_name']}.definitions" in deployment["dagsterApiGrpcArgs"]


def test_compose_and_helm_keep_the_graph_in_the_directory_the_image_owns(rendered) -> None:
    project, _ = rendered
    helm = load(project, "deploy/helm/values.yaml")["runLauncher"]["config"]["k8sRunLauncher"]
    (mount,) = helm["volumeMounts"]
    code = load(project, "docker-compose.yml")["services"]["dagster-code"]
    compose_dir = str(PurePosixPath(code["environment"]["GRAPH_DB_PATH"]).parent)
    assert compose_dir == mount["mountPath"]
    assert f"graph-data:{compose_dir}" in code["volumes"]
    final_stage = (project / "deploy" / "Dockerfile").read_text().rsplit("FROM ", 1)[1]
    assert f"chown dagster /opt/dagster/home {compose_dir}" in final_stage
