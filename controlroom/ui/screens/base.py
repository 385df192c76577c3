"""What every screen of the control room shares: typed access to the app that holds the
room, the store and the operator."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.screen import Screen

if TYPE_CHECKING:
    from controlroom.ui.app import ControlRoomApp


class RoomScreen(Screen[None]):
    """A screen of the control room."""

    @property
    def control(self) -> ControlRoomApp:
        """The app, as the control room (imported late: the app module imports screens)."""
        from controlroom.ui.app import ControlRoomApp

        app = self.app
        assert isinstance(app, ControlRoomApp)
        return app
