"""The cost command: `python -m stacks cost`, its formats, comparisons and real previews or states."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.stacks.test_plan_cli import run_cli

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def test_dev_and_prod_side_by_side():
    result = run_cli("cost", "dev", "prod")

    assert result.returncode == 0, result.stderr
    summary = result.stdout[result.stdout.index("monthly cost"):]
    assert "dev" in summary
    assert "prod" in summary
    assert "€34.89" in summary
    assert "$38.85" in summary
    assert "€192.22 - €364.68" in summary
    assert "$214.00 - $406.00" in summary
    assert "1.1133 USD per EUR" in result.stdout


def test_cost_lists_lines():
    result = run_cli("cost", "dev")

    assert "server cx23 in fsn1" in result.stdout
    assert "load balancer lb11" in result.stdout
    assert "€0.0572" in result.stdout


def test_cost_json_format():
    result = run_cli("cost", "dev", "prod", "--format", "json")
    document = json.loads(result.stdout)

    assert result.returncode == 0
    dev, prod = document["stacks"]
    assert dev["total"]["EUR"] == {"low": "34.89", "high": "34.89"}
    assert prod["total"]["USD"] == {"low": "214.00", "high": "406.00"}
    assert prod["currency"] == "USD"
    assert prod["subtotals"]["control plane"] == {"low": "40.00", "high": "40.00"}
    assert dev["subtotals"]["network"] == {"low": "8.99", "high": "8.99"}
    assert dev["per_container_eur"] == {"low": "11.63", "high": "11.63"}
    assert document["catalog"]["usd_per_eur"] == "1.1133"


def test_cost_markdown_format():
    result = run_cli("cost", "dev", "prod", "--format", "markdown")

    assert result.returncode == 0
    assert "| | dev | prod |" in result.stdout
    assert "| total per month (EUR) | €34.89 | €192.22 - €364.68 |" in result.stdout
    assert "<details><summary>dev: 8 billed items</summary>" in result.stdout


def test_exchange_rate_override():
    result = run_cli("cost", "dev", "--usd-per-eur", "1.20", "--format", "json")
    document = json.loads(result.stdout)

    assert document["stacks"][0]["total"]["USD"] == {"low": "41.87", "high": "41.87"}
    assert document["catalog"]["usd_per_eur"] == "1.20"


def test_bad_exchange_rate_rejected():
    result = run_cli("cost", "dev", "--usd-per-eur", "abc")

    assert result.returncode == 2
    assert "invalid rate 'abc'" in result.stderr


def test_compare_platforms_for_own_swarms():
    result = run_cli("cost", "dev", "--on", "hetzner-k3s,doks", "--format", "json")
    document = json.loads(result.stdout)

    assert result.returncode == 0, result.stderr
    names = [stack["stack"] for stack in document["stacks"]]
    assert names == ["dev", "dev on hetzner-k3s", "dev on doks"]
    on_doks = document["stacks"][2]
    assert on_doks["platform"] == "doks"
    assert on_doks["containers"] == 3
    # Three containers of 1 CPU and 2 GiB fit one s-4vcpu-8gb node
    # (3.5 usable CPUs, 7 usable GiB) at 48 USD, the cheapest basic layout.
    assert "1 x s-4vcpu-8gb nodes" in " ".join(on_doks["notes"])


def test_compare_rejects_unknown_platform():
    result = run_cli("cost", "dev", "--on", "eks")

    assert result.returncode == 2
    assert "invalid --on value eks" in result.stderr


def test_cost_from_preview():
    result = run_cli("cost", "--from-preview", str(FIXTURES / "preview-dev.json"), "--format", "json")
    (stack,) = json.loads(result.stdout)["stacks"]

    assert result.returncode == 0, result.stderr
    # IPv4 0.50 + cx23 5.49 + cx33 8.49 + its IPv4 0.50 + lb11 7.49
    # + 4 x 20 GB x 0.0572; the deleted cx43 is not priced.
    assert stack["stack"] == "dev (preview)"
    assert stack["total"]["EUR"] == {"low": "27.05", "high": "27.05"}
    assert "cx43" not in json.dumps(stack)


def test_cost_from_state():
    result = run_cli("cost", "--from-state", str(FIXTURES / "state-prod.json"), "--format", "json")
    (stack,) = json.loads(result.stdout)["stacks"]

    assert result.returncode == 0, result.stderr
    # system pool 24 + 2 x 48 + LB 12 + 2 x 10 GiB x 0.10.
    assert stack["total"]["USD"] == {"low": "134.00", "high": "134.00"}
    assert stack["platform"] == "doks"


def test_cost_from_bad_file(tmp_path):
    path = tmp_path / "preview.json"
    path.write_text('{"not": "a preview"}')

    result = run_cli("cost", "--from-preview", str(path))

    assert result.returncode == 2
    assert "is not the output of `pulumi preview --json`" in result.stderr


def test_unknown_sku_exits_2(write_stack):
    from tests.conftest import dev_config

    config = dev_config()
    config["swarm:hetzner"]["loadBalancerType"] = "lb31"

    result = run_cli("cost", str(write_stack(config)))

    assert result.returncode == 2
    assert "no hetzner price for lb31" in result.stderr
    assert "Traceback" not in result.stderr


def test_cost_needs_a_stack():
    result = run_cli("cost")

    assert result.returncode == 2
    assert "name at least one stack" in result.stderr


def write_json(path: Path, document: dict) -> Path:
    path.write_text(json.dumps(document))
    return path


def test_preview_without_sames_rejected(tmp_path):
    document = json.loads((FIXTURES / "preview-dev.json").read_text())
    document["steps"] = [step for step in document["steps"] if step["op"] != "same"]

    result = run_cli("cost", "--from-preview", str(write_json(tmp_path / "p.json", document)))

    assert result.returncode == 2
    assert "pulumi preview --json --show-sames" in result.stderr


def test_preview_replacement_counted_once(tmp_path):
    document = json.loads((FIXTURES / "preview-dev.json").read_text())
    server = next(step for step in document["steps"] if step["urn"].endswith("swarm-dev-general-0"))
    document["steps"] += [
        dict(server, op="create-replacement"),
        dict(server, op="replace"),
        {"op": "delete-replaced", "urn": server["urn"], "oldState": server["newState"]},
    ]
    document["steps"].remove(server)

    result = run_cli("cost", "--from-preview", str(write_json(tmp_path / "p.json", document)), "--format", "json")
    (stack,) = json.loads(result.stdout)["stacks"]

    assert result.returncode == 0, result.stderr
    assert stack["total"]["EUR"] == {"low": "27.05", "high": "27.05"}


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda inputs: inputs.update(serverType="[secret]"), "its input serverType is secret"),
        (lambda inputs: inputs.update(serverType="04da6b54-80e4-46f7-96ec-b56ff0331ba9"), "its input serverType is unknown until the update runs"),
        (lambda inputs: inputs.pop("serverType"), "its input serverType is missing"),
    ],
)
def test_unusable_preview_inputs_named(tmp_path, edit, expected):
    document = json.loads((FIXTURES / "preview-dev.json").read_text())
    server = next(step for step in document["steps"] if step["urn"].endswith("swarm-dev-general-0"))
    edit(server["newState"]["inputs"])

    result = run_cli("cost", "--from-preview", str(write_json(tmp_path / "p.json", document)))

    assert result.returncode == 2
    assert "cannot price swarm-dev-general-0" in result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_encrypted_state_spec_named(tmp_path):
    document = json.loads((FIXTURES / "state-prod.json").read_text())
    statefulset = document["deployment"]["resources"][-1]
    statefulset["inputs"]["spec"] = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "v1:abc"}

    result = run_cli("cost", "--from-state", str(write_json(tmp_path / "s.json", document)))

    assert result.returncode == 2
    assert "its input spec.replicas is secret" in result.stderr


def test_missing_replicas_count_as_one(tmp_path):
    document = json.loads((FIXTURES / "state-prod.json").read_text())
    del document["deployment"]["resources"][-1]["inputs"]["spec"]["replicas"]

    result = run_cli("cost", "--from-state", str(write_json(tmp_path / "s.json", document)), "--format", "json")
    (stack,) = json.loads(result.stdout)["stacks"]

    assert stack["containers"] == 1
    assert stack["total"]["USD"] == {"low": "133.00", "high": "133.00"}


@pytest.mark.parametrize("rate", ["nan", "inf", "1e400", "1e-30", "0"])
def test_unusable_exchange_rates_rejected(rate):
    result = run_cli("cost", "dev", "--usd-per-eur", rate)

    assert result.returncode == 2
    assert "between 0.01 and 100" in result.stderr


def test_volume_above_provider_maximum_rejected(write_stack):
    from tests.conftest import dev_config

    config = dev_config()
    config["swarm:swarms"][0]["storage"] = "20Ti"

    result = run_cli("cost", str(write_stack(config)))

    assert result.returncode == 2
    assert "larger than the 10240 GB that hetzner volumes may have" in result.stderr


def test_compare_fits_largest_container(write_stack):
    from tests.conftest import dev_config

    config = dev_config()
    config["swarm:hetzner"]["workers"][0]["serverType"] = "cx43"
    config["swarm:swarms"][0].update(replicas=1, cpu="6", memory="12Gi")

    result = run_cli("cost", str(write_stack(config)), "--on", "hetzner-k3s,doks", "--format", "json")
    stacks = json.loads(result.stdout)["stacks"]

    assert result.returncode == 0, result.stderr
    # cx43 (8 vCPU, 16 GB) and s-8vcpu-16gb are the smallest nodes with room for one 6 CPU, 12 GiB container.
    assert "1 x cx43 agents" in " ".join(stacks[1]["notes"])
    assert "1 x s-8vcpu-16gb nodes" in " ".join(stacks[2]["notes"])


def test_compare_keeps_ha_control_plane():
    result = run_cli("cost", "prod", "--on", "doks", "--format", "json")
    _, on_doks = json.loads(result.stdout)["stacks"]

    assert result.returncode == 0, result.stderr
    assert any(line["sku"] == "doks-ha-control-plane" for line in on_doks["lines"])


def test_compare_error_names_generated_layout(write_stack):
    from tests.conftest import dev_config

    config = dev_config()
    # A cluster of one's own has no capacity check, so only the generated DOKS layout fails.
    config["swarm:platform"] = "kubeconfig"
    config["swarm:kubeconfig"] = {"context": "k3d-swarm", "sshService": "NodePort", "sshHost": "127.0.0.1"}
    config["swarm:swarms"][0].update(replicas=1, cpu="64", memory="2Gi")

    result = run_cli("cost", str(write_stack(config)), "--on", "doks")

    assert result.returncode == 2
    assert "cannot price the swarms of test on doks: no node type holds one container" in result.stderr
    assert "Traceback" not in result.stderr


def test_compare_raises_small_workspaces():
    # The local stack's 5Gi workspaces are below Hetzner's 10 GB minimum volume.
    result = run_cli("cost", "local", "--on", "hetzner-k3s,doks", "--format", "json")

    assert result.returncode == 0, result.stderr
    names = [stack["stack"] for stack in json.loads(result.stdout)["stacks"]]
    assert names == ["local", "local on hetzner-k3s", "local on doks"]


def test_compare_notes_raised_workspaces():
    result = run_cli("cost", "local", "--on", "hetzner-k3s", "--format", "json")
    notes = " ".join(json.loads(result.stdout)["stacks"][1]["notes"])

    assert "workspaces of agents (5Gi) priced at 10Gi, the smallest volume on hetzner-k3s" in notes
    assert "1 x cx23 server" in notes
