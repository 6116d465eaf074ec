"""QR codes for patient links, drawn locally as SVG (no outside service ever sees the link)."""

from __future__ import annotations

import qrcode
import qrcode.image.svg


def qr_svg(data: str) -> str:
    """An inline <svg> of `data`, sized by CSS, with a title for assistive technology."""
    image = qrcode.make(
        data,
        image_factory=qrcode.image.svg.SvgPathImage,
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        border=2,
    )
    svg = image.to_string(encoding="unicode")
    # Size comes from CSS (class qr); a fixed mm size would not scale with the page.
    svg = svg.replace('width="', 'data-w="', 1).replace('height="', 'data-h="', 1)
    return svg.replace("<svg ", '<svg class="qr" role="img" aria-label="QR code of the patient link" ', 1)
