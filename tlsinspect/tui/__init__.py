"""The Textual front end (`tlsinspect read FILE` / `live -i IF` on a terminal): see app.py."""
