"""Fixtures of the deployment tests."""

from __future__ import annotations

import pytest

from tests.deployment.manifests import OVERLAY, env_vars_read_by_code, load_compose, render_kustomization


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_compose()


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> list[dict]:
    return render_kustomization(OVERLAY, tmp_path_factory.mktemp("kustomize"))


@pytest.fixture(scope="module")
def code_env_vars() -> set[str]:
    return env_vars_read_by_code()
