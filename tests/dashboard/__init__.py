"""Tests of the browser dashboard (planner.dashboard and app.py)."""
