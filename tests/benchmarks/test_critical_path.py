"""The critical path: which waits count as edges, and the longest chain through them."""

from __future__ import annotations

import pytest

from benchmarks.critical_path import longest_chains, waits_for
from stacks.plan import PlannedResource

COMPONENT = "urn:pulumi:s::p::swarm:test:Component::component"
PROVIDER = "urn:pulumi:s::p::pulumi:providers:kubernetes::k8s"
SERVER = "urn:pulumi:s::p::hcloud:index/server:Server::server"
NAMESPACE = "urn:pulumi:s::p::kubernetes:core/v1:Namespace::namespace"
CONFIG_MAP = "urn:pulumi:s::p::kubernetes:core/v1:ConfigMap::config"
CHILD = "urn:pulumi:s::p::hcloud:index/server:Server$tls:index/privateKey:PrivateKey::child"


def planned(urn: str, dependencies=(), provider: str = "", parent=None) -> PlannedResource:
    return PlannedResource(
        urn=urn,
        type=urn.split("::")[2].split("$")[-1],
        name=urn.rsplit("::", 1)[1],
        parent=parent,
        inputs={},
        provider=provider,
        dependencies=list(dependencies),
    )


RESOURCES = [
    planned(COMPONENT),
    planned(SERVER, parent=COMPONENT),
    planned(PROVIDER, dependencies=[SERVER], parent=COMPONENT),
    planned(NAMESPACE, provider=f"{PROVIDER}::04da6b54-80e4-46f7-96ec-b56ff0331ba9", parent=COMPONENT),
    planned(CONFIG_MAP, dependencies=[NAMESPACE], provider=f"{PROVIDER}::id"),
    planned(CHILD, parent=SERVER),
]
CUSTOM = {COMPONENT: False, SERVER: True, PROVIDER: True, NAMESPACE: True, CONFIG_MAP: True, CHILD: True}


def test_resource_waits_for_its_provider():
    graph = waits_for(RESOURCES, CUSTOM)

    assert graph[NAMESPACE] == [PROVIDER]
    assert graph[CONFIG_MAP] == [NAMESPACE, PROVIDER]


def test_component_parent_is_no_step():
    graph = waits_for(RESOURCES, CUSTOM)

    assert COMPONENT not in graph
    assert graph[SERVER] == []


def test_custom_parent_delays_its_child():
    assert waits_for(RESOURCES, CUSTOM)[CHILD] == [SERVER]


def test_unregistered_dependency_is_rejected():
    resources = RESOURCES + [planned("urn:pulumi:s::p::kubernetes:core/v1:Secret::secret", dependencies=["urn:missing"])]

    with pytest.raises(ValueError, match="urn:missing"):
        waits_for(resources, {**CUSTOM, resources[-1].urn: True})


def test_longest_chain_follows_the_deepest_wait():
    graph = waits_for(RESOURCES, CUSTOM)
    chains = longest_chains(graph, [resource.urn for resource in RESOURCES if resource.urn in graph])

    assert chains[CONFIG_MAP].urns == (SERVER, PROVIDER, NAMESPACE, CONFIG_MAP)
    assert len(chains[CHILD]) == 2
