"""The control room: the Textual app on-call engineers use to watch and steer agents.

The only package that imports Textual. `app.py` wires it (`make_app`, used by the CLI and the
tests); `data.py` is its one door to the store; screens own layout; widgets render state and
post messages; `literal.py` makes sure whatever agents, tools and models wrote is shown as
written, never interpreted.
"""
