"""Widgets shared by the screens: nav bar, stream view, slice tables and text charts."""
