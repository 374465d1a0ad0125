from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from stacks.plan import ROOT, Plan, run_plan
from tests.engine import ApplyMocks

ALICE_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMqa+JhTDqe1GrXnRwnehHLoYzlGh92SCdn2yoaR2HoF alice@example.com"
BOB_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICjwmIsc7IRpK/DICofolMrvoVAUFIDPDetfZ1LWyPPC bob@example.com"


def dev_config() -> dict[str, Any]:
    """Return the `config:` mapping of Pulumi.dev.yaml, for tests to edit."""
    document = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    return copy.deepcopy(document["config"])


@pytest.fixture
def write_stack(tmp_path: Path) -> Callable[..., Path]:
    """Write a `Pulumi.<stack>.yaml` into a temporary folder and return its path."""

    def write(config: dict[str, Any], stack: str = "test") -> Path:
        path = tmp_path / f"Pulumi.{stack}.yaml"
        path.write_text(yaml.safe_dump({"config": config}, sort_keys=False))
        return path

    return write


@pytest.fixture(scope="session")
def dev_preview() -> Plan:
    """The offline plan of Pulumi.dev.yaml, with computed outputs unknown as in a preview."""
    return run_plan("dev")


@pytest.fixture(scope="session")
def dev_applied() -> Plan:
    """The dev stack run with mocks that fill in computed outputs as an apply would."""
    return run_plan("dev", engine=ApplyMocks())
