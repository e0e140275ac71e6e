"""Dashboards: aggregates that tie evaluation to business results, computed in SQL."""
