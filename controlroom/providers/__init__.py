"""Model providers behind one small protocol (`Model`).

`base` defines the protocol, `scripted` the offline model. The HTTP providers are split by
concern: `openai` and `anthropic` are the two wire formats (pure), `http_model` the `Model`
that speaks one, `endpoint` the shared client with its retries, `breaker` the per-endpoint
circuit breaker, `failures` the classified error, and `registry` turns an agent's `model`
string ("scripted", "openai:gpt-4o-mini", ...) into a model.
"""
