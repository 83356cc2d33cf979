"""The benchmark's yardsticks, served by gunicorn with the portal's own settings file:
``/bare`` (a bare Flask route) and ``/minimal`` (two indexed queries on the benchmark
database and a 20-row template). Not part of the portal."""

from __future__ import annotations

import os

import sqlalchemy as sa
from flask import Flask

from portal.config import normalise_database_url
from portal.core.db import ping_idle_connections

app = Flask(__name__)
engine = sa.create_engine(normalise_database_url(os.environ["QH_DATABASE_URL"]), pool_size=10)
ping_idle_connections(engine)  # the portal's pool settings
PAGE = app.jinja_env.from_string(
    """<!doctype html><html lang="en"><head><title>Apps</title></head><body>
<p>Signed in as {{ user.username }}</p><table>
{% for row in rows %}<tr><td>{{ row.name }}</td><td>{{ row.description }}</td>
<td>{{ row.created_at.strftime('%Y-%m-%d') }}</td></tr>{% endfor %}
</table></body></html>"""
)
USER = sa.text("SELECT id, username FROM users WHERE username = :name")
APPS = sa.text(
    "SELECT id, name, description, created_at FROM quantum_apps "
    "WHERE is_in_registry AND visibility = 'PUBLIC' ORDER BY created_at DESC LIMIT 20"
)


@app.get("/bare")
def bare():
    return "ok"


@app.get("/minimal")
def minimal():
    with engine.connect() as conn:
        user = conn.execute(USER, {"name": "bench1"}).one()
        rows = conn.execute(APPS).all()
    return PAGE.render(user=user, rows=rows)
