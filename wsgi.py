"""The WSGI entry point: `flask --app wsgi …`, `gunicorn wsgi:app`."""

from cms import create_app

app = create_app()
