"""``tastypy serve``: watch a tracker's job in the browser.

One standard-library HTTP server, one self-contained page (``page.html``)
and JSON endpoints over a read-only view of the job (``watch.py``), kept up
to date by reading only what changed since the last refresh; rates and the
ETA come from what the server observed (``history.py``).
"""

from tastypy.serve.server import Server

__all__ = ["Server"]
