"""Mocks that behave like the engine during `pulumi up`, with made-up computed outputs.

The offline plan behaves like a preview, where computed outputs stay unknown.
Tests that check rendered documents (cloud-init, Kubernetes objects, the
ssh_config) need those outputs known, so these mocks fill them in.
"""

from __future__ import annotations

import itertools
from typing import Optional

from pulumi.runtime import mocks

FAKE_KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority-data: ZmFrZQ==
    server: https://127.0.0.1:6443
  name: default
contexts:
- context:
    cluster: default
    user: default
  name: default
current-context: default
users:
- name: default
  user:
    client-certificate-data: ZmFrZQ==
    client-key-data: ZmFrZQ==
"""

FAKE_PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nZmFrZSBrZXk=\n-----END OPENSSH PRIVATE KEY-----\n"
FAKE_PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMqa+JhTDqe1GrXnRwnehHLoYzlGh92SCdn2yoaR2HoF"
FAKE_TOKEN = "k3s-token-from-random-password"
LOAD_BALANCER_IPV4 = "198.51.100.200"


class ApplyMocks(mocks.Mocks):
    """Mocks whose resources get numeric ids and plausible computed outputs."""

    def __init__(self) -> None:
        self._ids = itertools.count(1000)
        self._addresses = itertools.count(10)
        self.calls: list[mocks.MockCallArgs] = []

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[Optional[str], dict]:
        outputs = dict(args.inputs)
        if args.typ == "hcloud:index/primaryIp:PrimaryIp":
            outputs["ipAddress"] = f"198.51.100.{next(self._addresses)}"
        elif args.typ == "hcloud:index/loadBalancer:LoadBalancer":
            outputs["ipv4"] = LOAD_BALANCER_IPV4
        elif args.typ == "hcloud:index/server:Server":
            outputs["ipv4Address"] = f"198.51.100.{next(self._addresses)}"
        elif args.typ == "tls:index/privateKey:PrivateKey":
            outputs["privateKeyOpenssh"] = FAKE_PRIVATE_KEY
            outputs["publicKeyOpenssh"] = FAKE_PUBLIC_KEY + "\n"
        elif args.typ == "random:index/randomPassword:RandomPassword":
            outputs["result"] = f"{FAKE_TOKEN}-{args.name}"
        elif args.typ == "command:remote:Command":
            outputs["stdout"] = FAKE_KUBECONFIG
        elif args.typ == "digitalocean:index/kubernetesCluster:KubernetesCluster":
            outputs["kubeConfigs"] = [{"rawConfig": FAKE_KUBECONFIG, "token": "do-token"}]
        elif args.typ == "digitalocean:index/loadBalancer:LoadBalancer":
            outputs["ip"] = LOAD_BALANCER_IPV4
        return str(next(self._ids)), outputs

    def call(self, args: mocks.MockCallArgs) -> tuple[dict, list[tuple[str, str]]]:
        self.calls.append(args)
        if args.token == "digitalocean:index/getKubernetesVersions:getKubernetesVersions":
            prefix = args.args.get("versionPrefix") or "1.34."
            return {"latestVersion": f"{prefix}5-do.0", "validVersions": [f"{prefix}5-do.0"], "versionPrefix": prefix}, []
        return {}, []
