"""ASGI entry point: uvicorn serves this, so waiting patients never hold a thread."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "intake.settings")

application = get_asgi_application()

# Build the red-flag pipeline (spaCy + medspaCy, about a second) before the first patient message,
# not during it: the emergency message must never wait.
from intake import redflags  # noqa: E402

redflags.warm_up()
