"""The model endpoints a supervisor serves: the built-in `openai` and `anthropic`, plus
those the policy files add (`[endpoints.NAME]`), as the providers' settings."""

from __future__ import annotations

from collections.abc import Mapping

from controlroom.governance.policy_loader import PolicySet
from controlroom.providers.endpoint import Timeouts
from controlroom.providers.registry import DEFAULT_ENDPOINTS, EndpointSettings


def endpoints_of(policies: PolicySet) -> Mapping[str, EndpointSettings]:
    """The defaults, overridden or extended by the policies' endpoints."""
    configured = {
        name: EndpointSettings(
            config.api,
            config.base_url.rstrip("/"),
            config.key_env,
            max_tokens=config.max_tokens,
            timeouts=Timeouts(total_s=config.timeout_s, read_s=min(120.0, config.timeout_s)),
        )
        for name, config in policies.endpoints.items()
    }
    return {**DEFAULT_ENDPOINTS, **configured}
