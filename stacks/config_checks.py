"""Checks of single config values: names, quantities, SSH keys, CIDRs, images.

Each check returns the value it accepts, possibly normalised, and raises
`ValueError` with what is allowed, which the config models attach to the key.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import ipaddress
import json
import re
from decimal import Decimal
from typing import Any, Iterable, Optional

# A DNS-1123 label. Swarm and pool names become parts of Kubernetes object
# names and Hetzner server names, so they must be valid in both.
_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")

# Kubernetes resource quantities as the API server accepts them for CPU,
# memory and storage requests (decimal and binary SI suffixes, millicores).
_QUANTITY = re.compile(r"^(\d+(\.\d+)?|\.\d+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
_BINARY_FACTORS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL_FACTORS = {"m": 1e-3, "": 1, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}

# Key types that OpenSSH 9 accepts in authorized_keys, with the length of the
# public key field for the types whose length is fixed.
SSH_KEY_TYPES = (
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
)
_ED25519_KEY_BYTES = 32

# Hetzner private networks must lie in the RFC 1918 ranges.
_RFC1918 = [ipaddress.ip_network(cidr) for cidr in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")]

# K3s's default cluster (pod) and service CIDRs, which the node network must not overlap.
K3S_CLUSTER_CIDR = ipaddress.ip_network("10.42.0.0/16")
K3S_SERVICE_CIDR = ipaddress.ip_network("10.43.0.0/16")

_IMAGE_REFERENCE = re.compile(r"^[a-z0-9][a-z0-9._\-/:@]*$", re.IGNORECASE)


def nearest_name(value: str, known: Iterable[str]) -> Optional[str]:
    """Return the known name closest to a mistyped one, compared in lowercase, or None when none is close."""
    matches = difflib.get_close_matches(value.lower(), list(known), n=1)
    return matches[0] if matches else None


def whole_number(value: Any) -> Any:
    """Accept an integer, or a string of digits as `pulumi config set` stores scalars, but no boolean."""
    if isinstance(value, bool):
        raise ValueError("must be a whole number, not true or false")
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return value


def quantity_text(value: Any) -> Any:
    """Accept a number for a quantity field, because YAML and `pulumi config set --path` store 1 as a number."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return str(value)
    return value


def parse_quantity(quantity: str) -> float:
    """Convert a Kubernetes quantity such as `500m`, `2Gi` or `1.5` to a number of base units."""
    return float(parse_quantity_exact(quantity))


def parse_quantity_exact(quantity: str) -> Decimal:
    """Convert a Kubernetes quantity to a Decimal number of base units, without binary floating point rounding."""
    match = _QUANTITY.match(quantity)
    if match is None:
        raise ValueError(f"invalid Kubernetes quantity {quantity!r}")
    number, suffix = Decimal(match.group(1)), match.group(3) or ""
    factor = _BINARY_FACTORS.get(suffix) or _DECIMAL_FACTORS[suffix]
    return number * Decimal(str(factor))


def check_dns_label(value: str, max_length: int) -> str:
    if len(value) > max_length:
        raise ValueError(f"must be at most {max_length} characters, got {len(value)}")
    if not _DNS_LABEL.match(value):
        raise ValueError(
            "must be lowercase letters, digits and '-', start with a letter and end with a letter or digit"
        )
    return value


def check_quantity(value: str, example: str, minimum: str) -> str:
    if not isinstance(value, str) or not _QUANTITY.match(value):
        raise ValueError(f"must be a Kubernetes quantity such as {example}")
    if parse_quantity(value) < parse_quantity(minimum):
        raise ValueError(f"must be at least {minimum}, such as {example}")
    return value


def _ssh_wire_fields(blob: bytes) -> list[bytes]:
    """Split an SSH public key blob into its length-prefixed fields, rejecting a cut or padded blob."""
    fields = []
    offset = 0
    while offset < len(blob):
        if offset + 4 > len(blob):
            raise ValueError("truncated")
        length = int.from_bytes(blob[offset : offset + 4], "big")
        offset += 4
        if offset + length > len(blob):
            raise ValueError("truncated")
        fields.append(blob[offset : offset + length])
        offset += length
    return fields


def check_ssh_public_key(key: str) -> str:
    if "PRIVATE KEY" in key:
        raise ValueError("is a private key: paste the content of the .pub file instead")
    if "\n" in key.strip():
        raise ValueError("contains a line break: give each key as its own list item")
    fields = key.split()
    if len(fields) < 2 or fields[0] not in SSH_KEY_TYPES:
        raise ValueError(
            "must be an OpenSSH public key line such as 'ssh-ed25519 AAAAC3... user@host' "
            f"(key types: {', '.join(SSH_KEY_TYPES)})"
        )
    try:
        blob = base64.b64decode(fields[1], validate=True)
        wire_fields = _ssh_wire_fields(blob)
    except (binascii.Error, ValueError):
        raise ValueError("has a key body that is not a complete base64 SSH key; copy the whole line again") from None
    # The blob starts with its own key type, which catches a body pasted
    # under the wrong type.
    if not wire_fields or wire_fields[0] != fields[0].encode():
        raise ValueError(f"has a key body that is not a {fields[0]} key")
    if fields[0] == "ssh-ed25519" and (len(wire_fields) != 2 or len(wire_fields[1]) != _ED25519_KEY_BYTES):
        raise ValueError("has an ed25519 key body of the wrong length; copy the whole line again")
    return key.strip()


def check_admin_cidr(cidr: str) -> str:
    if "/" not in cidr:
        try:
            address = ipaddress.ip_address(cidr)
        except ValueError:
            raise ValueError("must be a CIDR such as 203.0.113.7/32") from None
        raise ValueError(f"needs a prefix length, such as {address}/{address.max_prefixlen}")
    try:
        network = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        raise ValueError("must be a CIDR such as 203.0.113.7/32") from None
    if str(network) != cidr:
        raise ValueError(f"has host bits set or extra characters; the network is {network}")
    return cidr


def world_open_ranges(cidrs: list[str]) -> list[str]:
    """Return 0.0.0.0/0 and ::/0 where the CIDRs, alone or together, cover the whole address space."""
    open_ranges = []
    for version, everything in ((4, "0.0.0.0/0"), (6, "::/0")):
        networks = [ipaddress.ip_network(cidr) for cidr in cidrs if ipaddress.ip_network(cidr).version == version]
        if ipaddress.ip_network(everything) in ipaddress.collapse_addresses(networks):
            open_ranges.append(everything)
    return open_ranges


def check_admin_cidr_list(cidrs: list[str], allow_public: bool) -> list[str]:
    duplicates = sorted({cidr for cidr in cidrs if cidrs.count(cidr) > 1})
    if duplicates:
        raise ValueError(f"lists {', '.join(duplicates)} more than once; remove the repeats")
    open_ranges = world_open_ranges(cidrs)
    if open_ranges and not allow_public:
        raise ValueError(
            f"swarm:adminCidrs = {json.dumps(cidrs)} covers {' and '.join(open_ranges)}, which opens the "
            "Kubernetes API and node SSH to the whole internet; list your own addresses, or set "
            "swarm:allowPublicAdmin to true if that is what you want"
        )
    return cidrs


def check_node_network(value: str) -> str:
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError:
        raise ValueError("must be an IPv4 CIDR with zero host bits, such as 10.0.0.0/16") from None
    if network.version != 4 or not any(network.subnet_of(private) for private in _RFC1918):
        raise ValueError("must lie in 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16, as Hetzner requires")
    if network.prefixlen > 24:
        raise ValueError("must be a /24 or larger, such as 10.0.0.0/16")
    for k3s_range, purpose in ((K3S_CLUSTER_CIDR, "pod"), (K3S_SERVICE_CIDR, "service")):
        if network.overlaps(k3s_range):
            raise ValueError(f"overlaps {k3s_range}, the K3s {purpose} network; use 10.0.0.0/16")
    return value


def check_image_reference(value: str) -> str:
    if not _IMAGE_REFERENCE.match(value):
        raise ValueError("must be a non-empty image reference without spaces, such as ubuntu-24.04 or registry/name:tag")
    return value


_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_HOST_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*$")


def check_dns_subdomain(value: str) -> str:
    """Accept a Kubernetes object name such as a storage class name (a DNS-1123 subdomain)."""
    if len(value) > 253 or not _DNS_SUBDOMAIN.match(value):
        raise ValueError("must be a Kubernetes object name: lowercase letters, digits, '-' and '.', such as local-path")
    return value


def check_host_address(value: str) -> str:
    """Accept an IP address or a host name, the forms that ssh_config's HostName takes."""
    try:
        ipaddress.ip_address(value)
        return value
    except ValueError:
        pass
    if len(value) > 253 or not _HOST_NAME.match(value):
        raise ValueError("must be an IP address or a host name without port or spaces, such as 127.0.0.1")
    return value
