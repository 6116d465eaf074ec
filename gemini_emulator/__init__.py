"""A local, offline emulator of the Gemini Interactions API (and generateContent).

Standalone asyncio server (aiohttp); it imports nothing from Django or google.genai so it can run
anywhere. Start it with `python -m gemini_emulator`. See docs/emulator.md.
"""
