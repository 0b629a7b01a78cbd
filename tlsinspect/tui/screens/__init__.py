"""Screens the App pushes over the flow list: statistics, help, the export choice."""
