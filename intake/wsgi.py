"""WSGI entry point, for servers that cannot speak ASGI (the chat then streams less well)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "intake.settings")

application = get_wsgi_application()
