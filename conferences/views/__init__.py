"""Screens of case meetings, support plans, the ward coordinator and the clocks' policies."""
