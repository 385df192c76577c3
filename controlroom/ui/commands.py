"""The `:` command line and the ctrl+p palette share one vocabulary, parsed here.

`:agents` jumps to a pane, `:agent ID` opens an agent, `:pause ID` acts. A command names its
target explicitly, so what it acts on never depends on where the cursor happens to be.
"""

from __future__ import annotations

from dataclasses import dataclass

PANES: tuple[str, ...] = ("agents", "approvals", "calls", "budgets", "breakers", "alerts")
AGENT_VERBS: tuple[str, ...] = ("pause", "resume", "terminate", "quarantine")
DECISION_VERBS: tuple[str, ...] = ("approve", "deny")

# (usage, what it does): the help screen and the palette list these.
VOCABULARY: tuple[tuple[str, str], ...] = (
    *((f":{pane}", f"show the {pane} pane") for pane in PANES),
    (":agent ID", "open an agent's detail"),
    (":approve ID", "approve approval ID"),
    (":deny ID [NOTE]", "deny approval ID, with an optional note"),
    (":pause AGENT", "pause an agent (id, or a name for all its agents)"),
    (":resume AGENT", "resume a paused agent"),
    (":terminate AGENT", "terminate an agent (asks you to type its name)"),
    (":quarantine AGENT", "hold an agent's outputs for review"),
    (":kill-switch", "pause every agent (asks you to type KILL)"),
    (":filter TEXT", "show only rows mentioning TEXT (empty: all)"),
    (":help", "the keys"),
    (":quit", "leave; agents stay checkpointed"),
)


class CommandError(ValueError):
    """A command line that does not parse; the message says what was expected."""


@dataclass(frozen=True)
class Command:
    """A parsed command: its verb and arguments."""

    verb: str
    target: str = ""
    text: str = ""


def parse(line: str) -> Command:
    """Parse a command line (with or without its leading `:`)."""
    words = line.strip().removeprefix(":").strip().split(maxsplit=2)
    if not words:
        raise CommandError("empty command; try :help")
    verb, rest = words[0].lower(), words[1:]
    if verb in PANES or verb in ("help", "quit", "kill-switch"):
        if rest:
            raise CommandError(f":{verb} takes no argument")
        return Command(verb)
    if verb == "filter":
        return Command(verb, text=" ".join(rest))
    if verb in ("agent", *AGENT_VERBS):
        if len(rest) != 1:
            raise CommandError(f":{verb} needs one agent id")
        return Command(verb, rest[0])
    if verb in DECISION_VERBS:
        if not rest or not rest[0].isdigit():
            raise CommandError(f":{verb} needs an approval number, e.g. :{verb} 12")
        if verb == "approve" and len(rest) > 1:
            raise CommandError(":approve takes only an approval number")
        return Command(verb, rest[0], " ".join(rest[1:]))
    raise CommandError(f"unknown command :{verb}; try :help")
