"""ASGI entry point: uvicorn serves this, so waiting patients never hold a thread."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "intake.settings")

application = get_asgi_application()
