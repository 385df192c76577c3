"""The ctrl+p palette: the panes, the whole-room actions, and each agent and approval by id,
through the same commands as the `:` command line (`ui.commands`)."""

from __future__ import annotations

from collections.abc import Callable

from textual.command import DiscoveryHit, Hit, Hits, Provider

from controlroom.ui.commands import PANES, Command
from controlroom.ui.literal import visible


class ControlRoomCommands(Provider):
    """Jump to a pane or an agent, decide an approval, pull the kill switch."""

    def _entries(self) -> list[tuple[str, Command, str]]:
        from controlroom.ui.app import ControlRoomApp

        app = self.app
        assert isinstance(app, ControlRoomApp)
        entries: list[tuple[str, Command, str]] = [
            (f"Show {pane}", Command(pane), f":{pane}") for pane in PANES
        ]
        entries.append(("Kill switch: pause every agent", Command("kill-switch"), ":kill-switch"))
        entries.append(("Help: every key", Command("help"), ":help"))
        for agent_id in list(app.room.agents)[:2_000]:
            shown = visible(agent_id, 60)
            entries.append((f"Open agent {shown}", Command("agent", agent_id), f":agent {shown}"))
        for approval in list(app.room.approvals.values())[:500]:
            what = (
                f"#{approval.id} {visible(approval.tool, 30)} for {visible(approval.agent_id, 40)}"
            )
            entries.append((f"Approve {what}", Command("approve", str(approval.id)), ""))
            entries.append((f"Deny {what}", Command("deny", str(approval.id)), ""))
        return entries

    def _run(self, command: Command) -> Callable[[], None]:
        from controlroom.ui.app import ControlRoomApp

        def run() -> None:
            app = self.app
            main = app.main_screen if isinstance(app, ControlRoomApp) else None
            if main is not None:
                while app.screen is not main:
                    app.pop_screen()
                main.run_command(command)

        return run

    async def discover(self) -> Hits:
        for title, command, help_text in self._entries()[: len(PANES) + 2]:
            yield DiscoveryHit(title, self._run(command), help=help_text or None)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, command, help_text in self._entries():
            score = matcher.match(title)
            if score > 0:
                yield Hit(
                    score, matcher.highlight(title), self._run(command), help=help_text or None
                )
