"""The supervisor, the agent step loop, recovery, and operator commands."""
