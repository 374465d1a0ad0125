"""Pool labels, taints and a swarm's pool: bad values fail with one line that names the key and the fix."""

from __future__ import annotations

from typing import Any

import pytest

from stacks.config_loader import StackConfigError, parse_stack_config
from tests.stacks.test_config import swarm_values


def with_pool(**pool: Any) -> dict[str, Any]:
    values = swarm_values()
    values["hetzner"]["workers"][0].update(pool)
    if pool.get("taints"):
        # The swarm goes to the tainted pool, and the jump host to a pool without taints.
        values["swarms"][0]["pool"] = "general"
        values["hetzner"]["workers"].append({"name": "spare", "serverType": "cx23", "count": 1})
    return values


def error_for(values: dict[str, Any]) -> str:
    with pytest.raises(StackConfigError) as caught:
        parse_stack_config(values)
    return str(caught.value)


def test_numbers_become_label_text():
    pool = parse_stack_config(with_pool(labels={"tier": 1}, taints=[{"key": "gpu", "value": 2}])).hetzner.workers[0]

    assert pool.labels == {"tier": "1"}
    assert pool.taints[0].value == "2"


def test_boolean_label_asks_for_quotes():
    message = error_for(with_pool(labels={"gpu": False}))

    assert "label gpu is false because YAML reads unquoted" in message
    assert "quote the value" in message


@pytest.mark.parametrize("key", ["node-role.kubernetes.io/worker", "kubernetes.io/hostname", "k8s.io/x"])
def test_reserved_label_namespaces_rejected(key):
    assert "which Kubernetes reserves for itself" in error_for(with_pool(labels={key: "x"}))


def test_node_kubernetes_io_allowed():
    pool = parse_stack_config(with_pool(labels={"node.kubernetes.io/exclude-from-external-load-balancers": "true"}))

    assert pool.hetzner.workers[0].labels


def test_pool_label_reserved():
    assert "swarm.pool is set from the pool name" in error_for(with_pool(labels={"swarm.pool": "x"}))


def test_duplicate_taint_rejected():
    taints = [{"key": "dedicated", "value": "a"}, {"key": "dedicated", "value": "b"}]

    assert "two taints with key dedicated and effect NoSchedule" in error_for(with_pool(taints=taints))


def test_same_key_other_effect_allowed():
    taints = [{"key": "dedicated", "effect": "NoSchedule"}, {"key": "dedicated", "effect": "NoExecute"}]

    assert len(parse_stack_config(with_pool(taints=taints)).hetzner.workers[0].taints) == 2


def test_taints_fix_is_a_list_of_objects():
    message = error_for(with_pool(taints="dedicated=x:NoSchedule"))

    assert """'[{"key": "dedicated", "value": "review", "effect": "NoSchedule"}]'""" in message


def test_unknown_pool_suggests_nearest():
    values = swarm_values()
    values["swarms"][0]["pool"] = "genral"

    message = error_for(values)
    assert message.startswith("invalid config swarm:swarms[0].pool = genral names no worker pool")
    assert "pulumi config set --path 'swarm:swarms[0].pool' general" in message


def test_pool_on_existing_cluster_rejected():
    values = swarm_values()
    del values["hetzner"]
    values["platform"] = "kubeconfig"
    values["kubeconfig"] = {"context": "k3d-swarm", "sshService": "NodePort", "sshHost": "127.0.0.1"}
    values["swarms"][0]["pool"] = "general"

    assert "has no worker pools to choose from" in error_for(values)


def test_nearest_size_is_the_fix():
    values = swarm_values()
    del values["hetzner"]
    values["platform"] = "doks"
    values["doks"] = {"region": "fra1", "nodePools": [{"name": "general", "size": "s-8vcpu-16g", "count": 1}]}

    assert "fix with: pulumi config set --path 'swarm:doks.nodePools[0].size' s-8vcpu-16gb" in error_for(values)
