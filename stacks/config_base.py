"""Shared pieces of the config models: the base model and the coerced value types."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from stacks.config_checks import quantity_text, whole_number

# The StatefulSet controller labels pods with their ordinal from Kubernetes
# 1.28 on, and SWARM_NODE_ID is read from that label.
MIN_KUBERNETES_MINOR = 28

# Every resource name starts with the prefix <project>-<stack>, which may
# have at most this many characters, so that server and node names stay
# within their limits.
MAX_RESOURCE_PREFIX_LENGTH = 30

WholeNumber = Annotated[int, BeforeValidator(whole_number)]
QuantityText = Annotated[str, BeforeValidator(quantity_text)]


class ConfigModel(BaseModel):
    """Base of every config model: camelCase keys, unknown keys rejected, immutable."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        # Python code and tests build models by field name. Stack files are
        # parsed by alias only (see parse_stack_config), so a snake_case key
        # in a stack file is an unknown key.
        populate_by_name=True,
        extra="forbid",
        frozen=True,
    )


class Autoscale(ConfigModel):
    """Bounds of the cluster autoscaler for one node pool: at least `min` and at most `max` nodes."""

    min: WholeNumber = Field(ge=1, examples=[1])
    max: WholeNumber = Field(ge=1, examples=[3])

    @model_validator(mode="after")
    def _min_not_above_max(self) -> Autoscale:
        if self.min > self.max:
            raise ValueError(
                f"autoscale.min = {self.min} is above autoscale.max = {self.max}; "
                "set min to at most max, or raise max"
            )
        return self


def duplicates(names: list[str]) -> list[str]:
    """Return the names that occur more than once, sorted."""
    return sorted({name for name in names if names.count(name) > 1})


def last_index(names: list[str], name: str) -> int:
    """Return the index of the last occurrence of `name`, the one a rename should change."""
    return len(names) - 1 - names[::-1].index(name)
