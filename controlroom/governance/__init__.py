"""The gate between an agent's intentions and its actions."""
