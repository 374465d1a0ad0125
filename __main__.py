"""The swarm Pulumi program: a cluster on the stack's platform, its swarms and their SSH entry."""

import pulumi

from components.ssh_entry import SshEntry, render_ssh_config
from components.swarm_workloads import SwarmWorkloads
from stacks.catalog import load_catalog
from stacks.config_loader import parse_stack_config, read_pulumi_config, resource_prefix
from stacks.cost_estimate import estimate_or_none, estimate_output
from stacks.platform import build_cluster
from stacks.sizing import size_auto_pools
from stacks.swarm_outputs import swarm_outputs

values, secret_keys = read_pulumi_config()
config = parse_stack_config(values, f"Pulumi.{pulumi.get_stack()}.yaml", secret_keys)
name = resource_prefix(pulumi.get_project(), pulumi.get_stack())

protect = config.protect_for(pulumi.get_stack())

cluster = build_cluster(name, config, protect=protect)

in_cluster = pulumi.ResourceOptions(providers=[cluster.provider])
workloads = SwarmWorkloads(
    f"{name}-swarms",
    config.swarms,
    cluster.storage_class_name,
    pool_label=cluster.pool_label,
    pool_taints=config.pool_taints(),
    protect=protect,
    opts=in_cluster,
)
ssh_entry = SshEntry(
    f"{name}-ssh",
    config.swarms,
    service_type=cluster.ssh_service_type,
    port=cluster.ssh_port if cluster.ssh_service_type == "LoadBalancer" else 22,
    node_port=cluster.ssh_node_port,
    opts=in_cluster,
)

jump_alias = f"{name}-jump"
ssh_host = cluster.ssh_host if cluster.ssh_host is not None else ssh_entry.load_balancer_host
for key, value in cluster.outputs.items():
    pulumi.export(key, value)
pulumi.export("ssh_host", ssh_host)
pulumi.export(
    "ssh_config",
    ssh_host.apply(lambda host: render_ssh_config(jump_alias, host, cluster.ssh_port, config.swarms)),
)
pulumi.export("ssh_known_hosts", ssh_entry.host_public_key.apply(lambda key: f"{jump_alias} {key.strip()}\n"))
pulumi.export("swarm_namespaces", workloads.namespaces)

catalog = load_catalog()
estimated_cost = estimate_output(name, config, catalog)
if "unknown" in estimated_cost:
    pulumi.log.warn(f"no monthly cost estimate: {estimated_cost['unknown']}")
pulumi.export("estimatedMonthlyCost", estimated_cost)
auto_sized = size_auto_pools(config, catalog)
if auto_sized:
    pulumi.export("autoSizing", {choice.pool: choice.as_output() for choice in auto_sized})
pulumi.export("swarms", swarm_outputs(config, jump_alias, ssh_host, cluster.ssh_port, estimate_or_none(name, config, catalog)))
