"""Loading the price catalog."""

from __future__ import annotations

import yaml

from stacks.catalog import CATALOG_PATH, Catalog, load_catalog


def test_catalog_same_with_pure_python_parser():
    # load_catalog uses libyaml where PyYAML has it; the catalog must read the same either way.
    expected = Catalog.model_validate(yaml.load(CATALOG_PATH.read_text(), Loader=yaml.SafeLoader))

    assert load_catalog() == expected
    assert len(load_catalog().prices) == len(expected.prices)
