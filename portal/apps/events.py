"""What happens to an app, for the domains above apps (analytics): blinker signals,
connected at app creation by ``portal.subscribers``; receivers run synchronously in the
sender's transaction."""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

# sender: the app's id; one view of its Registry page (web or API).
app_viewed = _signals.signal("app-viewed")
