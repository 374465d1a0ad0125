"""Names and limits of DigitalOcean that the DOKS config depends on.

Regions and Droplet size slugs are the `Region` and `DropletSlug` enums of
the pinned pulumi-digitalocean SDK (4.84.1, read on 2026-12-04), so a new
region or size arrives with an SDK upgrade.
"""

from __future__ import annotations

import pulumi_digitalocean as digitalocean

from stacks.config_checks import nearest_name

REGIONS: tuple[str, ...] = tuple(region.value for region in digitalocean.Region)
DROPLET_SIZES: tuple[str, ...] = tuple(size.value for size in digitalocean.DropletSlug)


def check_region(region: str) -> str:
    """Validate a DigitalOcean region slug, suggesting the nearest known one."""
    if region in REGIONS:
        return region
    nearest = nearest_name(region, REGIONS)
    hint = f" (nearest: {nearest})" if nearest else ""
    raise ValueError(f"must be a DigitalOcean region: one of {', '.join(REGIONS)}{hint}")


def check_droplet_size(size: str) -> str:
    """Validate a Droplet size slug, suggesting the nearest known one."""
    if size in DROPLET_SIZES:
        return size
    nearest = nearest_name(size, DROPLET_SIZES)
    hint = f"; nearest: {nearest}" if nearest else ""
    raise ValueError(f"must be a DigitalOcean Droplet size slug such as s-2vcpu-4gb{hint}")
